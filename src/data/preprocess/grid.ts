/** Cropping and linear resampling of spectra given on an axis. */

/** Indices [start, end) of the axis values inside [min, max] (axis ascending). */
export function cropRange(axis: ArrayLike<number>, min = -Infinity, max = Infinity): [number, number] {
  let start = 0;
  while (start < axis.length && axis[start]! < min) start++;
  let end = axis.length;
  while (end > start && axis[end - 1]! > max) end--;
  return [start, end];
}

/** An evenly spaced grid from min to max with either a step or a number of points. */
export function makeGrid(min: number, max: number, spec: { step?: number; n?: number }): Float64Array {
  if (spec.n !== undefined) {
    if (spec.n === 1) return Float64Array.of(min);
    return Float64Array.from({ length: spec.n }, (_, i) => min + ((max - min) * i) / (spec.n! - 1));
  }
  const step = spec.step!;
  // Tolerate floating-point error so that e.g. 900..1700 step 2 includes 1700.
  const count = Math.floor((max - min) / step + 1e-9) + 1;
  return Float64Array.from({ length: count }, (_, i) => min + i * step);
}

/**
 * Piecewise-linear interpolation of (x, y) at the points of `grid`; x ascending.
 * Grid points outside [x₀, x_last] are an error for the caller to prevent.
 */
export function interpolateLinear(x: ArrayLike<number>, y: ArrayLike<number>, grid: ArrayLike<number>): Float64Array {
  const out = new Float64Array(grid.length);
  let k = 0;
  for (let i = 0; i < grid.length; i++) {
    const g = grid[i]!;
    while (k < x.length - 2 && x[k + 1]! < g) k++;
    const x0 = x[k]!;
    const x1 = x[k + 1] ?? x0;
    if (x1 === x0) {
      out[i] = y[k]!;
      continue;
    }
    const t = (g - x0) / (x1 - x0);
    out[i] = y[k]! + t * (y[k + 1]! - y[k]!);
  }
  return out;
}
