/** Per-spectrum normalisations (the chemotools / RamanSPy vocabulary). */

export type NormalizeMethod = 'snv' | 'msc' | 'vector' | 'minmax' | 'max' | 'area';

/** Standard normal variate: centre and scale each spectrum by its own mean and (population) sd. */
export function snv(y: ArrayLike<number>): Float64Array {
  const n = y.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (y[i]! - mean) ** 2;
  const sd = Math.sqrt(ss / n);
  return Float64Array.from(y, (v) => (sd > 0 ? (v - mean) / sd : 0));
}

/** Multiplicative scatter correction: regress y = a + b·ref, return (y − a)/b. */
export function msc(y: ArrayLike<number>, ref: ArrayLike<number>): Float64Array {
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
    sxy += (ref[i]! - mr) * (y[i]! - my);
    sxx += (ref[i]! - mr) ** 2;
  }
  const b = sxx > 0 ? sxy / sxx : 1;
  const a = my - b * mr;
  return Float64Array.from(y, (v) => (b !== 0 ? (v - a) / b : v - a));
}

/** Trapezoidal integral of y over x. */
export function trapezoid(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 1; i < y.length; i++) s += ((y[i]! + y[i - 1]!) / 2) * (x[i]! - x[i - 1]!);
  return s;
}

/** Divide by a per-spectrum scale; `undefined` when the scale is zero (caller reports which spectrum). */
export function normalize(method: Exclude<NormalizeMethod, 'snv' | 'msc'>, x: ArrayLike<number>, y: ArrayLike<number>): Float64Array | undefined {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < y.length; i++) {
    min = Math.min(min, y[i]!);
    max = Math.max(max, y[i]!);
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
    case 'area': {
      // Area over the axis, divided by the axis span: every spectrum ends up with the same
      // area (the span) and a mean level ≈ 1, whatever the axis unit or channel count, which
      // keeps count-like magnitudes for Poisson losses (≈ "rows sum to d" on an even grid).
      const span = x[x.length - 1]! - x[0]!;
      scale = span > 0 ? trapezoid(x, y) / span : NaN;
      break;
    }
  }
  if (!(Math.abs(scale) > 0) || !Number.isFinite(scale)) return undefined;
  return Float64Array.from(y, (v) => (v - offset) / scale);
}
