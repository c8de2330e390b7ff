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
  const x = decimalValue(s);
  if (x !== undefined) return x;
  if (s === '' || NAN_RE.test(s)) return NaN;
  const inf = INF_RE.exec(s);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  return undefined;
}

const TEN = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * `Number(s)` when `s` matches NUMBER_RE, else undefined; a CSV of spectra is mostly
 * such cells, so this is the loader's inner loop. With at most 15 digits and a power
 * of ten up to 22, digits / 10^k is one correctly rounded operation on exact doubles
 * (Clinger's fast path), hence exactly Number(s); anything longer goes to Number.
 */
export function decimalValue(s: string): number | undefined {
  const n = s.length;
  let i = 0;
  let c = n > 0 ? s.charCodeAt(0) : 0;
  const negative = c === 45;
  if (c === 43 || c === 45) i++;
  let mantissa = 0;
  let digits = 0;
  let intDigits = 0;
  for (; i < n && (c = s.charCodeAt(i)) >= 48 && c <= 57; i++, intDigits++) mantissa = mantissa * 10 + (c - 48);
  digits = intDigits;
  let fraction = 0;
  if (i < n && s.charCodeAt(i) === 46) {
    for (i++; i < n && (c = s.charCodeAt(i)) >= 48 && c <= 57; i++, fraction++) mantissa = mantissa * 10 + (c - 48);
    digits += fraction;
  }
  if (digits === 0) return undefined;
  let exponent = 0;
  if (i < n && ((c = s.charCodeAt(i)) === 101 || c === 69)) {
    i++;
    let expNegative = false;
    if (i < n && ((c = s.charCodeAt(i)) === 43 || c === 45)) {
      expNegative = c === 45;
      i++;
    }
    const start = i;
    for (; i < n && (c = s.charCodeAt(i)) >= 48 && c <= 57; i++) exponent = exponent * 10 + (c - 48);
    if (i === start) return undefined;
    if (expNegative) exponent = -exponent;
  }
  if (i !== n) return undefined;
  const power = exponent - fraction;
  if (digits > 15 || power > 22 || power < -22) return Number(s);
  const value = power < 0 ? mantissa / TEN[-power]! : mantissa * TEN[power]!;
  return negative ? -value : value;
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
