/** Pointwise transforms and per-channel standardisation. */

/** Anscombe transform: Poisson counts → approximately unit-variance Gaussian (for means ≳ 4). */
export function anscombe(y: ArrayLike<number>): Float64Array {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = 2 * Math.sqrt(Math.max(0, y[i]! + 3 / 8));
  return out;
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
  const rows = Array.from({ length: n }, (_, i) => data.subarray(i * d, (i + 1) * d));
  const mean = new Float64Array(d);
  addRows(rows, mean);
  for (let j = 0; j < d; j++) mean[j]! /= n;
  const sd = new Float64Array(d);
  addSquaredDeviations(rows, mean, sd);
  return { mean, sd: finishSd(sd, n) };
}

// The accumulators below are shared by the in-memory statistics and the streamed ones
// (which feed them one batch of rows at a time, in row order), so both give the same bits.

/** acc[j] += Σ rows[i][j], rows in order. */
export function addRows(rows: ArrayLike<number>[], acc: Float64Array): void {
  const d = acc.length;
  for (const r of rows) for (let j = 0; j < d; j++) acc[j]! += r[j]!;
}

/** acc[j] += Σ (rows[i][j] − mean[j])², rows in order. */
export function addSquaredDeviations(rows: ArrayLike<number>[], mean: Float64Array, acc: Float64Array): void {
  const d = acc.length;
  for (const r of rows) {
    for (let j = 0; j < d; j++) {
      const e = r[j]! - mean[j]!;
      acc[j]! += e * e;
    }
  }
}

/** Population sd from summed squared deviations of n rows (in place). */
export function finishSd(ss: Float64Array, n: number): Float64Array {
  for (let j = 0; j < ss.length; j++) ss[j] = Math.sqrt(ss[j]! / n);
  return ss;
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
