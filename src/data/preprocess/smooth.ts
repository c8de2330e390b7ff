/** Smoothing and derivatives. */
import { sgg } from 'ml-savitzky-golay-generalized';
import { solvePenalized } from './banded.js';
import { wasmSavgolRows } from './row-kernels.js';

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
  if (window > y.length) return Float64Array.from(sgg(Array.from(y), Array.from(x), { windowSize: window, polynomial, derivative })); // sgg's own error
  const out = new Float64Array(y.length);
  savitzkyGolayInto(y instanceof Float64Array ? y : Float64Array.from(y), x instanceof Float64Array ? x : Float64Array.from(x), window, polynomial, derivative, out);
  return out;
}

/** `savitzkyGolay` of one row into `out` (which may be `y`); the window must fit in the row. */
export function savitzkyGolayInto(y: Float64Array, x: Float64Array, window: number, polynomial: number, derivative: number, out: Float64Array): void {
  savitzkyGolayRows(x, window, polynomial, derivative)(y, out);
}

/**
 * A function (y, out) doing `savitzkyGolayInto` on rows over the axis `x` (as long as
 * it), the weights set up once; `out` may be `y` (the row is read before it is written).
 * The wasm SIMD kernel (row-kernels.ts) when it is available, else
 * `savitzkyGolayIntoJs`, which computes the same bits.
 */
export function savitzkyGolayRows(x: Float64Array, window: number, polynomial: number, derivative: number): (y: Float64Array, out: Float64Array) => void {
  const hs = derivative === 0 ? undefined : spacingPowers(x, window, derivative);
  const wasm = wasmSavgolRows(flatWeights(window, polynomial, derivative), window, hs, x.length);
  const js = (y: Float64Array, out: Float64Array) => savitzkyGolayIntoJs(out === y ? copyOfRow(y) : y, x, window, polynomial, derivative, out);
  return wasm ? (y, out) => (y.length === x.length ? wasm(y, out) : js(y, out)) : js;
}

let rowCopy = new Float64Array(0);

/** `y` copied into a buffer kept for the purpose (valid until the next call). */
function copyOfRow(y: Float64Array): Float64Array {
  if (rowCopy.length < y.length) rowCopy = new Float64Array(y.length);
  const copy = rowCopy.subarray(0, y.length);
  copy.set(y);
  return copy;
}

/**
 * The JavaScript Savitzky–Golay of one row into `out`. The interior is a convolution with
 * the precomputed centre weights, four outputs at a time so each weight is loaded once
 * per four products (2–3× a plain loop in V8); every output is still summed in sgg's
 * order (0 + w₀y₀ + w₁y₁ + …), so the bits do not change.
 */
export function savitzkyGolayIntoJs(y: Float64Array, x: Float64Array, window: number, polynomial: number, derivative: number, out: Float64Array): void {
  const weights = savgolWeights(window, polynomial, derivative);
  const np = y.length;
  // sgg divides by the mean spacing to the power `derivative`: 1 when smoothing, and x/1 is x
  const hs = derivative === 0 ? undefined : spacingPowers(x, window, derivative);
  const half = Math.floor(window / 2);
  for (let i = 0; i < half; i++) {
    const wg1 = weights[half - i - 1]!;
    const wg2 = weights[half + i + 1]!;
    let d1 = 0;
    let d2 = 0;
    for (let l = 0; l < window; l++) {
      d1 += wg1[l]! * y[l]!;
      d2 += wg2[l]! * y[np - window + l]!;
    }
    out[half - i - 1] = hs ? d1 / hs[half - i - 1]! : d1;
    out[np - half + i] = hs ? d2 / hs[np - half + i]! : d2;
  }
  const wg = weights[half]!;
  const m = np - window + 1; // interior outputs, at half .. half + m − 1
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let l = 0; l < window; l++) {
      const w = wg[l]!;
      const q = i + l;
      s0 += w * y[q]!;
      s1 += w * y[q + 1]!;
      s2 += w * y[q + 2]!;
      s3 += w * y[q + 3]!;
    }
    out[half + i] = s0;
    out[half + i + 1] = s1;
    out[half + i + 2] = s2;
    out[half + i + 3] = s3;
  }
  for (; i < m; i++) {
    let s = 0;
    for (let l = 0; l < window; l++) s += wg[l]! * y[i + l]!;
    out[half + i] = s;
  }
  if (hs) for (let k = half; k < half + m; k++) out[k] = out[k]! / hs[k]!;
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

const flatCache = new Map<string, Float64Array>();

/** `savgolWeights` as one window × window array, row-major (for the wasm kernel). */
function flatWeights(window: number, polynomial: number, derivative: number): Float64Array {
  const key = `${window},${polynomial},${derivative}`;
  let flat = flatCache.get(key);
  if (!flat) {
    flat = new Float64Array(window * window);
    savgolWeights(window, polynomial, derivative).forEach((row, t) => flat!.set(row, t * window));
    flatCache.set(key, flat);
  }
  return flat;
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
