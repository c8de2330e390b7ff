/** Baseline estimation; each function returns the baseline (caller subtracts it). */
import type airPLSFunction from 'ml-airpls';
import { Matrix, solve } from 'ml-matrix';
import { solvePenalized } from './banded.js';

let airPLS: typeof airPLSFunction | undefined;

/**
 * ml-airpls is imported on demand: importing it costs about 0.3 s of CPU (it pulls in
 * ml-spectra-processing), which every streaming worker thread paid for every preprocess
 * stage, airPLS or not. Await this before `airplsBaseline` (steps.ts's prepareSteps does).
 */
export async function loadAirpls(): Promise<void> {
  airPLS ??= (await import('ml-airpls')).default;
}

/** airPLS (Zhang et al. 2010): adaptively reweighted penalised least squares, no peak-side parameter. */
export function airplsBaseline(x: ArrayLike<number>, y: ArrayLike<number>, lambda: number, maxIterations: number, tolerance: number): Float64Array {
  if (!airPLS) throw new Error('airplsBaseline: loadAirpls() was not awaited first');
  const r = airPLS(Array.from(x), Array.from(y), { lambda, maxIterations, tolerance });
  return Float64Array.from(r.baseline as ArrayLike<number>);
}

/**
 * Asymmetric least squares (Eilers & Boelens 2005): points above the current
 * baseline (peaks) get weight p, points below 1 − p; 10 reweightings suffice in practice.
 */
export function alsBaseline(y: ArrayLike<number>, lambda: number, p: number, iterations: number): Float64Array {
  const n = y.length;
  const w = new Float64Array(n).fill(1);
  let z = solvePenalized(y, w, lambda, 2);
  for (let it = 0; it < iterations; it++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      const nw = y[i]! > z[i]! ? p : 1 - p;
      if (nw !== w[i]) changed = true;
      w[i] = nw;
    }
    if (!changed) break;
    z = solvePenalized(y, w, lambda, 2);
  }
  return z;
}

/** Least-squares polynomial fit on x scaled to [-1, 1] (well conditioned for modest degrees). */
export function polyFit(x: ArrayLike<number>, y: ArrayLike<number>, degree: number): Float64Array {
  const n = x.length;
  const lo = x[0]!;
  const hi = x[n - 1]!;
  const t = Array.from(x, (v) => (hi === lo ? 0 : (2 * (v - lo)) / (hi - lo) - 1));
  const V = new Matrix(n, degree + 1);
  for (let i = 0; i < n; i++) {
    let p = 1;
    for (let k = 0; k <= degree; k++) {
      V.set(i, k, p);
      p *= t[i]!;
    }
  }
  const coef = solve(V, Matrix.columnVector(Array.from(y)));
  return Float64Array.from(V.mmul(coef).getColumn(0));
}

/**
 * Iterative modified polynomial fit (after Lieber & Mahadevan-Jansen 2003): fit, replace
 * the spectrum by min(spectrum, fit), refit, repeat; peaks are shaved off until the fit
 * rests under them. Clipping the original spectrum (not the previous clip) each time
 * keeps the polynomial's edge overshoot of early iterations from being frozen in.
 */
export function polyBaseline(x: ArrayLike<number>, y: ArrayLike<number>, degree: number, iterations: number, tolerance: number): Float64Array {
  let fit = polyFit(x, y, degree);
  for (let it = 0; it < iterations; it++) {
    const clipped = new Float64Array(y.length);
    for (let i = 0; i < y.length; i++) clipped[i] = Math.min(y[i]!, fit[i]!);
    const nextFit = polyFit(x, clipped, degree);
    let num = 0;
    let den = 0;
    for (let i = 0; i < fit.length; i++) {
      num += (nextFit[i]! - fit[i]!) ** 2;
      den += fit[i]! ** 2;
    }
    fit = nextFit;
    if (Math.sqrt(num / Math.max(den, 1e-300)) < tolerance) break;
  }
  return fit;
}
