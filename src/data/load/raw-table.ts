/**
 * A row/column view over a parsed source (CSV text or an Arrow table), so the
 * wide and long layouts are assembled by one code path whatever the file type.
 */
import type { Cell } from '../arrow-io.js';

export interface RawTable {
  /** File name for messages. */
  file: string;
  columns: string[];
  nRows: number;
  get(row: number, col: number): Cell;
  /** `row 3 (line 5)` for CSV, `row 3` for Arrow. */
  rowLabel(row: number): string;
  /** The header's own location, for errors about column names. */
  headerLabel: string;
}

/** What is known of a table before its rows: enough to resolve columns and name them in errors. */
export type RawHeader = Pick<RawTable, 'file' | 'columns' | 'headerLabel'>;

/** CSV rows; `firstRow` is the file's data-row index of rows[0] (for a batch of a streamed file). */
export function rawFromCsv(file: string, header: string[], rows: string[][], lines: number[], headerLine: number, firstRow = 0): RawTable {
  return {
    file,
    columns: header,
    nRows: rows.length,
    get: (r, c) => rows[r]![c]!,
    rowLabel: (r) => `row ${firstRow + r + 1} (line ${lines[r]})`,
    headerLabel: `line ${headerLine} (header)`,
  };
}

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NAN_RE = /^(nan|na|n\/a|null|none)$/i;
const INF_RE = /^([+-]?)(inf|infinity)$/i;

/**
 * A cell as a number: finite numbers, NaN for missing/NaN markers, ±Infinity,
 * or `undefined` when the text is not a number at all.
 */
export function cellToNumber(v: Cell): number | undefined {
  if (v === null) return NaN;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return undefined;
  const s = v.trim();
  if (s === '' || NAN_RE.test(s)) return NaN;
  if (NUMBER_RE.test(s)) return Number(s);
  const inf = INF_RE.exec(s);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  return undefined;
}

/** A spectrum value stored as float32 would become ±Infinity: treated like one (on_nan decides). */
export function beyondFloat32(x: number): boolean {
  return Number.isFinite(x) && !Number.isFinite(Math.fround(x));
}

/** Column header that names a channel position (e.g. `1002`, `1.5e3`). */
export function headerNumber(name: string): number | undefined {
  const s = name.trim();
  return NUMBER_RE.test(s) ? Number(s) : undefined;
}

/** Metadata cells: numbers when every non-empty value is one, else strings. */
export function metadataColumn(raw: RawTable, col: number, rows: number[]): Cell[] {
  return metadataCells(rows.map((r) => raw.get(r, col)));
}

/** A metadata column's cells as read, typed: numbers when every non-empty value is one, else strings. */
export function metadataCells(values: Cell[]): Cell[] {
  const allNumeric = values.every((v) => {
    if (v === null || typeof v === 'boolean') return true;
    if (typeof v === 'number') return true;
    const s = v.trim();
    return s === '' || NUMBER_RE.test(s);
  });
  return values.map((v) => {
    if (v === null) return null;
    if (typeof v !== 'string') return v;
    const s = v.trim();
    if (s === '') return null;
    return allNumeric ? Number(s) : v;
  });
}

/** A label or id cell as text; '' and null are missing. */
export function cellToText(v: Cell): string | null {
  if (v === null) return null;
  const s = String(v).trim();
  return s === '' ? null : s;
}
