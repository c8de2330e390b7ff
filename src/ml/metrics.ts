/**
 * Plain-JS reconstruction errors and noise models (no tfjs), shared by the
 * training loop and the reconstruct stage.
 */
import { Rng } from '../util/random.js';

// One implementation of the per-spectrum errors serves training, reconstruct and anomaly.
export { rowMse, rowPoissonDeviance } from '../analysis/detection.js';

/** Mean Poisson negative log-likelihood (with the log y! term when `full`). */
export function poissonNll(rate: ArrayLike<number>, y: ArrayLike<number>, full = false): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const l = rate[i]!;
    const yy = y[i]!;
    s += l - yy * Math.log(l + 1e-8) + (full ? logGamma(yy + 1) : 0);
  }
  return s / y.length;
}

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return a.length ? s / a.length : NaN;
}

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9)
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

export interface NoiseSpec {
  noise: 'gaussian' | 'poisson';
  /** gaussian: standard deviation as a fraction of the data's standard deviation (default 0.1).
   * poisson: mean counts per channel of the simulated dose; unset → the values are counts already. */
  level?: number;
}

/** A noisy copy of x (n × d). `sd` is the data's standard deviation, `meanValue` its mean. */
export function addNoise(x: Float32Array, spec: NoiseSpec, rng: Rng, stats: { sd: number; mean: number }): Float32Array {
  const out = new Float32Array(x.length);
  if (spec.noise === 'gaussian') {
    const sigma = (spec.level ?? 0.1) * stats.sd;
    // the draws of x.length calls of rng.normal(), in bulk
    const z = new Float64Array(x.length);
    rng.fillNormals(z, x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i]! + sigma * z[i]!;
    return out;
  }
  // Poisson: counts = Poisson(x · f), back to data units by / f.
  const f = spec.level === undefined ? 1 : spec.level / Math.max(stats.mean, 1e-12);
  const lambdas = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) lambdas[i] = Math.max(x[i]!, 0) * f;
  // the draws of x.length calls of rng.poisson(), in bulk
  const counts = new Float64Array(x.length);
  rng.fillPoisson(lambdas, counts);
  for (let i = 0; i < x.length; i++) out[i] = counts[i]! / f;
  return out;
}

/**
 * Noisy copies of the rows of `clean` (rows × d) into `out`: row r is addNoise of that row with its
 * own generator, Rng(seeds[r]). A row's noise so depends on its seed alone, not on which rows are
 * drawn before it: data-parallel training draws each shard's noise in the thread that trains on it,
 * and gets the draws one thread gets.
 */
export function addRowNoise(
  clean: Float32Array, d: number, seeds: ArrayLike<number>, spec: NoiseSpec, stats: { sd: number; mean: number }, out: Float32Array,
): void {
  for (let r = 0; r < seeds.length; r++) out.set(addNoise(clean.subarray(r * d, (r + 1) * d), spec, new Rng(seeds[r]!), stats), r * d);
}
