/**
 * Arrow IPC in record batches, so that no stage ever needs a whole table in memory.
 *
 * - `IpcFileWriter` writes the IPC *file* format (magic `ARROW1`, footer) batch by
 *   batch straight to disk through apache-arrow's RecordBatchFileWriter; every
 *   table specflow writes goes through it (arrow-io's writers too), cut into batches
 *   of `batchRows(...)` rows, so a table written from memory and the same table
 *   written while streaming are the same bytes.
 * - `readBatches` yields a file's record batches one at a time (apache-arrow's
 *   AsyncRecordBatchFileReader reads each batch at its file offset).
 * - `RowFile` reads arbitrary rows of a FixedSizeList<Float32> column with
 *   positioned reads (the byte offset of row r is known from the batch metadata),
 *   for training on a shuffled order without loading the table.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import {
  DataType, Field, FixedSizeList, makeData, Message, RecordBatch, Struct, RecordBatchFileWriter, RecordBatchReader, Schema, Type,
  type Data,
} from 'apache-arrow';
import { AsyncByteQueue } from 'apache-arrow/io/stream';

/**
 * Bytes of one float32 column per record batch when nothing else is asked for. A streaming
 * stage holds a few batches and their float64 working copies at once (~20× this, measured
 * on preprocess), so 4 MB keeps it near 100 MB; 16 MB batches peaked at 4× that.
 */
const BATCH_BYTES = 1 << 22;

/**
 * Rows per record batch for rows of `width` float32 values (≈ 4 MB a batch), or
 * SPECFLOW_BATCH_ROWS when set (tests use a small value to cross many batches).
 */
export function batchRows(width: number): number {
  const forced = Number(process.env.SPECFLOW_BATCH_ROWS);
  if (Number.isInteger(forced) && forced > 0) return forced;
  // and 1024–8192 rows: per-row objects (ids, row views) weigh too when rows are short
  return Math.min(8192, Math.max(1024, Math.floor(BATCH_BYTES / (4 * Math.max(1, width)))));
}

/**
 * Should a stage stream a table of n rows × width float32 values rather than load it?
 * Above SPECFLOW_STREAM_MB megabytes (default 128) it does; SPECFLOW_STREAM=always|never
 * overrides. Both paths give the same bits, so this never enters a content key.
 */
export function shouldStream(n: number, width: number): boolean {
  return shouldStreamBytes(n * width * 4);
}

/** The same switch for data of `bytes` bytes (a text file is judged by its size). */
export function shouldStreamBytes(bytes: number): boolean {
  const mode = process.env.SPECFLOW_STREAM;
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  const mb = Number(process.env.SPECFLOW_STREAM_MB);
  const limit = (Number.isFinite(mb) && mb >= 0 ? mb : 128) * 1024 * 1024;
  return bytes > limit;
}

/** An AsyncByteQueue that hands each chunk to the file at once instead of queueing it. */
class FileSink extends AsyncByteQueue {
  constructor(private readonly fd: number) {
    super();
  }
  override write(value: unknown): void {
    const bytes = value as Uint8Array;
    let at = 0;
    while (at < bytes.byteLength) at += writeSync(this.fd, bytes, at, bytes.byteLength - at);
  }
}

/** Writes one IPC file, record batch by record batch; call `close()` to write the footer. */
export class IpcFileWriter {
  private readonly fd: number;
  private readonly writer = new RecordBatchFileWriter();
  private closed = false;
  rows = 0;

  constructor(path: string, readonly schema: Schema) {
    this.fd = openSync(path, 'w');
    this.writer.reset(new FileSink(this.fd) as never, schema);
  }

  /** One record batch from column data (in schema order), all of `length` rows. */
  write(children: Data[], length: number): void {
    const struct = makeStruct(this.schema.fields, children, length) as Data<Struct>;
    this.writer.write(new RecordBatch(this.schema, struct));
    this.rows += length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.writer.finish();
    } finally {
      closeSync(this.fd);
    }
  }

  /** Close without caring about the file (it is in a temp entry that will be discarded). */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

function makeStruct(fields: Field[], children: Data[], length: number): Data {
  return makeData({ type: new Struct(fields), length, nullCount: 0, children });
}

/** The record batches of an IPC file (or stream), one at a time, with the schema first. */
export async function* readBatches(path: string): AsyncGenerator<RecordBatch> {
  const handle = await open(path, 'r');
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    for await (const batch of reader) yield batch;
  } finally {
    await handle.close();
  }
}

/** Schema and row counts of an IPC file without reading any batch body. */
export async function readSchema(path: string): Promise<Schema> {
  const handle = await open(path, 'r');
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    return reader.schema;
  } finally {
    await handle.close();
  }
}

interface BatchPlace {
  /** First row of the batch in the table. */
  start: number;
  length: number;
  /** File position of each requested column's float32 values. */
  positions: number[];
}

/**
 * Positioned reads of whole rows of FixedSizeList<Float32> columns from an
 * uncompressed IPC file: the only way to feed a shuffled training order from a
 * table larger than memory. `open` returns undefined for files it cannot address
 * (stream format, compressed bodies, other value types, nulls); callers then load the table.
 */
export class RowFile {
  private constructor(
    private readonly fd: number,
    readonly n: number,
    readonly d: number,
    private readonly places: BatchPlace[],
    readonly columns: string[],
  ) {}

  static async open(path: string, columns: string[]): Promise<RowFile | undefined> {
    const handle = await open(path, 'r');
    let footerBlocks: { offset: number; metaDataLength: number }[];
    let schema: Schema;
    try {
      const reader = await RecordBatchReader.from(handle);
      await reader.open();
      const footer = reader.footer;
      if (!footer) return undefined;
      schema = reader.schema;
      footerBlocks = [...footer.recordBatches()].map((b) => ({ offset: Number(b.offset), metaDataLength: b.metaDataLength }));
    } finally {
      await handle.close();
    }
    const fieldIndex = columns.map((c) => schema.fields.findIndex((f) => f.name === c));
    if (fieldIndex.some((i) => i < 0)) return undefined;
    let d = -1;
    for (const i of fieldIndex) {
      const type = schema.fields[i]!.type;
      if (type.typeId !== Type.FixedSizeList) return undefined;
      const child = (type as FixedSizeList).children[0]!.type;
      if (!DataType.isFloat(child) || (child as { precision: number }).precision !== 1) return undefined;
      const size = (type as FixedSizeList).listSize;
      if (d >= 0 && size !== d) return undefined;
      d = size;
    }
    // Buffer and node indices where each requested column starts (depth-first over the schema).
    const firstBuffer: number[] = [];
    const firstNode: number[] = [];
    let buffers = 0;
    let nodes = 0;
    for (const field of schema.fields.slice(0, Math.max(...fieldIndex) + 1)) {
      firstBuffer.push(buffers);
      firstNode.push(nodes);
      const counted = countLayout(field.type);
      if (!counted) return undefined;
      buffers += counted.buffers;
      nodes += counted.nodes;
    }
    const fd = openSync(path, 'r');
    const places: BatchPlace[] = [];
    let start = 0;
    try {
      for (const block of footerBlocks) {
        const meta = Buffer.alloc(block.metaDataLength);
        readFully(fd, meta, block.offset);
        // Message framing: optional continuation marker 0xFFFFFFFF, int32 length, flatbuffer.
        let at = 0;
        if (meta.readInt32LE(0) === -1) at = 4;
        const len = meta.readInt32LE(at);
        const message = Message.decode(meta.subarray(at + 4, at + 4 + len));
        if (!message.isRecordBatch()) throw new Error('not a record batch');
        const header = message.header();
        if (header.compression) {
          closeSync(fd);
          return undefined;
        }
        const body = block.offset + block.metaDataLength;
        const positions: number[] = [];
        for (const i of fieldIndex) {
          // FixedSizeList: [validity] then its Float32 child: [validity, values]
          const listNode = header.nodes[firstNode[i]!]!;
          const childNode = header.nodes[firstNode[i]! + 1]!;
          if (listNode.nullCount > 0 || childNode.nullCount > 0) {
            closeSync(fd);
            return undefined;
          }
          positions.push(body + header.buffers[firstBuffer[i]! + 2]!.offset);
        }
        places.push({ start, length: header.length, positions });
        start += header.length;
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return new RowFile(fd, start, d, places, columns);
  }

  /**
   * Rows `rows` (table row numbers, any order) of column number `column` into `out`
   * (rows.length × d). Runs of consecutive rows are read with one call.
   */
  read(column: number, rows: ArrayLike<number>, out: Float32Array): void {
    const d = this.d;
    const bytes = new Uint8Array(out.buffer, out.byteOffset, rows.length * d * 4);
    let k = 0;
    while (k < rows.length) {
      const r = rows[k]!;
      const place = this.placeOf(r);
      let run = 1;
      while (k + run < rows.length && rows[k + run] === r + run && r + run < place.start + place.length) run++;
      const pos = place.positions[column]! + (r - place.start) * d * 4;
      readFully(this.fd, bytes.subarray(k * d * 4, (k + run) * d * 4), pos);
      k += run;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  private placeOf(row: number): BatchPlace {
    if (!(row >= 0 && row < this.n)) throw new RangeError(`row ${row} outside 0..${this.n - 1}`);
    let lo = 0;
    let hi = this.places.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.places[mid]!.start <= row) lo = mid;
      else hi = mid - 1;
    }
    return this.places[lo]!;
  }
}

function readFully(fd: number, into: Uint8Array, position: number): void {
  let at = 0;
  while (at < into.byteLength) {
    const got = readSync(fd, into, at, into.byteLength - at, position + at);
    if (got === 0) throw new Error(`unexpected end of file at byte ${position + at}`);
    at += got;
  }
}

/** Buffers and field nodes a column of this type has in an IPC record batch (format v5); undefined when not simple. */
function countLayout(type: DataType): { buffers: number; nodes: number } | undefined {
  switch (type.typeId) {
    case Type.Null: return { buffers: 0, nodes: 1 };
    case Type.Bool: case Type.Int: case Type.Float: case Type.Decimal: case Type.Date: case Type.Time:
    case Type.Timestamp: case Type.Interval: case Type.Duration: case Type.FixedSizeBinary:
      return { buffers: 2, nodes: 1 };
    case Type.Utf8: case Type.Binary: case Type.LargeUtf8: case Type.LargeBinary:
      return { buffers: 3, nodes: 1 };
    case Type.Dictionary: return { buffers: 2, nodes: 1 };
    case Type.List: case Type.LargeList: case Type.Map: case Type.FixedSizeList: case Type.Struct: {
      let buffers = type.typeId === Type.List || type.typeId === Type.LargeList || type.typeId === Type.Map ? 2 : 1;
      let nodes = 1;
      for (const child of type.children ?? []) {
        const c = countLayout(child.type);
        if (!c) return undefined;
        buffers += c.buffers;
        nodes += c.nodes;
      }
      return { buffers, nodes };
    }
    default: return undefined;
  }
}
