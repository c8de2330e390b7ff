/**
 * The one place that reads and writes Arrow IPC (Feather v2) files.
 *
 * Files are the standard IPC *file* format (magic `ARROW1`), uncompressed, so
 * pyarrow.feather.read_table / pandas.read_feather / polars / DuckDB open them.
 * Spectra and latent codes are FixedSizeList<Float32> columns; the spectral axis
 * and its unit live in the schema metadata so a table is self-describing.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  Bool, compressionRegistry, CompressionType, Data, DataType, Field, FixedSizeList, Float32, Float64, Int32, List, makeData, makeVector,
  RecordBatchFileReader, Schema, Table, tableFromIPC, Type, Utf8, vectorFromArray, type RecordBatch, type Vector,
} from 'apache-arrow';
import { StageError } from '../core/stage-api.js';
import { batchRows, IpcFileWriter, readBatches, readSchema } from './arrow-batches.js';
import { checkArrowFile } from './arrow-check.js';
import { decodeLz4Frame } from './lz4.js';

// pyarrow/pandas compress Feather v2 with LZ4 frames by default; decode them (ZSTD stays unsupported).
if (!compressionRegistry.get(CompressionType.LZ4_FRAME)) compressionRegistry.set(CompressionType.LZ4_FRAME, { decode: decodeLz4Frame });

export type Cell = string | number | boolean | null;

export interface SpectraTable {
  n: number;
  d: number;
  ids: string[];
  /** `label` column, utf8. */
  labels?: (string | null)[];
  /** n*d row-major; the `spectrum` column FixedSizeList<Float32>[d]. */
  spectra: Float32Array;
  /** Optional `clean` column, same shape (noise-free target). */
  clean?: Float32Array;
  /** Length d; stored in schema metadata. */
  axis: Float64Array;
  axisUnit: string;
  axisName: string;
  /** Other metadata columns, carried through stages. */
  columns: Record<string, Cell[]>;
  /** Extra schema metadata (JSON strings). */
  metadata: Record<string, string>;
  /** Long-layout spectra on their own grids (then d = 0, spectra empty) until `resample`. */
  ragged?: { x: Float64Array[]; y: Float32Array[] };
  /** Arrow types of `columns` as read from a file, so writing the table back keeps them. */
  columnTypes?: Record<string, ColumnType>;
}

export interface LatentTable {
  n: number;
  k: number;
  ids: string[];
  labels?: (string | null)[];
  /** n*k row-major; the `z` column FixedSizeList<Float32>[k]. */
  z: Float32Array;
  columns: Record<string, Cell[]>;
  metadata: Record<string, string>;
  columnTypes?: Record<string, ColumnType>;
}

/** Arrow type of a plain column; inferred from the values when not given. */
export type ColumnType = 'utf8' | 'float64' | 'float32' | 'int32' | 'bool';

export interface WriteRecordsOptions {
  /** Force the Arrow type of some columns (e.g. `{cluster: 'int32'}`). */
  types?: Record<string, ColumnType>;
  /** Column order; by default the order in which keys first appear in `rows`. */
  columns?: string[];
}

/** Schema metadata keys owned by this module; everything else is user metadata. */
export const META = {
  kind: 'specflow.kind',
  axis: 'specflow.axis',
  axisUnit: 'specflow.axis_unit',
  axisName: 'specflow.axis_name',
  layout: 'specflow.layout',
  /** JSON {width, height, x_unit, y_unit}: the rows form a spectrum image (see SpectrumMap). */
  map: 'specflow.map',
} as const;
// `specflow.map` stays in a table's user metadata so it travels with the `x`/`y` columns.
const RESERVED_META = new Set<string>(Object.values(META).filter((k) => k !== META.map));
// `x`/`y` are not reserved: as scalar float columns they are a spectrum image's navigation
// coordinates, carried through every stage like any metadata column (see SpectrumMap).
export const SPECTRA_RESERVED_COLUMNS = new Set(['id', 'label', 'spectrum', 'clean', 'axis']);
const LATENT_RESERVED_COLUMNS = new Set(['id', 'label', 'z']);

// ---------------------------------------------------------------- writing

/** What a spectra file's schema is made of; a streaming stage fixes it before its first batch. */
export interface SpectraHeader {
  d: number;
  axis: Float64Array;
  axisUnit: string;
  axisName: string;
  metadata: Record<string, string>;
  labels: boolean;
  clean: boolean;
  ragged: boolean;
  /** Metadata columns in order, with their Arrow types. */
  columnTypes: [string, ColumnType][];
}

/** The header of an in-memory table: column types as recorded when it was read, else inferred from all values. */
export function spectraHeader(t: SpectraTable): SpectraHeader {
  return {
    d: t.d, axis: t.axis, axisUnit: t.axisUnit, axisName: t.axisName, metadata: t.metadata,
    labels: t.labels !== undefined, clean: t.clean !== undefined, ragged: t.ragged !== undefined,
    columnTypes: Object.entries(t.columns).map(([name, values]) => [name, t.columnTypes?.[name] ?? inferType(values)]),
  };
}

/** The `id`, optional `label` and metadata-column fields every batch-written table starts with. */
function leadingFields(labels: unknown, columnTypes: [string, ColumnType][], reserved: Set<string>, kind: string): Field[] {
  const fields: Field[] = [new Field('id', new Utf8(), false)];
  if (labels) fields.push(new Field('label', new Utf8(), true));
  for (const [name, type] of columnTypes) {
    if (reserved.has(name)) throw new Error(`metadata column "${name}" clashes with a reserved ${kind} column`);
    fields.push(new Field(name, arrowType(type), true));
  }
  return fields;
}

/** Writes a spectra table record batch by record batch (see arrow-batches.ts). */
export class SpectraWriter {
  private readonly file: IpcFileWriter;
  constructor(path: string, private readonly h: SpectraHeader) {
    const fields = leadingFields(h.labels, h.columnTypes, SPECTRA_RESERVED_COLUMNS, 'spectra');
    const meta = new Map<string, string>(Object.entries(h.metadata));
    meta.set(META.kind, 'spectra');
    if (h.ragged) {
      fields.push(new Field('axis', new List(new Field('item', new Float64(), false)), false));
      fields.push(new Field('spectrum', new List(new Field('item', new Float32(), false)), false));
      meta.set(META.layout, 'ragged');
    } else {
      fields.push(new Field('spectrum', fixedListType(h.d), false));
      if (h.clean) fields.push(new Field('clean', fixedListType(h.d), false));
      meta.set(META.axis, JSON.stringify(Array.from(h.axis)));
    }
    meta.set(META.axisUnit, h.axisUnit);
    meta.set(META.axisName, h.axisName);
    this.file = new IpcFileWriter(path, new Schema(fields, meta));
  }

  /** Append rows; `t` must match the header (same d, columns, labels/clean presence). */
  write(t: SpectraTable): void {
    checkSpectraShape(t);
    if (t.n === 0) return;
    const h = this.h;
    if (!h.ragged && t.d !== h.d) throw new Error(`spectra batch has ${t.d} channels, the file ${h.d}`);
    const data: Data[] = [utf8Vector(t.ids).data[0]!];
    if (h.labels) data.push(utf8Vector(t.labels!).data[0]!);
    for (const [name, type] of h.columnTypes) data.push(cellVector(name, t.columns[name]!, type).data[0]!);
    if (h.ragged) {
      data.push(listVector(t.ragged!.x, new Float64()).data[0]!, listVector(t.ragged!.y, new Float32()).data[0]!);
    } else {
      data.push(fixedListData(t.spectra, t.n, h.d));
      if (h.clean) data.push(fixedListData(t.clean!, t.n, h.d));
    }
    this.file.write(data, t.n);
  }

  /**
   * Append rows as record batches of batchRows(d) rows: a table appended in pieces whose
   * lengths are multiples of that is the same bytes as the table appended at once.
   */
  append(t: SpectraTable): void {
    const step = batchRows(this.h.ragged ? 1 : this.h.d);
    for (let a = 0; a < t.n; a += step) this.write(sliceSpectra(t, a, Math.min(t.n, a + step)));
  }

  close(): void {
    this.file.close();
  }

  abort(): void {
    this.file.abort();
  }
}

/** Rows [a, b) of a table (views, not copies, of the numeric data). */
export function sliceSpectra(t: SpectraTable, a: number, b: number): SpectraTable {
  const d = t.d;
  const out: SpectraTable = {
    ...t, n: b - a, ids: t.ids.slice(a, b), spectra: t.spectra.subarray(a * d, b * d),
    columns: Object.fromEntries(Object.entries(t.columns).map(([k, v]) => [k, v.slice(a, b)])),
  };
  if (t.labels) out.labels = t.labels.slice(a, b);
  if (t.clean) out.clean = t.clean.subarray(a * d, b * d);
  if (t.ragged) out.ragged = { x: t.ragged.x.slice(a, b), y: t.ragged.y.slice(a, b) };
  return out;
}

export async function writeSpectra(path: string, t: SpectraTable): Promise<void> {
  checkSpectraShape(t);
  const writer = new SpectraWriter(path, spectraHeader(t));
  try {
    writer.append(t);
    writer.close();
  } catch (e) {
    writer.abort();
    throw e;
  }
}

/** What a latent file's schema is made of. */
export interface LatentHeader {
  k: number;
  labels: boolean;
  columnTypes: [string, ColumnType][];
  metadata: Record<string, string>;
}

/** Writes a latent-code table record batch by record batch. */
export class LatentWriter {
  private readonly file: IpcFileWriter;
  constructor(path: string, private readonly h: LatentHeader) {
    const fields = leadingFields(h.labels, h.columnTypes, LATENT_RESERVED_COLUMNS, 'latent');
    fields.push(new Field('z', fixedListType(h.k), false));
    const meta = new Map<string, string>(Object.entries(h.metadata));
    meta.set(META.kind, 'latent');
    this.file = new IpcFileWriter(path, new Schema(fields, meta));
  }

  write(t: LatentTable): void {
    if (t.ids.length !== t.n) throw new Error(`latent table: ${t.ids.length} ids for n = ${t.n}`);
    if (t.z.length !== t.n * t.k) throw new Error(`latent table: z has ${t.z.length} values, expected n*k = ${t.n * t.k}`);
    if (t.n === 0) return;
    const data: Data[] = [utf8Vector(t.ids).data[0]!];
    if (this.h.labels) data.push(utf8Vector(t.labels!).data[0]!);
    for (const [name, type] of this.h.columnTypes) data.push(cellVector(name, t.columns[name]!, type).data[0]!);
    data.push(fixedListData(t.z, t.n, this.h.k));
    this.file.write(data, t.n);
  }

  close(): void {
    this.file.close();
  }

  abort(): void {
    this.file.abort();
  }
}

export function latentHeader(t: LatentTable): LatentHeader {
  return {
    k: t.k, labels: t.labels !== undefined, metadata: t.metadata,
    columnTypes: Object.entries(t.columns).map(([name, values]) => [name, t.columnTypes?.[name] ?? inferType(values)]),
  };
}

export async function writeLatent(path: string, t: LatentTable): Promise<void> {
  if (t.ids.length !== t.n) throw new Error(`latent table: ${t.ids.length} ids for n = ${t.n}`);
  if (t.z.length !== t.n * t.k) throw new Error(`latent table: z has ${t.z.length} values, expected n*k = ${t.n * t.k}`);
  const writer = new LatentWriter(path, latentHeader(t));
  try {
    const step = batchRows(t.k);
    for (let a = 0; a < t.n; a += step) {
      const b = Math.min(t.n, a + step);
      writer.write({
        n: b - a, k: t.k, ids: t.ids.slice(a, b), z: t.z.subarray(a * t.k, b * t.k), metadata: t.metadata,
        columns: Object.fromEntries(Object.entries(t.columns).map(([name, v]) => [name, v.slice(a, b)])),
        ...(t.labels ? { labels: t.labels.slice(a, b) } : {}),
      });
    }
    writer.close();
  } catch (e) {
    writer.abort();
    throw e;
  }
}

export async function writeRecords(
  path: string,
  rows: Record<string, Cell>[],
  metadata: Record<string, string> = {},
  options: WriteRecordsOptions = {},
): Promise<void> {
  const names = options.columns ?? columnOrder(rows);
  const columns = Object.fromEntries(names.map((name) => [name, rows.map((r) => (r[name] === undefined ? null : r[name]!))]));
  await writeColumns(path, columns, metadata, { types: options.types });
}

/** `writeRecords` for a table already held as columns (all of one length), in their key order. */
export async function writeColumns(
  path: string,
  byName: Record<string, Cell[]>,
  metadata: Record<string, string> = {},
  options: Pick<WriteRecordsOptions, 'types'> = {},
): Promise<void> {
  const names = Object.keys(byName);
  const columns = names.map((name) => byName[name]!);
  const n = columns[0]?.length ?? 0;
  if (columns.some((c) => c.length !== n)) throw new Error(`columns differ in length: ${names.map((name, i) => `${name} ${columns[i]!.length}`).join(', ')}`);
  const types = names.map((name, i) => options.types?.[name] ?? inferType(columns[i]!));
  const meta = new Map<string, string>(Object.entries(metadata));
  if (!meta.has(META.kind)) meta.set(META.kind, 'records');
  const file = new IpcFileWriter(path, new Schema(names.map((name, i) => new Field(name, arrowType(types[i]!), true)), meta));
  try {
    const step = batchRows(names.length);
    for (let a = 0; a < n; a += step) {
      const b = Math.min(n, a + step);
      file.write(names.map((name, i) => cellVector(name, columns[i]!.slice(a, b), types[i]).data[0]!), b - a);
    }
    file.close();
  } catch (e) {
    file.abort();
    throw e;
  }
}

function checkSpectraShape(t: SpectraTable): void {
  if (t.ids.length !== t.n) throw new Error(`spectra table: ${t.ids.length} ids for n = ${t.n}`);
  if (t.labels && t.labels.length !== t.n) throw new Error(`spectra table: ${t.labels.length} labels for n = ${t.n}`);
  for (const [name, values] of Object.entries(t.columns)) {
    if (values.length !== t.n) throw new Error(`spectra table: column "${name}" has ${values.length} values for n = ${t.n}`);
  }
  if (t.ragged) {
    if (t.ragged.x.length !== t.n || t.ragged.y.length !== t.n) throw new Error('spectra table: ragged x/y must have n entries');
    t.ragged.x.forEach((x, i) => {
      if (x.length !== t.ragged!.y[i]!.length) throw new Error(`spectra table: ragged spectrum ${i} has ${x.length} x and ${t.ragged!.y[i]!.length} y values`);
    });
    return;
  }
  if (t.spectra.length !== t.n * t.d) throw new Error(`spectra table: spectrum has ${t.spectra.length} values, expected n*d = ${t.n * t.d}`);
  if (t.clean && t.clean.length !== t.n * t.d) throw new Error(`spectra table: clean has ${t.clean.length} values, expected n*d = ${t.n * t.d}`);
  if (t.axis.length !== t.d) throw new Error(`spectra table: axis has ${t.axis.length} values for d = ${t.d}`);
}

function columnOrder(rows: Record<string, Cell>[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

function utf8Vector(values: (string | null)[]): Vector {
  return vectorFromArray(values, new Utf8());
}

function fixedListType(d: number): FixedSizeList {
  return new FixedSizeList(d, new Field('item', new Float32(), false));
}

function fixedListData(values: Float32Array, n: number, d: number): Data {
  const child = makeData({ type: new Float32(), length: n * d, nullCount: 0, data: values });
  return makeData({ type: fixedListType(d), length: n, nullCount: 0, child }) as Data;
}

function arrowType(type: ColumnType): DataType {
  switch (type) {
    case 'utf8': return new Utf8();
    case 'bool': return new Bool();
    case 'int32': return new Int32();
    case 'float32': return new Float32();
    case 'float64': return new Float64();
  }
}

/** The ColumnType a scalar Arrow column is read back as (so a stage writes it with the same type). */
function columnTypeOf(type: DataType): ColumnType {
  if (DataType.isBool(type)) return 'bool';
  if (DataType.isInt(type)) return (type as Int32).bitWidth <= 32 && (type as Int32).isSigned ? 'int32' : 'float64';
  if (DataType.isFloat(type)) return (type as Float32).precision === 1 ? 'float32' : 'float64';
  return 'utf8';
}

function listVector<T extends Float32 | Float64>(arrays: ArrayLike<number>[], itemType: T): Vector {
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const values = itemType instanceof Float32 ? new Float32Array(total) : new Float64Array(total);
  const offsets = new Int32Array(arrays.length + 1);
  let at = 0;
  arrays.forEach((a, i) => {
    values.set(a, at);
    at += a.length;
    offsets[i + 1] = at;
  });
  const child = makeData({ type: itemType as DataType, length: total, nullCount: 0, data: values } as never) as Data;
  const type = new List(new Field('item', itemType as DataType, false));
  return makeVector(makeData({ type, length: arrays.length, nullCount: 0, valueOffsets: offsets, child }));
}

function inferType(values: Cell[]): ColumnType {
  let numbers = 0;
  let integers = 0;
  let booleans = 0;
  let strings = 0;
  for (const v of values) {
    if (v === null) continue;
    if (typeof v === 'number') {
      numbers++;
      if (Number.isInteger(v) && Math.abs(v) <= 2147483647) integers++;
    } else if (typeof v === 'boolean') booleans++;
    else strings++;
  }
  if (strings > 0 || (numbers > 0 && booleans > 0)) return 'utf8';
  if (booleans > 0) return 'bool';
  if (numbers > 0 && integers === numbers) return 'int32';
  if (numbers > 0) return 'float64';
  return 'utf8';
}

function cellVector(name: string, values: Cell[], forced: ColumnType | undefined): Vector {
  const type = forced ?? inferType(values);
  switch (type) {
    case 'utf8':
      return vectorFromArray(values.map((v) => (v === null ? null : String(v))), new Utf8());
    case 'bool':
      return vectorFromArray(values.map((v) => (v === null ? null : Boolean(v))), new Bool());
    case 'int32':
    case 'float64':
    case 'float32': {
      const arrowType = type === 'int32' ? new Int32() : type === 'float32' ? new Float32() : new Float64();
      const mapped = values.map((v) => {
        if (v === null) return null;
        const x = typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : Number(v);
        if (Number.isNaN(x) && typeof v === 'string') throw new Error(`column "${name}": "${v}" is not a number`);
        return x;
      });
      return vectorFromArray(mapped, arrowType as DataType) as Vector;
    }
  }
}

// ---------------------------------------------------------------- reading

/**
 * An Arrow IPC / Feather v2 file's table, LZ4-compressed ones included (the
 * codec is registered when this module loads). Every reader of files from
 * outside goes through here, so none of them misses the codec.
 */
const ARROW_MAGIC = 'ARROW1';

export function parseArrowIpc(bytes: Uint8Array): Table {
  // the IPC file format starts and ends with ARROW1; apache-arrow reads a cut-off file into a null dereference
  const ascii = (from: number): string => String.fromCharCode(...bytes.subarray(from, from + ARROW_MAGIC.length));
  if (ascii(0) === ARROW_MAGIC && ascii(bytes.length - ARROW_MAGIC.length) !== ARROW_MAGIC) {
    throw new Error(`truncated: ${bytes.length} bytes and no closing ${ARROW_MAGIC} footer`);
  }
  // Neither the file format's magic nor a stream message that fits: a CSV, JCAMP or other file given as Arrow.
  // (apache-arrow would report "Expected to read 1865180265 metadata bytes", the first bytes taken as a length.)
  const length = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true) : 0;
  if (ascii(0) !== ARROW_MAGIC && length !== -1 && (length < 0 || length + 4 > bytes.length)) {
    const start = bytes.subarray(0, 24);
    const text = [...start].every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
    const shown = text ? JSON.stringify(String.fromCharCode(...start)) : [...start.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`not-arrow: it starts with ${shown}${text ? ' (text)' : ''}, not ${ARROW_MAGIC}`);
  }
  if (ascii(0) !== ARROW_MAGIC) return tableFromIPC(bytes);
  checkArrowFile(bytes, ARROW_MAGIC);
  // Not tableFromIPC: its file reader re-reads a block that holds a schema message forever (a damaged
  // block offset pointing at the schema). Reading each batch by index, a wrong message is an error.
  const reader = RecordBatchFileReader.from(bytes);
  reader.open();
  const batches: RecordBatch[] = [];
  for (let i = 0; i < reader.numRecordBatches; i++) {
    const batch = reader.readRecordBatch(i) as RecordBatch | null; // sync: the source is bytes in memory
    if (!batch) throw new Error(`corrupt: record batch ${i + 1} of ${reader.numRecordBatches} is not where the footer says`);
    batches.push(batch);
  }
  return batches.length ? new Table(batches) : new Table(reader.schema);
}

async function loadTable(path: string): Promise<Table> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new StageError(`cannot read file: ${(e as Error).message}`, basename(path));
  }
  if (bytes.length === 0) throw new StageError('the file is empty', basename(path));
  try {
    return parseArrowIpc(bytes);
  } catch (e) {
    throw new StageError(arrowReadError(e), basename(path));
  }
}

/** A message for an unreadable IPC file; compressed files get a remedy. */
export function arrowReadError(e: unknown): string {
  const msg = (e as Error).message;
  if (/codec|compress/i.test(msg)) {
    return 'the file is ZSTD-compressed, which this reader does not decode; write it uncompressed or with LZ4 (pandas: df.to_feather(path, compression="lz4"))';
  }
  if (msg.startsWith('not-arrow: ')) return `not an Arrow IPC / Feather v2 file: ${msg.slice(11)}`;
  if (msg.startsWith('corrupt: ')) return `the Arrow file is damaged: ${msg.slice(9)}`;
  if (msg.startsWith('truncated: ')) return `the Arrow file is cut off (${msg.slice(11)}): it was not completely written or copied`;
  if (e instanceof TypeError) return 'not a readable Arrow IPC / Feather v2 file (damaged or truncated)';
  return `not an Arrow IPC / Feather v2 file (${msg})`;
}

function schemaMetadata(table: Table | RecordBatch): Map<string, string> {
  return table.schema.metadata ?? new Map<string, string>();
}

function userMetadata(meta: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of meta) if (!RESERVED_META.has(k) && k !== 'pandas') out[k] = v;
  return out;
}

export async function readSpectra(path: string): Promise<SpectraTable> {
  return spectraOf(await loadTable(path), basename(path));
}

/**
 * The spectra of a file one record batch at a time (each a SpectraTable of that
 * batch's rows), for stages that stream; `first` is the row number of the first one.
 */
export async function* readSpectraBatches(path: string): AsyncGenerator<{ first: number; t: SpectraTable }> {
  const where = basename(path);
  let first = 0;
  let batches: AsyncGenerator<RecordBatch>;
  try {
    batches = readBatches(path);
  } catch (e) {
    throw new StageError(arrowReadError(e), where);
  }
  for await (const batch of batches) {
    const t = spectraOf(batch, where, first);
    yield { first, t };
    first += t.n;
  }
}

function spectraOf(table: Table | RecordBatch, where: string, firstRow = 0): SpectraTable {
  const meta = schemaMetadata(table);
  const spectrum = table.getChild('spectrum');
  if (!spectrum) {
    const kind = meta.get(META.kind);
    throw new StageError(
      `not a spectra table: no \`spectrum\` column${kind ? ` (it is a ${kind} table)` : ''}; columns: ${table.schema.fields.map((f) => f.name).join(', ')}`,
      where,
    );
  }
  const n = table.numRows;
  const ids = readIds(table, where, firstRow);
  const labels = table.getChild('label') ? readStrings(table.getChild('label')!) : undefined;
  const columns = readColumns(table, SPECTRA_RESERVED_COLUMNS);
  const columnTypes = readColumnTypes(table, SPECTRA_RESERVED_COLUMNS);
  const axisUnit = meta.get(META.axisUnit) ?? '';
  const axisName = meta.get(META.axisName) ?? '';
  const metadata = userMetadata(meta);

  if (spectrum.type.typeId === Type.List || spectrum.type.typeId === Type.LargeList) {
    // Each row's own grid: `axis` (written since navigation coordinates took `x`) or a list-typed `x`.
    const xCol = [table.getChild('axis'), table.getChild('x')].find((c) => c && (c.type.typeId === Type.List || c.type.typeId === Type.LargeList));
    if (!xCol) throw new StageError('ragged spectra table has no `axis` (or `x`) list column with each spectrum\'s grid', where);
    const y = readListColumn(spectrum, 'spectrum', where).map((a) => Float32Array.from(a));
    const x = readListColumn(xCol, 'x', where).map((a) => Float64Array.from(a));
    x.forEach((xi, i) => {
      if (xi.length !== y[i]!.length) throw new StageError(`x has ${xi.length} values but spectrum ${y[i]!.length}`, `${where} row ${firstRow + i + 1}`);
    });
    return { n, d: 0, ids, labels, spectra: new Float32Array(0), axis: new Float64Array(0), axisUnit, axisName, columns, columnTypes, metadata, ragged: { x, y } };
  }
  if (spectrum.type.typeId !== Type.FixedSizeList) {
    throw new StageError(`not a spectra table: column \`spectrum\` is ${String(spectrum.type)}, expected FixedSizeList<Float32>`, where);
  }
  const d = (spectrum.type as FixedSizeList).listSize;
  const spectra = readFixedList(spectrum, n, d, 'spectrum', where, firstRow);
  const cleanCol = table.getChild('clean');
  const clean = cleanCol ? readFixedList(cleanCol, n, d, 'clean', where, firstRow) : undefined;
  const axisText = meta.get(META.axis);
  let axis: Float64Array;
  if (axisText) {
    try {
      axis = Float64Array.from(JSON.parse(axisText) as number[]);
    } catch {
      throw new StageError(`schema metadata ${META.axis} is not a JSON array of numbers`, where);
    }
    if (axis.length !== d) throw new StageError(`axis metadata has ${axis.length} values but spectra have ${d} channels`, where);
  } else {
    axis = Float64Array.from({ length: d }, (_, i) => i);
  }
  const out: SpectraTable = { n, d, ids, spectra, axis, axisUnit, axisName, columns, columnTypes, metadata };
  if (labels) out.labels = labels;
  if (clean) out.clean = clean;
  return out;
}

export async function readLatent(path: string): Promise<LatentTable> {
  const table = await loadTable(path);
  const where = basename(path);
  const z = table.getChild('z');
  if (!z || z.type.typeId !== Type.FixedSizeList) {
    throw new StageError(`not a latent table: no \`z\` FixedSizeList column; columns: ${table.schema.fields.map((f) => f.name).join(', ')}`, where);
  }
  const n = table.numRows;
  const k = (z.type as FixedSizeList).listSize;
  const out: LatentTable = {
    n, k,
    ids: readIds(table, where),
    z: readFixedList(z, n, k, 'z', where),
    columns: readColumns(table, LATENT_RESERVED_COLUMNS),
    columnTypes: readColumnTypes(table, LATENT_RESERVED_COLUMNS),
    metadata: userMetadata(schemaMetadata(table)),
  };
  const label = table.getChild('label');
  if (label) out.labels = readStrings(label);
  return out;
}

/** A table's columns as arrays of cells (cheaper than `readRecords`' object per row on long tables). */
export async function readTableColumns(path: string): Promise<{ n: number; columns: Record<string, Cell[]>; metadata: Record<string, string> }> {
  const table = await loadTable(path);
  return { n: table.numRows, columns: readColumns(table, new Set()), metadata: userMetadata(schemaMetadata(table)) };
}

export async function readRecords(path: string): Promise<{ rows: Record<string, Cell>[]; metadata: Record<string, string> }> {
  const table = await loadTable(path);
  const columns = readColumns(table, new Set());
  const names = Object.keys(columns);
  const rows: Record<string, Cell>[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const row: Record<string, Cell> = {};
    for (const name of names) row[name] = columns[name]![i]!;
    rows.push(row);
  }
  return { rows, metadata: userMetadata(schemaMetadata(table)) };
}

/**
 * The named scalar columns of a table (those it has), read one record batch at a
 * time: a spectra table of any size costs only these columns, never its spectra
 * all at once (the report's ids, labels, errors and navigation coordinates).
 */
export async function readScalarColumns(path: string, names: string[]): Promise<{ n: number; columns: Record<string, Cell[]> }> {
  const columns: Record<string, Cell[]> = {};
  let n = 0;
  try {
    for await (const batch of readBatches(path)) {
      for (const name of names) {
        const col = batch.getChild(name);
        if (!col || !isScalarType(col.type)) continue;
        const out = (columns[name] ??= []);
        for (let i = 0; i < col.length; i++) out.push(toCell(col.get(i) as unknown));
      }
      n += batch.numRows;
    }
  } catch (e) {
    if (e instanceof StageError) throw e;
    throw new StageError(arrowReadError(e), basename(path));
  }
  return { n, columns };
}

/** Schema field names and metadata of an IPC file, without reading its record batches. */
export async function readFieldsAndMetadata(path: string): Promise<{ fields: string[]; metadata: Record<string, string> }> {
  let schema: Schema;
  try {
    schema = await readSchema(path);
  } catch (e) {
    throw new StageError(arrowReadError(e), basename(path));
  }
  return { fields: schema.fields.map((f) => f.name), metadata: Object.fromEntries(schema.metadata) };
}

function readIds(table: Table | RecordBatch, where: string, firstRow = 0): string[] {
  const col = table.getChild('id');
  if (!col) return Array.from({ length: table.numRows }, (_, i) => String(firstRow + i));
  return readStrings(col).map((v, i) => {
    if (v === null) throw new StageError('missing id', `${where} row ${firstRow + i + 1}, column "id"`);
    return v;
  });
}

function readStrings(col: Vector): (string | null)[] {
  const out: (string | null)[] = new Array(col.length);
  for (let i = 0; i < col.length; i++) {
    const v = col.get(i) as unknown;
    out[i] = v === null || v === undefined ? null : toCell(v) === null ? null : String(toCell(v));
  }
  return out;
}

/** Scalar columns other than the reserved ones; list-typed columns are skipped. */
function readColumnTypes(table: Table | RecordBatch, reserved: Set<string>): Record<string, ColumnType> {
  const out: Record<string, ColumnType> = {};
  for (const field of table.schema.fields) {
    if (!reserved.has(field.name) && isScalarType(field.type)) out[field.name] = columnTypeOf(field.type);
  }
  return out;
}

function readColumns(table: Table | RecordBatch, reserved: Set<string>): Record<string, Cell[]> {
  const out: Record<string, Cell[]> = {};
  for (const field of table.schema.fields) {
    if (reserved.has(field.name)) continue;
    if (!isScalarType(field.type)) continue;
    const col = table.getChild(field.name)!;
    const values: Cell[] = new Array(col.length);
    for (let i = 0; i < col.length; i++) values[i] = toCell(col.get(i) as unknown);
    out[field.name] = values;
  }
  return out;
}

export function isScalarType(type: DataType): boolean {
  return DataType.isInt(type) || DataType.isFloat(type) || DataType.isBool(type) || DataType.isUtf8(type)
    || DataType.isLargeUtf8(type) || DataType.isDictionary(type) || DataType.isDate(type) || DataType.isTimestamp(type)
    || DataType.isDecimal(type);
}

function toCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

/** Values of a FixedSizeList column as one row-major Float32Array (copy). */
function readFixedList(col: Vector, n: number, d: number, name: string, where: string, firstRow = 0): Float32Array {
  const out = new Float32Array(n * d);
  let row = 0;
  for (const chunk of col.data) {
    if (chunk.nullCount > 0) {
      for (let i = 0; i < chunk.length; i++) {
        if (!chunk.getValid(i)) throw new StageError('missing (null) spectrum', `${where} row ${firstRow + row + i + 1}, column "${name}"`);
      }
    }
    const child = chunk.children[0]!;
    if (!DataType.isFloat(child.type) && !DataType.isInt(child.type)) {
      throw new StageError(`column is a list of ${String(child.type)}, expected numbers`, `${where}, column "${name}"`);
    }
    // Children of a sliced FixedSizeList are sliced too, so their values start at this chunk's first row.
    const values = child.values as ArrayLike<number | bigint>;
    const len = chunk.length * d;
    if (!isBigIntArray(values)) {
      out.set((values as Float32Array).subarray(0, len), row * d);
    } else {
      for (let j = 0; j < len; j++) out[row * d + j] = Number(values[j]);
    }
    if (child.nullCount > 0) {
      for (let j = 0; j < len; j++) {
        if (!child.getValid(j)) out[row * d + j] = NaN;
      }
    }
    row += chunk.length;
  }
  return out;
}

function isBigIntArray(a: ArrayLike<number | bigint>): boolean {
  return a instanceof BigInt64Array || a instanceof BigUint64Array;
}

/** Values of a variable-length list column, one array per row. */
export function readListColumn(col: Vector, name: string, where: string): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < col.length; i++) {
    const v = col.get(i) as Vector | null;
    if (v === null) throw new StageError('missing (null) list', `${where} row ${i + 1}, column "${name}"`);
    const arr: number[] = new Array(v.length);
    for (let j = 0; j < v.length; j++) {
      const x = v.get(j) as number | bigint | null;
      arr[j] = x === null ? NaN : Number(x);
    }
    out.push(arr);
  }
  return out;
}

// ---------------------------------------------------------------- spectrum images

/**
 * A spectrum image: rows are pixels in row-major order (x fastest), with their
 * navigation coordinates in the scalar columns `x` and `y` (stage positions, in
 * the units given) and the image size in the schema metadata `specflow.map`.
 * Because `x`/`y` are ordinary metadata columns, every stage that carries
 * columns through (preprocess, split, encode, reconstruct) keeps the geometry.
 */
export interface SpectrumMap {
  width: number;
  height: number;
  xUnit: string;
  yUnit: string;
}

/** Record a spectrum image's geometry in table metadata (the `x`/`y` columns are the caller's). */
export function setSpectrumMap(metadata: Record<string, string>, map: SpectrumMap): void {
  metadata[META.map] = JSON.stringify({ width: map.width, height: map.height, x_unit: map.xUnit, y_unit: map.yUnit });
}

/** The geometry of a table whose rows form a spectrum image, or undefined when they do not. */
export function spectrumMapOf(metadata: Record<string, string>, n: number): SpectrumMap | undefined {
  const text = metadata[META.map];
  if (!text) return undefined;
  let m: { width?: unknown; height?: unknown; x_unit?: unknown; y_unit?: unknown };
  try {
    m = JSON.parse(text) as typeof m;
  } catch {
    return undefined;
  }
  const width = Number(m.width), height = Number(m.height);
  // A subset of the pixels (a split, a filtered table) is no longer an image.
  if (!Number.isInteger(width) || !Number.isInteger(height) || width * height !== n) return undefined;
  return { width, height, xUnit: String(m.x_unit ?? ''), yUnit: String(m.y_unit ?? '') };
}

// ---------------------------------------------------------------- checks

export function requireCommonGrid(t: SpectraTable, where: string): void {
  if (t.ragged) throw new StageError('spectra are on different grids; add a `resample` step', where);
}

/** Number of rows × channels as a short human string, for logs. */
export function describeSpectra(t: SpectraTable): string {
  return t.ragged ? `${t.n} spectra on their own grids` : `${t.n} spectra × ${t.d} channels`;
}
