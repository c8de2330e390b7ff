/**
 * Raw rows → SpectraTable for the two layouts loaders meet:
 * wide (one spectrum a row, channel positions in the header) and long
 * (`id, x, y` rows, one point a row). Every rejection names file, row and column.
 */
import { StageError } from '../../core/stage-api.js';
import { SPECTRA_RESERVED_COLUMNS, type Cell, type SpectraTable } from '../arrow-io.js';
import { beyondFloat32, cellToNumber, cellToText, headerNumber, metadataColumn, type RawHeader, type RawTable } from './raw-table.js';

export type OnNan = 'error' | 'drop' | 'interpolate';

export interface LoadOptions {
  id?: string;
  label?: string;
  keep?: string[];
  x?: string;
  y?: string;
  unit?: string;
  axisName?: string;
  onNan: OnNan;
}

export interface Loaded {
  table: SpectraTable;
  /** Things the user should know (rows dropped, values interpolated). */
  notes: string[];
}

/** Conventional axis names for common units, so plots get a sensible label. */
export function axisNameForUnit(unit: string): string {
  const u = unit.trim().toLowerCase();
  if (['nm', 'µm', 'um', 'micron', 'å', 'angstrom'].includes(u)) return 'wavelength';
  if (['cm-1', 'cm^-1', '1/cm', 'cm⁻¹'].includes(u)) return 'wavenumber';
  if (['ev', 'kev', 'mev'].includes(u)) return 'energy';
  if (['m/z', 'da', 'th'].includes(u)) return 'mass-to-charge';
  if (['hz', 'mhz', 'ppm'].includes(u)) return 'frequency';
  if (['s', 'min', 'ms'].includes(u)) return 'time';
  return u ? 'axis' : 'feature';
}

function findColumn(raw: RawHeader, name: string, role: string): number {
  const c = raw.columns.indexOf(name);
  if (c < 0) {
    throw new StageError(
      `${role} column "${name}" does not exist; columns are ${preview(raw.columns)}`,
      `${raw.file} ${raw.headerLabel}, column "${name}"`,
    );
  }
  return c;
}

/** An explicitly named column must exist; the conventional name is used when present. */
export function resolveColumn(raw: RawHeader, given: string | undefined, conventional: string, role: string): number {
  if (given !== undefined) return findColumn(raw, given, role);
  const c = raw.columns.findIndex((h) => h.toLowerCase() === conventional);
  return c;
}

function preview(names: string[]): string {
  const shown = names.slice(0, 8).map((n) => `"${n}"`).join(', ');
  return names.length > 8 ? `${shown}, … (${names.length} in all)` : shown;
}

export function readIdColumn(raw: RawTable, idCol: number, rows: number[]): string[] {
  if (idCol < 0) return rows.map((r) => String(r + 1));
  const ids = new IdRegistry((r) => raw.rowLabel(r));
  return rows.map((r) => ids.take(raw.get(r, idCol), r, `${raw.file} ${raw.rowLabel(r)}, column "${raw.columns[idCol]}"`));
}

/**
 * Ids seen so far, each with the row it was first seen at, so that a file read in
 * batches rejects a repeated id as the whole-file reader does.
 */
export class IdRegistry {
  private readonly seen = new Map<string, number>();
  /** `labelOf(row)`: how to name a row that may belong to an earlier batch. */
  constructor(private readonly labelOf: (row: number) => string) {}

  /** The id of `row`, which must be present and new. */
  take(cell: Cell, row: number, where: string): string {
    const id = cellToText(cell);
    if (id === null) throw new StageError('missing id', where);
    const first = this.seen.get(id);
    if (first !== undefined) throw new StageError(`duplicate id "${id}" (first seen at ${this.labelOf(first)})`, where);
    this.seen.set(id, row);
    return id;
  }
}

function nanMessage(v: Cell, onNan: OnNan): string {
  const n = typeof v === 'number' ? v : cellToNumber(v);
  if (n !== undefined && beyondFloat32(n)) {
    return `"${String(v)}" is beyond the float32 range of spectrum values (±3.4e38); set on_nan: drop or on_nan: interpolate to accept it (on_nan is ${onNan})`;
  }
  const shown = v === null || (typeof v === 'string' && v.trim() === '') ? 'an empty cell' : `"${String(v)}"`;
  return `${shown} (NaN/Inf) in a spectrum; set on_nan: drop or on_nan: interpolate to accept it (on_nan is ${onNan})`;
}

/**
 * Replace non-finite values by linear interpolation between the nearest finite
 * neighbours along `x` (constant extrapolation at the ends). False if none is finite.
 */
export function interpolateNonFinite(x: ArrayLike<number>, y: Float64Array | Float32Array): boolean {
  const finite: number[] = [];
  for (let i = 0; i < y.length; i++) if (Number.isFinite(y[i]!)) finite.push(i);
  if (finite.length === 0) return false;
  if (finite.length === y.length) return true;
  let k = 0;
  for (let i = 0; i < y.length; i++) {
    if (Number.isFinite(y[i]!)) continue;
    while (k + 1 < finite.length && finite[k + 1]! < i) k++;
    const left = finite[k]! < i ? finite[k]! : -1;
    const right = finite.find((j) => j > i) ?? -1;
    if (left < 0) y[i] = y[right]!;
    else if (right < 0) y[i] = y[left]!;
    else {
      const t = (x[i]! - x[left]!) / (x[right]! - x[left]!);
      y[i] = y[left]! + t * (y[right]! - y[left]!);
    }
  }
  return true;
}

/** How a wide table's columns map to a spectra table: decided from the header alone. */
export interface WidePlan {
  idCol: number;
  labelCol: number;
  metaCols: number[];
  /** Spectrum columns in ascending axis order. */
  channelCols: number[];
  /** Axis positions in ascending order. */
  axis: number[];
  /** Non-numeric channel headers (features), in axis order. */
  channelNames?: string[];
  d: number;
  notes: string[];
}

export function planWide(raw: RawHeader, opts: LoadOptions): WidePlan {
  const notes: string[] = [];
  const idCol = resolveColumn(raw, opts.id, 'id', 'id');
  const labelCol = resolveColumn(raw, opts.label, 'label', 'label');
  const keepCols = (opts.keep ?? []).map((k) => findColumn(raw, k, 'keep'));
  const reserved = new Set([idCol, labelCol, ...keepCols]);
  const rest = raw.columns.map((_, c) => c).filter((c) => !reserved.has(c));
  const numericHeaders = rest.filter((c) => headerNumber(raw.columns[c]!) !== undefined);
  let channelCols: number[];
  let metaCols = keepCols;
  let axisValues: number[];
  let channelNames: string[] | undefined;
  if (numericHeaders.length > 0) {
    channelCols = numericHeaders;
    const other = rest.filter((c) => !numericHeaders.includes(c));
    // With channel positions in the header, the other columns are sample metadata (e.g. octane):
    // kept unless the user listed exactly which ones to keep.
    if (opts.keep === undefined) metaCols = other;
    else if (other.length > 0) notes.push(`dropped columns not listed in keep: ${other.map((c) => raw.columns[c]).join(', ')}`);
    axisValues = channelCols.map((c) => headerNumber(raw.columns[c]!)!);
  } else {
    channelCols = rest;
    axisValues = channelCols.map((_, i) => i);
    channelNames = channelCols.map((c) => raw.columns[c]!);
  }
  if (channelCols.length === 0) throw new StageError('no spectrum columns: every column is id, label or keep', `${raw.file} ${raw.headerLabel}`);
  // Instruments often write descending wavenumbers; store an ascending axis.
  const order = channelCols.map((_, i) => i);
  if (axisValues.length > 1) {
    const ascending = axisValues.every((v, i) => i === 0 || v > axisValues[i - 1]!);
    const descending = axisValues.every((v, i) => i === 0 || v < axisValues[i - 1]!);
    if (!ascending && !descending) {
      const bad = axisValues.findIndex((v, i) => i > 0 && (v - axisValues[i - 1]!) * (axisValues[1]! - axisValues[0]!) <= 0);
      throw new StageError('channel positions in the header are not monotonic', `${raw.file} ${raw.headerLabel}, column "${raw.columns[channelCols[bad]!]}"`);
    }
    if (descending) order.reverse();
  }
  return {
    idCol, labelCol, metaCols, notes, d: channelCols.length,
    channelCols: order.map((o) => channelCols[o]!),
    axis: order.map((o) => axisValues[o]!),
    ...(channelNames ? { channelNames: order.map((o) => channelNames![o]!) } : {}),
  };
}

/**
 * Row `r`'s spectrum into `y` (length d), on_nan applied; false when on_nan drops it.
 * Errors name the row and column.
 */
export function readWideRow(raw: RawTable, r: number, plan: WidePlan, opts: LoadOptions, y: Float64Array, notes: string[]): boolean {
  const cols = plan.channelCols;
  let bad = -1;
  for (let j = 0; j < plan.d; j++) {
    const c = cols[j]!;
    const v = raw.get(r, c);
    const x = cellToNumber(v);
    if (x === undefined) throw new StageError(`"${String(v)}" is not a number`, `${raw.file} ${raw.rowLabel(r)}, column "${raw.columns[c]}"`);
    if ((!Number.isFinite(x) || beyondFloat32(x)) && bad < 0) bad = j;
    y[j] = beyondFloat32(x) ? x * Infinity : x;
  }
  if (bad < 0) return true;
  const c = cols[bad]!;
  const where = `${raw.file} ${raw.rowLabel(r)}, column "${raw.columns[c]}"`;
  if (opts.onNan === 'error') throw new StageError(nanMessage(raw.get(r, c), opts.onNan), where);
  if (opts.onNan === 'drop') return false;
  if (!interpolateNonFinite(plan.axis, y)) throw new StageError('every value of this spectrum is NaN/Inf; nothing to interpolate from', where);
  notes.push(`interpolated NaN/Inf values at ${raw.rowLabel(r)}`);
  return true;
}

/** The note for rows dropped by on_nan, and the error when none is left. */
export function droppedRows(total: number, kept: number, file: string): string[] {
  if (kept === 0) throw new StageError('no spectra left after dropping those with NaN/Inf', file);
  return kept < total ? [`dropped ${total - kept} spectra with NaN/Inf values (on_nan: drop)`] : [];
}

/** The table-wide part of a wide layout's spectra table (everything but the rows). */
export function wideShell(plan: WidePlan, opts: LoadOptions): Pick<SpectraTable, 'd' | 'axis' | 'axisUnit' | 'axisName' | 'metadata'> {
  const unit = opts.unit ?? '';
  const metadata: Record<string, string> = {};
  if (plan.channelNames) metadata.channel_names = JSON.stringify(plan.channelNames);
  return {
    d: plan.d,
    axis: Float64Array.from(plan.axis),
    axisUnit: unit,
    axisName: opts.axisName ?? (plan.channelNames ? 'feature' : axisNameForUnit(unit)),
    metadata,
  };
}

export function assembleWide(raw: RawTable, opts: LoadOptions): Loaded {
  const plan = planWide(raw, opts);
  const notes = [...plan.notes];
  const d = plan.d;
  const keptRows: number[] = [];
  const rowsData: Float64Array[] = [];
  for (let r = 0; r < raw.nRows; r++) {
    const y = new Float64Array(d);
    if (!readWideRow(raw, r, plan, opts, y, notes)) continue;
    keptRows.push(r);
    rowsData.push(y);
  }
  notes.push(...droppedRows(raw.nRows, keptRows.length, raw.file));
  const n = keptRows.length;
  const spectra = new Float32Array(n * d);
  rowsData.forEach((y, i) => spectra.set(y, i * d));
  const ids = readIdColumn(raw, plan.idCol, keptRows);
  const columns: Record<string, Cell[]> = {};
  for (const c of plan.metaCols) columns[raw.columns[c]!] = metadataColumn(raw, c, keptRows);
  const table: SpectraTable = { n, ids, spectra, columns, ...wideShell(plan, opts) };
  if (plan.labelCol >= 0) table.labels = keptRows.map((r) => cellToText(raw.get(r, plan.labelCol)));
  return { table, notes };
}

/** One spectrum of a long layout or one JCAMP file, before grids are compared. */
export interface Group {
  id: string;
  label: string | null;
  x: number[];
  y: number[];
  /** Location of each point, for messages. */
  where: string[];
  meta: Record<string, Cell>;
}

export function assembleLong(raw: RawTable, opts: LoadOptions): Loaded {
  const idCol = resolveColumn(raw, opts.id, 'id', 'id');
  if (idCol < 0) throw new StageError(`long layout needs an id column; columns are ${preview(raw.columns)} (set id:)`, `${raw.file} ${raw.headerLabel}`);
  const xCol = findColumn(raw, opts.x ?? 'x', 'x');
  const yCol = findColumn(raw, opts.y ?? 'y', 'y');
  const labelCol = resolveColumn(raw, opts.label, 'label', 'label');
  const keepCols = (opts.keep ?? []).map((k) => findColumn(raw, k, 'keep'));
  const groups = new Map<string, Group>();
  for (let r = 0; r < raw.nRows; r++) {
    const at = (c: number) => `${raw.file} ${raw.rowLabel(r)}, column "${raw.columns[c]}"`;
    const id = cellToText(raw.get(r, idCol));
    if (id === null) throw new StageError('missing id', at(idCol));
    const xv = raw.get(r, xCol);
    const x = cellToNumber(xv);
    if (x === undefined) throw new StageError(`"${String(xv)}" is not a number`, at(xCol));
    if (!Number.isFinite(x)) throw new StageError('x must be a finite number', at(xCol));
    const yv = raw.get(r, yCol);
    const y = cellToNumber(yv);
    if (y === undefined) throw new StageError(`"${String(yv)}" is not a number`, at(yCol));
    const label = labelCol >= 0 ? cellToText(raw.get(r, labelCol)) : null;
    let g = groups.get(id);
    if (!g) {
      const meta: Record<string, Cell> = {};
      for (const c of keepCols) meta[raw.columns[c]!] = raw.get(r, c);
      g = { id, label, x: [], y: [], where: [], meta };
      groups.set(id, g);
    } else if (labelCol >= 0 && g.label !== label) {
      throw new StageError(`label "${label}" differs from "${g.label}" given earlier for id "${id}"`, at(labelCol));
    }
    if ((!Number.isFinite(y) || beyondFloat32(y)) && opts.onNan === 'error') throw new StageError(nanMessage(yv, opts.onNan), at(yCol));
    g.x.push(x);
    g.y.push(y);
    g.where.push(at(xCol));
  }
  const loaded = fromGroups([...groups.values()], raw.file, opts, labelCol >= 0);
  // Metadata columns kept in long layout: same type inference as wide.
  for (const name of opts.keep ?? []) {
    const values = loaded.table.ids.map((id) => groups.get(id)!.meta[name] ?? null);
    loaded.table.columns[name] = inferCells(values);
  }
  return loaded;
}

function inferCells(values: Cell[]): Cell[] {
  const numeric = values.every((v) => v === null || typeof v === 'number' || (typeof v === 'string' && (v.trim() === '' || cellToNumber(v) !== undefined && Number.isFinite(cellToNumber(v)!))));
  return values.map((v) => {
    if (v === null || typeof v !== 'string') return v;
    if (v.trim() === '') return null;
    return numeric ? Number(v) : v;
  });
}

/**
 * One spectrum given point by point, sorted by x, with on_nan applied (undefined when it
 * drops the spectrum); `where(i)` names point i for errors.
 */
export function sortedSpectrum(
  id: string, xs: ArrayLike<number>, ys: ArrayLike<number>, where: (i: number) => string, opts: LoadOptions, notes: string[],
): { x: Float64Array; y: Float64Array } | undefined {
  const order = Array.from({ length: xs.length }, (_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  const x = Float64Array.from(order.map((i) => xs[i]!));
  const y = Float64Array.from(order.map((i) => ys[i]!));
  for (let i = 1; i < x.length; i++) {
    if (x[i] === x[i - 1]) throw new StageError(`duplicate x = ${x[i]} for id "${id}"`, where(order[i]!));
  }
  const badAt = y.findIndex((v) => !Number.isFinite(v) || beyondFloat32(v));
  if (badAt >= 0) {
    const at = where(order[badAt]!);
    y.forEach((v, i) => { if (beyondFloat32(v)) y[i] = v * Infinity; });
    if (opts.onNan === 'error') throw new StageError(nanMessage(ys[order[badAt]!]!, 'error'), at);
    if (opts.onNan === 'drop') return undefined;
    if (!interpolateNonFinite(x, y)) throw new StageError(`every value of spectrum "${id}" is NaN/Inf; nothing to interpolate from`, at);
    notes.push(`interpolated NaN/Inf values in spectrum "${id}"`);
  }
  return { x, y };
}

/**
 * Spectra given point by point: sort each by x, apply on_nan, and put them on
 * one grid when they all share the same x values, else keep them ragged.
 */
export function fromGroups(groups: Group[], file: string, opts: LoadOptions, hasLabels: boolean): Loaded {
  const notes: string[] = [];
  const kept: { g: Group; x: Float64Array; y: Float64Array }[] = [];
  for (const g of groups) {
    const sorted = sortedSpectrum(g.id, g.x, g.y, (i) => g.where[i]!, opts, notes);
    if (sorted) kept.push({ g, ...sorted });
  }
  if (kept.length < groups.length) notes.push(`dropped ${groups.length - kept.length} spectra with NaN/Inf values (on_nan: drop)`);
  if (kept.length === 0) throw new StageError('no spectra left after dropping those with NaN/Inf', file);
  const first = kept[0]!.x;
  const common = kept.every(({ x }) => x.length === first.length && x.every((v, i) => Math.abs(v - first[i]!) <= 1e-9 * Math.max(1, Math.abs(v))));
  const unit = opts.unit ?? '';
  const table: SpectraTable = {
    n: kept.length,
    d: common ? first.length : 0,
    ids: kept.map(({ g }) => g.id),
    spectra: new Float32Array(0),
    axis: common ? Float64Array.from(first) : new Float64Array(0),
    axisUnit: unit,
    axisName: opts.axisName ?? axisNameForUnit(unit),
    columns: {},
    metadata: {},
  };
  if (hasLabels) table.labels = kept.map(({ g }) => g.label);
  if (common) {
    table.spectra = new Float32Array(kept.length * first.length);
    kept.forEach(({ y }, i) => table.spectra.set(y, i * first.length));
  } else {
    table.ragged = { x: kept.map(({ x }) => x), y: kept.map(({ y }) => Float32Array.from(y)) };
    notes.push(`${kept.length} spectra are on different x grids; add a resample step before steps that need one grid`);
  }
  return { table, notes };
}

/** A metadata column may not take a name the spectra table itself uses. */
export function checkMetadataNames(table: SpectraTable, file: string): void {
  for (const name of Object.keys(table.columns)) {
    if (SPECTRA_RESERVED_COLUMNS.has(name)) {
      throw new StageError(
        `metadata column "${name}" clashes with a reserved spectra column (${[...SPECTRA_RESERVED_COLUMNS].join(', ')}); rename it, or list the columns to carry with keep:`,
        `${file}, column "${name}"`,
      );
    }
  }
}
