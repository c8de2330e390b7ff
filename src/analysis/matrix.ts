/**
 * Points as one flat row-major Float64Array: the shape the analysis loops run
 * over at 10⁵–10⁶ points, where arrays of row objects cost more in
 * indirection than the arithmetic itself.
 */
import type { Rows } from './clustering-metrics.js';

/** Points as one row-major block: row i is data[i*d .. (i+1)*d). */
export interface Matrix {
  readonly data: Float64Array;
  readonly n: number;
  readonly d: number;
}

/** Either shape; functions taking Points convert rows once. */
export type Points = Rows | Matrix;

export function isMatrix(x: Points): x is Matrix {
  return (x as Matrix).data instanceof Float64Array && typeof (x as Matrix).d === 'number';
}

/** The points as a flat matrix (a copy unless they already are one). */
export function asMatrix(x: Points): Matrix {
  if (isMatrix(x)) return x;
  const n = x.length;
  const d = n > 0 ? x[0]!.length : 0;
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = x[i]!;
    for (let j = 0; j < d; j++) data[i * d + j] = row[j]!;
  }
  return { data, n, d };
}

/** A flat matrix from n × d row-major values (float32 codes widen exactly to float64). */
export function matrixOf(values: ArrayLike<number>, n: number, d: number): Matrix {
  return { data: Float64Array.from(values), n, d };
}

export function pointCount(x: Points): number {
  return isMatrix(x) ? x.n : x.length;
}

/** Row views into a matrix (no copy), for code written over rows. */
export function rowsOf(x: Matrix): Float64Array[] {
  return Array.from({ length: x.n }, (_, i) => x.data.subarray(i * x.d, (i + 1) * x.d));
}

/** The rows `idx` of x, as a new matrix. */
export function takeRows(x: Matrix, idx: ArrayLike<number>): Matrix {
  const data = new Float64Array(idx.length * x.d);
  for (let r = 0; r < idx.length; r++) data.set(x.data.subarray(idx[r]! * x.d, (idx[r]! + 1) * x.d), r * x.d);
  return { data, n: idx.length, d: x.d };
}

/** Squared distance between row i of `a` and row c of `b` (both with d columns). */
export function rowDistance(a: Float64Array, i: number, b: Float64Array, c: number, d: number): number {
  let s = 0;
  const ai = i * d;
  const bc = c * d;
  for (let j = 0; j < d; j++) {
    const t = a[ai + j]! - b[bc + j]!;
    s += t * t;
  }
  return s;
}

