/**
 * A CSV file's header and rows, checked: the header's names (non-empty, unique),
 * every row as long as the header, no NUL characters. `parseCsv` does it for a
 * whole text in memory; the streamed loader applies the same checks record by
 * record (`checkHeader`, `checkRecord`). Tokenizing is csv-tokenizer's.
 */
import { StageError } from '../../core/stage-api.js';
import { CsvTokenizer, type CsvRecord } from './csv-tokenizer.js';

export { detectDelimiter } from './csv-tokenizer.js';

export interface CsvText {
  header: string[];
  rows: string[][];
  /** 1-based line number in the file where each data row starts. */
  lines: number[];
  headerLine: number;
  delimiter: string;
}

export function parseCsv(text: string, file: string, delimiter = 'auto'): CsvText {
  const tokenizer = new CsvTokenizer(file, delimiter);
  const records = [...tokenizer.push(text), ...tokenizer.end()];
  if (records.length === 0) throw new StageError('the file is empty (no header line)', file);
  const [head, ...body] = records;
  const header = checkHeader(head!, file);
  // NULs first: UTF-16 text (every other byte 0) breaks into ragged rows, and "ragged row" would hide the cause.
  if (tokenizer.sawNul) throwAtNul(head!, body, header, file);
  if (body.length === 0) throw new StageError('the file has a header but no data rows', file);
  body.forEach((r, k) => checkRowLength(r, k + 1, header, file));
  return { header, rows: body.map((r) => r.fields), lines: body.map((r) => r.line), headerLine: head!.line, delimiter: tokenizer.delimiter };
}

/**
 * The header's column names, trimmed; an empty or repeated name is an error, and so is a line break
 * inside a quoted name (a lost closing quote swallows the next lines into it; every later message
 * naming the column would run over several lines).
 */
export function checkHeader(head: CsvRecord, file: string): string[] {
  const header = head.fields.map((h) => h.trim());
  header.forEach((h, c) => {
    if (h === '') throw new StageError(`column ${c + 1} has an empty name`, `${file} line ${head.line}`);
    if (/[\r\n]/.test(h)) throw new StageError(`column ${c + 1}'s name holds a line break (a quote not closed?)`, `${file} line ${head.line}`);
    const first = header.indexOf(h);
    if (first !== c) throw new StageError(`duplicate column name "${h}" (columns ${first + 1} and ${c + 1})`, `${file} line ${head.line}`);
  });
  return header;
}

/** Data row number `row` (1-based) must have as many fields as the header. */
export function checkRowLength(r: CsvRecord, row: number, header: string[], file: string): void {
  if (r.fields.length === header.length) return;
  throw new StageError(
    `ragged row: ${r.fields.length} fields, the header has ${header.length}`,
    `${file} row ${row} (line ${r.line}), column ${r.fields.length < header.length ? `"${header[r.fields.length]}"` : r.fields.length}`,
  );
}

const NUL_HINT = 'a NUL byte (\\0) in the cell; the file may be binary or UTF-16 (save it as UTF-8)';

/** The header's NUL check (run once the header is read). */
export function checkHeaderNul(head: CsvRecord, file: string): void {
  const c = head.fields.findIndex((f) => f.includes('\0'));
  if (c >= 0) throw new StageError(NUL_HINT, `${file} line ${head.line} (header), column ${c + 1}`);
}

/** A data row's NUL check. */
export function checkRowNul(r: CsvRecord, row: number, header: string[], file: string): void {
  const col = r.fields.findIndex((f) => f.includes('\0'));
  if (col >= 0) throw new StageError(NUL_HINT, `${file} row ${row} (line ${r.line}), column "${header[col]}"`);
}

/** A NUL seen only outside any record (e.g. in a comment line). */
export function nulOutsideRecords(file: string): StageError {
  return new StageError(NUL_HINT, file);
}

/** An invisible NUL byte would otherwise surface as a baffling `"12" is not a number`. */
function throwAtNul(head: CsvRecord, body: CsvRecord[], header: string[], file: string): never {
  checkHeaderNul(head, file);
  body.forEach((r, k) => checkRowNul(r, k + 1, header, file));
  throw nulOutsideRecords(file);
}
