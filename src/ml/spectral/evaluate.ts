/**
 * Checking a feature ranking: the curve of test accuracy (or MAE) against the
 * number k of top-ranked inputs kept, all other inputs masked to zero in the
 * network's input space; a random-ranking reference; permutation importance as
 * a model-agnostic baseline ranking. No pipeline knowledge.
 */
import { deriveSeed, Rng } from '../../util/random.js';
import type { SpectralNet } from './model.js';

export type Truth =
  | { task: 'classify'; index: Int32Array }
  | { task: 'regress'; y: Float64Array };

export interface EvalResult {
  /** Accuracy (classify) or mean absolute error (regress). */
  metric: number;
  /** Mean cross-entropy (classify) or MAE (regress): the continuous loss used by permutation importance. */
  loss: number;
}

/** Maps labels to the model's class indices; rows with unknown labels get -1. */
export function classIndices(classes: string[], labels: (string | null)[]): Int32Array {
  const index = new Map(classes.map((c, i) => [c, i]));
  return Int32Array.from(labels, (l) => (l === null ? -1 : index.get(l) ?? -1));
}

export function scoreOutputs(out: Float32Array, k: number, truth: Truth, repeat = 1): EvalResult {
  if (truth.task === 'classify') {
    const n = truth.index.length;
    let correct = 0;
    let ce = 0;
    for (let r = 0; r < repeat; r++) {
      for (let i = 0; i < n; i++) {
        const base = (r * n + i) * k;
        let best = 0;
        for (let c = 1; c < k; c++) if (out[base + c]! > out[base + best]!) best = c;
        const t = truth.index[i]!;
        if (best === t) correct++;
        ce -= Math.log(Math.max(out[base + t]!, 1e-12));
      }
    }
    return { metric: correct / (n * repeat), loss: ce / (n * repeat) };
  }
  const n = truth.y.length;
  let s = 0;
  for (let r = 0; r < repeat; r++) for (let i = 0; i < n; i++) s += Math.abs(out[r * n + i]! - truth.y[i]!);
  const mae = s / (n * repeat);
  return { metric: mae, loss: mae };
}

export function evaluate(net: SpectralNet, x: Float32Array, n: number, truth: Truth, keep?: ArrayLike<boolean>): EvalResult {
  return scoreOutputs(net.predict(x, n, keep), net.config.outputDim, truth);
}

/** Is a larger value of the metric better (accuracy) or worse (MAE)? */
export function higherIsBetter(task: Truth['task']): boolean {
  return task === 'classify';
}

/**
 * The k grid: every k from 1 to d when d ≤ maxPoints, otherwise 1..10 and then
 * roughly geometric steps up to d (always including d).
 */
export function kGrid(d: number, maxPoints = 40): number[] {
  if (d <= maxPoints) return Array.from({ length: d }, (_, i) => i + 1);
  const ks = new Set<number>();
  for (let k = 1; k <= Math.min(10, d); k++) ks.add(k);
  const rest = maxPoints - ks.size;
  for (let i = 1; i <= rest; i++) ks.add(Math.round(10 * Math.pow(d / 10, i / rest)));
  ks.add(d);
  return [...ks].filter((k) => k >= 1 && k <= d).sort((a, b) => a - b);
}

/** Mask keeping the first k features of `order` (feature indices, most relevant first). */
export function keepTop(order: ArrayLike<number>, k: number, d: number): boolean[] {
  const keep = new Array<boolean>(d).fill(false);
  for (let r = 0; r < Math.min(k, order.length); r++) keep[order[r]!] = true;
  return keep;
}

/** Test metric after keeping the top k features of `order`, for every k in `ks`. */
export function maskedCurve(net: SpectralNet, x: Float32Array, n: number, truth: Truth, order: ArrayLike<number>, ks: number[]): number[] {
  const d = net.config.inputDim;
  return ks.map((k) => evaluate(net, x, n, truth, keepTop(order, k, d)).metric);
}

/** Feature order (most relevant first) from scores, ties broken by index. */
export function orderByScore(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, j) => j)
    .sort((a, b) => (scores[b]! - scores[a]!) || (a - b));
}

/** `draws` seeded random orders of d features. */
export function randomOrders(d: number, draws: number, seed: number): number[][] {
  return Array.from({ length: draws }, (_, r) => new Rng(deriveSeed(seed, 'random-ranking', r)).permutation(d));
}

/**
 * Permutation importance: the mean increase of the test loss (cross-entropy or
 * MAE) when one feature's values are shuffled across rows, `repeats` seeded
 * shuffles per feature. The model is not retrained.
 */
export function permutationImportance(net: SpectralNet, x: Float32Array, n: number, truth: Truth, repeats: number, seed: number): Float64Array {
  const d = net.config.inputDim;
  const k = net.config.outputDim;
  const base = evaluate(net, x, n, truth).loss;
  const out = new Float64Array(d);
  const big = new Float32Array(repeats * n * d);
  for (let r = 0; r < repeats; r++) big.set(x, r * n * d);
  for (let j = 0; j < d; j++) {
    const rng = new Rng(deriveSeed(seed, 'permutation', j));
    for (let r = 0; r < repeats; r++) {
      const perm = rng.permutation(n);
      const off = r * n * d;
      for (let i = 0; i < n; i++) big[off + i * d + j] = x[perm[i]! * d + j]!;
    }
    const res = scoreOutputs(net.predict(big, repeats * n), k, truth, repeats);
    out[j] = res.loss - base;
    for (let r = 0; r < repeats; r++) {
      const off = r * n * d;
      for (let i = 0; i < n; i++) big[off + i * d + j] = x[i * d + j]!;
    }
  }
  return out;
}

/**
 * Smallest k whose metric reaches `fraction` of the full-feature metric:
 * metric ≥ fraction·full for accuracy, metric ≤ full/fraction for MAE.
 * null when no k on the grid does.
 */
export function smallestK(ks: number[], values: number[], full: number, fraction: number, higher: boolean): number | null {
  for (let i = 0; i < ks.length; i++) {
    const v = values[i]!;
    if (higher ? v >= fraction * full : v <= full / fraction) return ks[i]!;
  }
  return null;
}

/** Normalised area under the curve over the k grid (trapezoid on k/d), for comparing rankings. */
export function curveArea(ks: number[], values: number[], d: number): number {
  if (ks.length === 1) return values[0]!;
  let a = 0;
  for (let i = 1; i < ks.length; i++) a += ((ks[i]! - ks[i - 1]!) / d) * (values[i]! + values[i - 1]!) / 2;
  return a / ((ks[ks.length - 1]! - ks[0]!) / d);
}

/** Spearman rank correlation (average ranks for ties). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = averageRanks(a);
  const rb = averageRanks(b);
  const n = ra.length;
  const ma = ra.reduce((s, v) => s + v, 0) / n;
  const mb = rb.reduce((s, v) => s + v, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i]! - ma) * (rb[i]! - mb);
    da += (ra[i]! - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

function averageRanks(v: ArrayLike<number>): number[] {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a]! - v[b]!);
  const ranks = new Array<number>(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]!] === v[idx[i]!]) j++;
    for (let t = i; t <= j; t++) ranks[idx[t]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return ranks;
}
