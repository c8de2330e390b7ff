/** Pointwise transforms and per-channel standardisation. */

/** Anscombe transform: Poisson counts → approximately unit-variance Gaussian (for means ≳ 4). */
export function anscombe(y: ArrayLike<number>): Float64Array {
  return Float64Array.from(y, (v) => 2 * Math.sqrt(Math.max(0, v + 3 / 8)));
}

/** log(y + offset) in the given base; the first non-positive argument's index when there is one. */
export function logTransform(y: ArrayLike<number>, base: number, offset: number): { y: Float64Array; bad: number } {
  const lb = Math.log(base);
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const v = y[i]! + offset;
    if (!(v > 0)) return { y: out, bad: i };
    out[i] = Math.log(v) / lb;
  }
  return { y: out, bad: -1 };
}

/** Per-channel mean and (population) standard deviation of n×d row-major data. */
export function channelStats(data: Float64Array, n: number, d: number): { mean: Float64Array; sd: Float64Array } {
  const mean = new Float64Array(d);
  const sd = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += data[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) sd[j]! += (data[i * d + j]! - mean[j]!) ** 2;
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]! / n);
  return { mean, sd };
}

/** (x − mean)/sd per channel; constant channels (sd = 0) are only centred. */
export function standardizeWith(data: Float64Array, n: number, d: number, mean: Float64Array, sd: Float64Array, center = true, scale = true): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      let v = data[i * d + j]!;
      if (center) v -= mean[j]!;
      if (scale && sd[j]! > 0) v /= sd[j]!;
      out[i * d + j] = v;
    }
  }
  return out;
}
