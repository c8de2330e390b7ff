/**
 * Arrow IPC / Feather v2 files from pyarrow or pandas: a wide table of numeric
 * columns, a long `id, x, y` table, or one list / fixed-size-list column of spectra.
 * A file that already is a specflow spectra table is taken as it is.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { DataType, Type, type Field, type RecordBatch, type Schema, type Table, type Vector } from 'apache-arrow';
import { StageError } from '../../core/stage-api.js';
import { META, arrowReadError, isScalarType, parseArrowIpc, readListColumn, readSpectra, type Cell, type SpectraTable } from '../arrow-io.js';
import { assembleLong, assembleWide, axisNameForUnit, fromGroups, readIdColumn, resolveColumn, sortedSpectrum, type Group, type LoadOptions, type Loaded } from './assemble.js';
import { cellToText, metadataColumn, type RawTable } from './raw-table.js';
import { subsetSpectra } from '../split.js';
import type { RowBatch, StreamedLoad } from './wide-stream.js';

export interface ArrowLoadOptions extends LoadOptions {
  layout: 'wide' | 'long';
  /** The list column holding spectra, when there is one. */
  column?: string;
}

export async function loadArrowFile(path: string, opts: ArrowLoadOptions): Promise<Loaded> {
  const file = basename(path);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new StageError(`cannot read file: ${(e as Error).message}`, file);
  }
  if (bytes.length === 0) throw new StageError('the file is empty', file);
  let table: Table;
  try {
    table = parseArrowIpc(bytes);
  } catch (e) {
    throw new StageError(arrowReadError(e), file);
  }
  if (table.numRows === 0) throw new StageError('the table has no rows', file);
  const meta = table.schema.metadata;
  if (meta?.get(META.kind) === 'spectra' && opts.column === undefined) {
    // a specflow table written elsewhere (pyarrow, an edited artifact) meets on_nan as any other layout
    const t = finiteRows(await readSpectra(path), file, opts.onNan, 0);
    if (t) {
      if (t.n === 0) throw new StageError('every spectrum has NaN/Inf values (on_nan: drop)', file);
      return { table: t, notes: t.dropped ? [`dropped ${t.dropped} spectra with NaN/Inf values (on_nan: drop)`] : [] };
    }
  }
  const listCols = table.schema.fields.filter((f) => isListType(f.type)).map((f) => f.name);
  if (opts.column !== undefined || (opts.layout === 'wide' && listCols.length > 0)) {
    const name = opts.column ?? (listCols.includes('spectrum') ? 'spectrum' : listCols.find((c) => c !== 'x') ?? listCols[0]!);
    return fromListColumn(table, file, name, opts);
  }
  const raw = rawFromArrow(table, file);
  return opts.layout === 'long' ? assembleLong(raw, opts) : assembleWide(raw, opts);
}

function isListType(type: DataType): boolean {
  return type.typeId === Type.List || type.typeId === Type.FixedSizeList || type.typeId === Type.LargeList;
}

/** Scalar columns only; `__index_level_0__` (pandas' saved index) is not data. */
function dataFields(schema: Schema): Field[] {
  return schema.fields.filter((f) => isScalarType(f.type) && !/^__index_level_\d+__$/.test(f.name));
}

/** A table's (or one record batch's) scalar columns; `firstRow`: the file's row index of its row 0. */
function rawFromArrow(table: Table | RecordBatch, file: string, firstRow = 0): RawTable {
  const fields = dataFields(table.schema);
  const cols: Vector[] = fields.map((f) => table.getChild(f.name)!);
  return {
    file,
    columns: fields.map((f) => f.name),
    nRows: table.numRows,
    get: (r, c) => toCell(cols[c]!.get(r)),
    rowLabel: (r) => `row ${firstRow + r + 1}`,
    headerLabel: 'schema',
  };
}

/**
 * A large wide table of scalar columns (one per channel, as pandas writes a DataFrame),
 * read record batch by record batch and written the same way: the bytes and errors of
 * loadArrowFile + writeSpectra. Undefined when the file is not such a table in the
 * IPC file format (another layout, a specflow spectra table, a damaged file), or is
 * small enough to load whole; the caller then loads it whole.
 */
export async function loadArrowWideStreamed(path: string, opts: ArrowLoadOptions, output: string, progress: (rows: number) => void): Promise<StreamedLoad | undefined> {
  const { readBatches, readSchema, shouldStreamBytes } = await import('../arrow-batches.js');
  const { size } = await stat(path);
  if (opts.layout !== 'wide' || opts.column !== undefined || !shouldStreamBytes(size) || !(await isIpcFile(path, size))) return undefined;
  const schema = await readSchema(path).catch(() => undefined);
  if (!schema || schema.metadata.get(META.kind) === 'spectra' || schema.fields.some((f) => isListType(f.type))) return undefined;
  const file = basename(path);
  const { writeWideStreamed } = await import('./wide-stream.js');
  let first = 0;
  async function* batches(): AsyncGenerator<RowBatch> {
    try {
      for await (const batch of readBatches(path)) {
        yield { raw: rawFromArrow(batch, file, first), first };
        first += batch.numRows;
        progress(first);
      }
    } catch (e) {
      if (e instanceof StageError) throw e;
      throw new StageError(arrowReadError(e), file);
    }
  }
  return writeWideStreamed({
    head: { file, columns: dataFields(schema).map((f) => f.name), headerLabel: 'schema' },
    batches: batches(),
    rowLabel: (r) => `row ${r + 1}`,
    empty: 'the table has no rows',
  }, opts, output);
}

/**
 * A large table with one spectrum a row in a list or fixed-size-list column, all on one
 * grid (the schema's specflow.axis, else channel numbers), read record batch by record
 * batch: the bytes and errors of loadArrowFile + writeSpectra. Undefined when the file
 * is another layout, gives each row its own x list, or is small enough to load whole.
 */
export async function loadArrowListStreamed(path: string, opts: ArrowLoadOptions, output: string, progress: (rows: number) => void): Promise<StreamedLoad | undefined> {
  const { readBatches, readSchema, shouldStreamBytes } = await import('../arrow-batches.js');
  const { size } = await stat(path);
  if (!shouldStreamBytes(size) || !(await isIpcFile(path, size))) return undefined;
  const schema = await readSchema(path).catch(() => undefined);
  if (!schema || (schema.metadata.get(META.kind) === 'spectra' && opts.column === undefined)) return undefined;
  const listCols = schema.fields.filter((f) => isListType(f.type)).map((f) => f.name);
  if (opts.column === undefined && (opts.layout !== 'wide' || listCols.length === 0)) return undefined;
  const name = opts.column ?? (listCols.includes('spectrum') ? 'spectrum' : listCols.find((c) => c !== 'x') ?? listCols[0]!);
  const field = schema.fields.find((f) => f.name === name);
  // what the whole-file reader rejects, or a list of x values per row: left to it
  if (!field || !isListType(field.type)) return undefined;
  const item = field.type.children[0]!.type;
  if (!DataType.isFloat(item) && !DataType.isInt(item)) return undefined;
  const xField = schema.fields.find((f) => f.name === (opts.x ?? 'x'));
  if ((opts.x !== undefined && !xField) || (xField && isListType(xField.type))) return undefined;
  let axis: number[] | undefined;
  try {
    const text = schema.metadata.get(META.axis);
    axis = text ? (JSON.parse(text) as number[]) : undefined;
  } catch {
    return undefined;
  }
  const file = basename(path);
  const head = { file, columns: dataFields(schema).map((f) => f.name), headerLabel: 'schema' };
  const idCol = resolveColumn(head, opts.id, 'id', 'id');
  const labelCol = resolveColumn(head, opts.label, 'label', 'label');
  const keep = opts.keep ?? head.columns.filter((_, c) => c !== idCol && c !== labelCol);
  const metaCols = keep.map((k) => resolveColumn(head, k, k, 'keep'));
  type ListBatch = RowBatch & { list: Vector };
  const batches = (async function* (): AsyncGenerator<ListBatch> {
    let first = 0;
    try {
      for await (const batch of readBatches(path)) {
        yield { raw: rawFromArrow(batch, file, first), first, list: batch.getChild(name)! };
        first += batch.numRows;
        progress(first);
      }
    } catch (e) {
      if (e instanceof StageError) throw e;
      throw new StageError(arrowReadError(e), file);
    }
  })();
  // the grid is the first row's: its length decides whether the schema's axis applies
  let peeked = await batches.next();
  while (!peeked.done && peeked.value.raw.nRows === 0) peeked = await batches.next();
  const firstRow = peeked.done ? undefined : (peeked.value.list.get(0) as Vector | null);
  if (!firstRow || (axis && axis.length !== firstRow.length)) {
    await batches.return(undefined);
    return undefined;
  }
  const d = firstRow.length;
  const x = axis ?? Array.from({ length: d }, (_, i) => i);
  const gridWhere = (i: number) => `${file} row 1, column "${name}" (value ${i + 1})`;
  let grid: Float64Array;
  try {
    grid = sortedSpectrum('1', x, new Float64Array(d), gridWhere, opts, [])!.x;
  } catch {
    await batches.return(undefined);
    return undefined; // a repeated axis position: the whole-file reader names the row's id
  }
  const unit = opts.unit ?? '';
  const schemaUnit = schema.metadata.get(META.axisUnit);
  const shell: SpectraTable = {
    n: 0, d, ids: [], spectra: new Float32Array(0), axis: grid, columns: {}, metadata: {},
    axisUnit: opts.unit === undefined && schemaUnit ? schemaUnit : unit,
    axisName: axis ? opts.axisName ?? axisNameForUnit(unit) : opts.axisName ?? 'feature',
  };
  if (labelCol >= 0) shell.labels = [];
  const values = new Float64Array(d);
  const { writeRowsStreamed } = await import('./wide-stream.js');
  return writeRowsStreamed({
    head,
    batches: (async function* () {
      yield peeked.value!;
      yield* batches;
    })(),
    rowLabel: (r) => `row ${r + 1}`,
    empty: 'the table has no rows',
  }, {
    d, shell, idCol, labelCol, metaCols, notes: [], idsOfDropped: true,
    read(batch, r, y, notes, id) {
      const where = `${file} row ${batch.first + r + 1}, column "${name}"`;
      const v = (batch as ListBatch).list.get(r) as Vector | null;
      if (v === null) throw new StageError('missing (null) list', where);
      if (v.length !== d) throw new StageError(`ragged row: ${v.length} values, row 1 has ${d} (give an x list column for spectra on different grids)`, where);
      for (let j = 0; j < d; j++) {
        const value = v.get(j) as number | bigint | null;
        values[j] = value === null ? NaN : Number(value);
      }
      const sorted = sortedSpectrum(id!, x, values, (i) => `${where} (value ${i + 1})`, opts, notes);
      if (!sorted) return false;
      y.set(sorted.y);
      return true;
    },
  }, output);
}

/** Starts and ends with the IPC file magic (a cut-off file is left to the whole-file reader's message). */
async function isIpcFile(path: string, size: number): Promise<boolean> {
  if (size < 12) return false;
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(6);
    const tail = Buffer.alloc(6);
    await handle.read(head, 0, 6, 0);
    await handle.read(tail, 0, 6, size - 6);
    return head.toString('latin1') === 'ARROW1' && tail.toString('latin1') === 'ARROW1';
  } finally {
    await handle.close();
  }
}

function toCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  return String(v);
}

function fromListColumn(table: Table, file: string, name: string, opts: ArrowLoadOptions): Loaded {
  const col = table.getChild(name);
  if (!col) throw new StageError(`column "${name}" does not exist; columns are ${table.schema.fields.map((f) => `"${f.name}"`).join(', ')}`, `${file} schema, column "${name}"`);
  if (!isListType(col.type)) throw new StageError(`column "${name}" is ${String(col.type)}, not a list of numbers`, `${file} schema, column "${name}"`);
  const item = (col.type.children[0]!).type;
  if (!DataType.isFloat(item) && !DataType.isInt(item)) throw new StageError(`column "${name}" is a list of ${String(item)}, expected numbers`, `${file} schema, column "${name}"`);
  const ys = readListColumn(col, name, file);
  const xCol = opts.x !== undefined ? table.getChild(opts.x) : table.getChild('x');
  if (opts.x !== undefined && !xCol) throw new StageError(`x column "${opts.x}" does not exist`, `${file} schema, column "${opts.x}"`);
  const xs = xCol && isListType(xCol.type) ? readListColumn(xCol, xCol === table.getChild('x') ? 'x' : opts.x!, file) : undefined;
  const axisText = table.schema.metadata?.get(META.axis);
  const axis = axisText ? (JSON.parse(axisText) as number[]) : undefined;
  const raw = rawFromArrow(table, file);
  const idCol = resolveColumn(raw, opts.id, 'id', 'id');
  const labelCol = resolveColumn(raw, opts.label, 'label', 'label');
  const rows = ys.map((_, r) => r);
  const ids = readIdColumn(raw, idCol, rows);
  const groups: Group[] = ys.map((y, r) => {
    const where = `${file} row ${r + 1}, column "${name}"`;
    let x: number[];
    if (xs) {
      x = xs[r]!;
      if (x.length !== y.length) throw new StageError(`${y.length} values but ${x.length} x values`, where);
    } else if (axis && axis.length === y.length) {
      x = axis;
    } else {
      if (r > 0 && y.length !== ys[0]!.length) {
        throw new StageError(`ragged row: ${y.length} values, row 1 has ${ys[0]!.length} (give an x list column for spectra on different grids)`, where);
      }
      x = y.map((_, i) => i);
    }
    return { id: ids[r]!, label: labelCol >= 0 ? cellToText(raw.get(r, labelCol)) : null, x, y, where: y.map((_, i) => `${where} (value ${i + 1})`), meta: {} };
  });
  const loaded = fromGroups(groups, file, opts, labelCol >= 0);
  const keptRows = loaded.table.ids.map((id) => ids.indexOf(id));
  const reserved = new Set([idCol, labelCol]);
  const keep = opts.keep ?? raw.columns.filter((_, c) => !reserved.has(c));
  for (const k of keep) {
    const c = resolveColumn(raw, k, k, 'keep');
    loaded.table.columns[k] = metadataColumn(raw, c, keptRows);
  }
  if (!xs && !axis) {
    loaded.table.axisName = opts.axisName ?? 'feature';
  }
  const unit = table.schema.metadata?.get(META.axisUnit);
  if (opts.unit === undefined && unit) loaded.table.axisUnit = unit;
  return loaded;
}

/**
 * A large file that already is a specflow spectra table (kind `spectra`, one grid), copied
 * record batch by record batch into `output` (batches re-cut to batchRows rows: the bytes
 * `writeSpectra(readSpectra(path))` writes); undefined when the file is not such a table
 * or is small enough to load (see shouldStream).
 */
/**
 * on_nan applied to a specflow table (or one batch of it, whose row 0 is the file's row `firstRow`):
 * the table as it is when every spectrum value is finite; an error naming the first NaN/Inf under
 * `error`; under `drop` the other rows, every column (clean too) with them, and how many were dropped;
 * under `interpolate` undefined (the caller reads the file through the list-column reader, which
 * interpolates), or an error when that would lose a `clean` column.
 */
function finiteRows(t: SpectraTable, file: string, onNan: LoadOptions['onNan'], firstRow: number): (SpectraTable & { dropped?: number }) | undefined {
  const bad = t.spectra.findIndex((v) => !Number.isFinite(v));
  if (bad < 0) return t;
  const r = Math.floor(bad / t.d);
  if (onNan === 'error') {
    throw new StageError(`a non-finite value (${t.spectra[bad]}) in spectrum "${t.ids[r]}", channel ${bad % t.d}; set on_nan: drop or on_nan: interpolate to accept it (on_nan is error)`, `${file} row ${firstRow + r + 1}`);
  }
  if (onNan === 'drop') {
    const keep: number[] = [];
    for (let i = 0; i < t.n; i++) if (t.spectra.subarray(i * t.d, (i + 1) * t.d).every(Number.isFinite)) keep.push(i);
    return { ...subsetSpectra(t, keep), dropped: t.n - keep.length };
  }
  if (t.clean) throw new StageError(`${file} is a specflow table with a \`clean\` column, which interpolating from its \`spectrum\` column would lose; use on_nan: drop`, 'with.on_nan');
  return undefined;
}

export async function copySpectraStreamed(path: string, output: string, progress: (done: number, total: number) => void, onNan: LoadOptions['onNan'] = 'error'): Promise<{ n: number; d: number; notes?: string[] } | undefined> {
  const { RowFile, readSchema, shouldStream, batchRows } = await import('../arrow-batches.js');
  const probe = await RowFile.open(path, ['spectrum']).catch(() => undefined);
  probe?.close();
  if (!probe || !shouldStream(probe.n, probe.d)) return undefined;
  if ((await readSchema(path)).metadata.get(META.kind) !== 'spectra') return undefined;
  const { readSpectraBatches, spectraHeader, SpectraWriter } = await import('../arrow-io.js');
  const { rechunk } = await import('../rechunk.js');
  const { checkMetadataNames } = await import('./assemble.js');
  let writer: InstanceType<typeof SpectraWriter> | undefined;
  let done = 0;
  let dropped = 0;
  try {
    for await (const { t: batch } of rechunk(readSpectraBatches(path), batchRows(probe.d))) {
      const t = finiteRows(batch, basename(path), onNan, done);
      if (!t) {
        writer?.abort();
        return undefined; // read again through the list-column reader, which interpolates
      }
      if (!writer) {
        checkMetadataNames(t, basename(path));
        writer = new SpectraWriter(output, spectraHeader(t));
      }
      if (t.n > 0) writer.write(t);
      dropped += t.dropped ?? 0;
      done += batch.n;
      progress(done, probe.n);
    }
    if (!writer) return undefined;
    if (dropped === probe.n) throw new StageError('every spectrum has NaN/Inf values (on_nan: drop)', basename(path));
    writer.close();
  } catch (e) {
    writer?.abort();
    throw e;
  }
  return { n: probe.n - dropped, d: probe.d, ...(dropped ? { notes: [`dropped ${dropped} spectra with NaN/Inf values (on_nan: drop)`] } : {}) };
}
