/**
 * A wide CSV file read a piece at a time (1 MB of text) and written as a spectra
 * table batch by batch: never the whole text, never all rows. The checks, messages
 * and resulting bytes are those of parseCsv + assembleWide + writeSpectra.
 */
import { createReadStream } from 'node:fs';
import { StageError } from '../../core/stage-api.js';
import type { LoadOptions } from './assemble.js';
import { checkHeader, checkHeaderNul, checkRowLength, checkRowNul, nulOutsideRecords } from './csv-parse.js';
import { CsvTokenizer, type CsvRecord } from './csv-tokenizer.js';
import { rawFromCsv } from './raw-table.js';
import { writeWideStreamed, type RowBatch, type StreamedLoad } from './wide-stream.js';

const PIECE_BYTES = 1 << 20;

/** The records of a CSV file, a piece of text at a time, with the bytes read so far. */
async function* csvRecordPieces(path: string, file: string, tokenizer: CsvTokenizer, pieceBytes: number): AsyncGenerator<{ records: CsvRecord[]; bytes: number }> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: pieceBytes });
  try {
    for await (const piece of stream as AsyncIterable<string>) {
      const records = tokenizer.push(piece);
      if (records.length > 0) yield { records, bytes: stream.bytesRead };
    }
  } catch (e) {
    if (e instanceof StageError) throw e;
    throw new StageError(`cannot read file: ${(e as Error).message}`, file);
  } finally {
    stream.destroy();
  }
  const last = tokenizer.end();
  if (last.length > 0) yield { records: last, bytes: stream.bytesRead };
}

export async function loadCsvStreamed(
  path: string, file: string, delimiter: string, opts: LoadOptions, output: string,
  progress: (bytesRead: number, rowsRead: number) => void, pieceBytes = PIECE_BYTES,
): Promise<StreamedLoad> {
  const tokenizer = new CsvTokenizer(file, delimiter);
  const pieces = csvRecordPieces(path, file, tokenizer, pieceBytes);
  let pending: { records: CsvRecord[]; bytes: number } | undefined;
  while (!pending || pending.records.length === 0) {
    const next = await pieces.next();
    if (next.done) throw new StageError('the file is empty (no header line)', file);
    pending = next.value;
  }
  const head = pending.records.shift()!;
  const header = checkHeader(head, file);
  checkHeaderNul(head, file);
  /** The line each data row starts on, to name an earlier row in a later batch's error. */
  const lines: number[] = [];
  async function* batches(): AsyncGenerator<RowBatch> {
    let row = 0;
    for (let piece = pending; piece; ) {
      const { records } = piece;
      const first = row;
      for (const r of records) {
        row++;
        checkRowLength(r, row, header, file);
        checkRowNul(r, row, header, file);
        lines.push(r.line);
      }
      if (records.length > 0) yield { raw: rawFromCsv(file, header, records.map((r) => r.fields), records.map((r) => r.line), head.line, first), first };
      progress(piece.bytes, row);
      const next = await pieces.next();
      piece = next.done ? undefined : next.value;
    }
    if (row > 0 && tokenizer.sawNul) throw nulOutsideRecords(file);
  }
  return writeWideStreamed({
    head: rawFromCsv(file, header, [], [], head.line),
    batches: batches(),
    rowLabel: (r) => `row ${r + 1} (line ${lines[r]})`,
    empty: 'the file has a header but no data rows',
  }, opts, output);
}
