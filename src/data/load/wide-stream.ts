/**
 * A wide table (one spectrum a row) read batch by batch and written as a spectra
 * table batch by batch: the same rows, checks, notes and bytes as assembleWide +
 * writeSpectra, without ever holding every spectrum.
 *
 * What must stay for the whole file is small per row: the ids seen (to reject a
 * repeated one) and, when the table has metadata columns, their cells plus each
 * row's id and label, because a column's Arrow type depends on all its values
 * (`octane` is int32 only if every value is a whole number) and the schema comes
 * first in the file. Then the spectra wait in a raw float32 file beside the
 * output until the types are known.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { StageError } from '../../core/stage-api.js';
import { batchRows } from '../arrow-batches.js';
import { SpectraWriter, spectraHeader, type Cell, type SpectraTable } from '../arrow-io.js';
import { checkMetadataNames, droppedRows, IdRegistry, planWide, readWideRow, wideShell, type LoadOptions } from './assemble.js';
import { cellToText, metadataCells, type RawHeader, type RawTable } from './raw-table.js';

/** Rows of the source; `first` is the source's row index of the batch's row 0. */
export interface RowBatch {
  raw: RawTable;
  first: number;
}

export interface StreamedLoad {
  n: number;
  d: number;
  notes: string[];
}

export interface WideStreamSource {
  head: RawHeader;
  batches: AsyncIterable<RowBatch>;
  /** How to name any row of the source (for "first seen at"), e.g. `row 3 (line 5)`. */
  rowLabel(row: number): string;
  /** The error when the source has no rows at all. */
  empty: string;
}

/** How a table's rows become spectra: fixed before the first row is read. */
export interface RowLayout {
  d: number;
  /** Everything of the spectra table but its rows (labels: [] when there is a label column). */
  shell: SpectraTable;
  idCol: number;
  labelCol: number;
  metaCols: number[];
  notes: string[];
  /** Row `r` of the batch (whose id is `id`) into `y` (length d); false when on_nan drops it. */
  read(batch: RowBatch, r: number, y: Float64Array, notes: string[], id: string | undefined): boolean;
  /** Check the ids of rows on_nan drops too (the list layout checks every id before any spectrum). */
  idsOfDropped: boolean;
}

export async function writeWideStreamed(source: WideStreamSource, opts: LoadOptions, output: string): Promise<StreamedLoad> {
  const plan = planWide(source.head, opts);
  const shell: SpectraTable = { ...wideShell(plan, opts), n: 0, ids: [], spectra: new Float32Array(0), columns: {} };
  if (plan.labelCol >= 0) shell.labels = [];
  return writeRowsStreamed(source, {
    d: plan.d, shell, idCol: plan.idCol, labelCol: plan.labelCol, metaCols: plan.metaCols, notes: plan.notes, idsOfDropped: false,
    read: ({ raw }, r, y, notes) => readWideRow(raw, r, plan, opts, y, notes),
  }, output);
}

export async function writeRowsStreamed(source: WideStreamSource, layout: RowLayout, output: string): Promise<StreamedLoad> {
  const { head } = source;
  const { d, shell } = layout;
  const notes = [...layout.notes];
  const metaNames = layout.metaCols.map((c) => head.columns[c]!);
  checkMetadataNames({ ...shell, columns: Object.fromEntries(metaNames.map((m) => [m, []])) }, head.file);
  const rows = batchRows(d);
  const registry = layout.idCol >= 0 ? new IdRegistry(source.rowLabel) : undefined;
  const spill = metaNames.length > 0 ? new RowSpill(`${output}.rows.tmp`, d) : undefined;
  // with metadata columns: every kept row's id, label and metadata cells, until the types are known
  const all = { ids: [] as string[], labels: [] as (string | null)[], meta: metaNames.map((): Cell[] => []) };
  let writer: SpectraWriter | undefined;
  let batch = { ids: [] as string[], labels: [] as (string | null)[], spectra: new Float32Array(rows * d) };
  let total = 0;
  let kept = 0;
  const flush = (): void => {
    const m = batch.ids.length;
    if (m === 0) return;
    if (spill) {
      spill.append(batch.spectra.subarray(0, m * d));
      for (const id of batch.ids) all.ids.push(id);
      for (const l of batch.labels) all.labels.push(l);
    } else {
      writer ??= new SpectraWriter(output, spectraHeader(shell));
      writer.write(rowsOf(shell, batch.ids, batch.labels, batch.spectra.subarray(0, m * d), {}));
    }
    batch = { ids: [], labels: [], spectra: batch.spectra };
  };
  try {
    const y = new Float64Array(d);
    for await (const b of source.batches) {
      const { raw, first } = b;
      const idOf = (r: number): string => (registry
        ? registry.take(own(raw.get(r, layout.idCol)), first + r, `${raw.file} ${raw.rowLabel(r)}, column "${raw.columns[layout.idCol]}"`)
        : String(first + r + 1));
      for (let r = 0; r < raw.nRows; r++) {
        total++;
        const id = layout.idsOfDropped ? idOf(r) : undefined;
        if (!layout.read(b, r, y, notes, id)) continue;
        batch.spectra.set(y, batch.ids.length * d);
        batch.ids.push(id ?? idOf(r));
        if (layout.labelCol >= 0) batch.labels.push(own(cellToText(raw.get(r, layout.labelCol))));
        layout.metaCols.forEach((c, k) => all.meta[k]!.push(own(raw.get(r, c))));
        kept++;
        if (batch.ids.length === rows) flush();
      }
    }
    flush();
    if (total === 0) throw new StageError(source.empty, head.file);
    notes.push(...droppedRows(total, kept, head.file));
    if (spill) {
      const columns = Object.fromEntries(metaNames.map((name, k) => [name, metadataCells(all.meta[k]!)]));
      writer = new SpectraWriter(output, spectraHeader({ ...shell, columns }));
      const values = new Float32Array(rows * d);
      for (let a = 0; a < kept; a += rows) {
        const b = Math.min(kept, a + rows);
        spill.read(a, b, values);
        const cells = Object.fromEntries(metaNames.map((name) => [name, columns[name]!.slice(a, b)]));
        writer.write(rowsOf(shell, all.ids.slice(a, b), all.labels.slice(a, b), values.subarray(0, (b - a) * d), cells));
      }
    }
    writer!.close();
  } catch (e) {
    writer?.abort();
    rmSync(output, { force: true });
    throw e;
  } finally {
    spill?.remove();
  }
  return { n: kept, d, notes };
}

function rowsOf(shell: SpectraTable, ids: string[], labels: (string | null)[], spectra: Float32Array, columns: Record<string, Cell[]>): SpectraTable {
  const t: SpectraTable = { ...shell, n: ids.length, ids, spectra, columns };
  if (shell.labels) t.labels = labels;
  return t;
}

/**
 * A copy of a cell's text that keeps nothing else alive: V8 cuts a substring as a view
 * of the whole piece of text it came from, and one kept id would pin a megabyte.
 */
function own<T extends Cell>(v: T): T {
  return (typeof v === 'string' ? (` ${v}`).slice(1) : v) as T;
}

/** Rows of float32 values in a scratch file, appended in order and read back by row range. */
class RowSpill {
  private readonly fd: number;
  private rows = 0;
  constructor(private readonly path: string, private readonly d: number) {
    this.fd = openSync(path, 'w+');
  }

  append(values: Float32Array): void {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    let at = 0;
    while (at < bytes.byteLength) at += writeSync(this.fd, bytes, at, bytes.byteLength - at, this.rows * this.d * 4 + at);
    this.rows += values.length / this.d;
  }

  /** Rows [a, b) into the start of `out`. */
  read(a: number, b: number, out: Float32Array): void {
    const bytes = new Uint8Array(out.buffer, out.byteOffset, (b - a) * this.d * 4);
    let at = 0;
    while (at < bytes.byteLength) {
      const got = readSync(this.fd, bytes, at, bytes.byteLength - at, a * this.d * 4 + at);
      if (got === 0) throw new Error(`row spill ${this.path}: unexpected end at row ${a}`);
      at += got;
    }
  }

  remove(): void {
    closeSync(this.fd);
    rmSync(this.path, { force: true });
  }
}
