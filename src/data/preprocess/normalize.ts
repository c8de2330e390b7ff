/**
 * Per-spectrum normalisations (the chemotools / RamanSPy vocabulary). Plain loops
 * over typed arrays: `Float64Array.from(y, fn)` costs ~350 ns a value in V8
 * (measured, Node 20), which made `snv` on 10⁵ × 1024 take a minute.
 */

import { wasmAreaRows, type AreaRows } from './row-kernels.js';

export type NormalizeMethod = 'snv' | 'msc' | 'vector' | 'minmax' | 'max' | 'area';

/** Standard normal variate: centre and scale each spectrum by its own mean and (population) sd. */
export function snv(y: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(y);
  snvInto(out, out);
  return out;
}

/**
 * `snv` of one row written into `out` (which may be `y` itself). Typed-array rows in
 * and out only, so V8 keeps one fast shape for the loops (the preprocess hot path).
 */
export function snvInto(y: Float64Array, out: Float64Array): void {
  const n = y.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const e = y[i]! - mean;
    ss += e * e;
  }
  const sd = Math.sqrt(ss / n);
  if (sd > 0) for (let i = 0; i < n; i++) out[i] = (y[i]! - mean) / sd;
  else out.fill(0, 0, n);
}

/**
 * Multiplicative scatter correction: regress y = a + b·ref, return (y − a)/b; `undefined` when
 * the slope b is zero (a flat or all-zero spectrum: nothing to scale by; caller reports which).
 */
export function msc(y: ArrayLike<number>, ref: ArrayLike<number>): Float64Array | undefined {
  const n = y.length;
  let mr = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mr += ref[i]!;
    my += y[i]!;
  }
  mr /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const e = ref[i]! - mr;
    sxy += e * (y[i]! - my);
    sxx += e * e;
  }
  const b = sxx > 0 ? sxy / sxx : 1;
  if (!usableScale(b)) return undefined;
  const a = my - b * mr;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (y[i]! - a) / b;
  return out;
}

/** Trapezoidal integral of y over x. */
export function trapezoid(x: ArrayLike<number>, y: ArrayLike<number>): number {
  return trapezoidOf(x instanceof Float64Array ? x : Float64Array.from(x), y instanceof Float64Array ? y : Float64Array.from(y));
}

/** `trapezoid` on typed-array rows (the hot path). */
export function trapezoidOf(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 1; i < y.length; i++) s += ((y[i]! + y[i - 1]!) / 2) * (x[i]! - x[i - 1]!);
  return s;
}

/**
 * The area step's kernels on rows over the axis `x`: the wasm SIMD ones (row-kernels.ts)
 * when available, else trapezoidOf and a division loop, which give the same bits.
 */
export function areaRows(x: Float64Array): AreaRows {
  return (
    wasmAreaRows(x) ?? {
      integrate: (y) => trapezoidOf(x, y),
      divide(y, out, scale) {
        for (let i = 0; i < y.length; i++) out[i] = y[i]! / scale;
      },
    }
  );
}

/** Can a row be divided by this scale (non-zero and finite)? */
export function usableScale(scale: number): boolean {
  return Math.abs(scale) > 0 && Number.isFinite(scale);
}

/** Divide by a per-spectrum scale; `undefined` when the scale is zero (caller reports which spectrum). */
export function normalize(method: Exclude<NormalizeMethod, 'snv' | 'msc'>, x: ArrayLike<number>, y: ArrayLike<number>): Float64Array | undefined {
  const out = Float64Array.from(y);
  return normalizeInto(method, x instanceof Float64Array ? x : Float64Array.from(x), out, out) ? out : undefined;
}

/** The area over the axis divided by the axis span (NaN on a span ≤ 0): what `area` divides by. */
export function meanLevel(x: Float64Array, y: Float64Array, area = trapezoidOf(x, y)): number {
  const span = x[x.length - 1]! - x[0]!;
  return span > 0 ? area / span : NaN;
}

/**
 * `normalize` of one row into `out` (may be `y`); false, with `out` untouched, when the
 * scale is zero or not finite. `area` may be given the row's mean level when the
 * caller has computed it already (to check its sign) so the row is integrated once.
 */
export function normalizeInto(method: Exclude<NormalizeMethod, 'snv' | 'msc'>, x: Float64Array, y: Float64Array, out: Float64Array, level?: number): boolean {
  let min = Infinity;
  let max = -Infinity;
  if (method === 'minmax' || method === 'max') {
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
      if (Number.isNaN(v)) {
        // as Math.min/max: one NaN makes both extremes NaN
        min = NaN;
        max = NaN;
        break;
      }
    }
  }
  let offset = 0;
  let scale: number;
  switch (method) {
    case 'vector': {
      let ss = 0;
      for (let i = 0; i < y.length; i++) ss += y[i]! * y[i]!;
      scale = Math.sqrt(ss);
      break;
    }
    case 'minmax':
      offset = min;
      scale = max - min;
      break;
    case 'max':
      scale = max;
      break;
    case 'area':
      // Area over the axis, divided by the axis span: every spectrum ends up with the same
      // area (the span) and a mean level ≈ 1, whatever the axis unit or channel count, which
      // keeps count-like magnitudes for Poisson losses (≈ "rows sum to d" on an even grid).
      scale = level ?? meanLevel(x, y);
      break;
  }
  if (!usableScale(scale)) return false;
  if (offset === 0) for (let i = 0; i < y.length; i++) out[i] = y[i]! / scale;
  else for (let i = 0; i < y.length; i++) out[i] = (y[i]! - offset) / scale;
  return true;
}
