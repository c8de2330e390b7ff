/** Smoothing and derivatives. */
import { sgg } from 'ml-savitzky-golay-generalized';
import { solvePenalized } from './banded.js';

/**
 * Savitzky–Golay: local polynomial least squares over `window` points; with `derivative` > 0
 * the derivative of the local polynomial with respect to the axis (x gives the spacing).
 *
 * Computes exactly what ml-savitzky-golay-generalized's `sgg(y, x, ...)` returns (a test
 * holds it to the same bits), but that function rebuilds its weight table from recursive
 * Gram polynomials and the spacing of every window on every call: ~0.7 ms a spectrum.
 * Here the weights come from `sgg` itself, once per (window, polynomial, derivative):
 * sgg is linear and on exactly `window` points with unit spacing its output at t is
 * Σ_l w[t][l]·y[l], so a unit impulse at l yields column l of the table bit for bit.
 */
export function savitzkyGolay(y: ArrayLike<number>, x: ArrayLike<number>, window: number, polynomial: number, derivative = 0): Float64Array {
  const weights = savgolWeights(window, polynomial, derivative);
  const np = y.length;
  if (window > np) return Float64Array.from(sgg(Array.from(y), Array.from(x), { windowSize: window, polynomial, derivative })); // sgg's own error
  const hs = spacingPowers(x, window, derivative);
  const half = Math.floor(window / 2);
  const ans = new Float64Array(np);
  for (let i = 0; i < half; i++) {
    const wg1 = weights[half - i - 1]!;
    const wg2 = weights[half + i + 1]!;
    let d1 = 0;
    let d2 = 0;
    for (let l = 0; l < window; l++) {
      d1 += wg1[l]! * y[l]!;
      d2 += wg2[l]! * y[np - window + l]!;
    }
    ans[half - i - 1] = d1 / hs[half - i - 1]!;
    ans[np - half + i] = d2 / hs[np - half + i]!;
  }
  const wg = weights[half]!;
  for (let i = window; i <= np; i++) {
    let d = 0;
    const o = i - window;
    for (let l = 0; l < window; l++) d += wg[l]! * y[l + o]!;
    ans[i - half - 1] = d / hs[i - half - 1]!;
  }
  return ans;
}

const weightCache = new Map<string, Float64Array[]>();

function savgolWeights(window: number, polynomial: number, derivative: number): Float64Array[] {
  const key = `${window},${polynomial},${derivative}`;
  let w = weightCache.get(key);
  if (!w) {
    w = Array.from({ length: window }, () => new Float64Array(window));
    for (let l = 0; l < window; l++) {
      const impulse = new Array<number>(window).fill(0);
      impulse[l] = 1;
      const column = sgg(impulse, 1, { windowSize: window, polynomial, derivative });
      for (let t = 0; t < window; t++) w[t]![l] = column[t]!;
    }
    weightCache.set(key, w);
  }
  return w;
}

const spacingCache = new WeakMap<object, Map<string, Float64Array>>();

/** sgg's divisor at each point: the mean spacing of the window around it to the power `derivative`. */
function spacingPowers(x: ArrayLike<number>, window: number, derivative: number): Float64Array {
  const key = `${window},${derivative}`;
  let byKey = spacingCache.get(x as object);
  const hit = byKey?.get(key);
  if (hit && hit.length === x.length) return hit;
  const half = Math.floor(window / 2);
  const out = new Float64Array(x.length);
  for (let center = 0; center < x.length; center++) {
    // as sgg's getHs
    let hs = 0;
    let count = 0;
    for (let i = center - half; i < center + half; i++) {
      if (i >= 0 && i < x.length - 1) {
        hs += x[i + 1]! - x[i]!;
        count++;
      }
    }
    out[center] = (hs / count) ** derivative;
  }
  if (!byKey) {
    byKey = new Map();
    spacingCache.set(x as object, byKey);
  }
  byKey.set(key, out);
  return out;
}

/** Whittaker smoother (Eilers 2003): minimise |y − z|² + λ|D₂z|². */
export function whittaker(y: ArrayLike<number>, lambda: number, order = 2): Float64Array {
  return solvePenalized(y, new Float64Array(y.length).fill(1), lambda, order);
}
