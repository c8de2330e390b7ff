/**
 * k-means: k-means++ seeding (Arthur & Vassilvitskii 2007), Lloyd iterations,
 * best of several seeded restarts by inertia; or mini-batch k-means (Sculley
 * 2010) for very large n. Randomness comes only from the seeded Rng of
 * src/util/random.ts, so results are reproducible bit for bit.
 *
 * The loops run over one flat Float64Array (see matrix.ts). The arithmetic is
 * the same, in the same order, as the row-array version it replaced, so
 * results are unchanged bit for bit; only the indirection is gone.
 */
import { Rng, deriveSeed } from '../util/random.js';
import type { Rows } from './clustering-metrics.js';
import { asMatrix, rowDistance, type Matrix, type Points } from './matrix.js';

export type KMeansAlgorithm = 'lloyd' | 'minibatch';

export interface KMeansOptions {
  seed: number;
  /** Independent k-means++ starts; the one with the lowest inertia wins. Default 10. */
  restarts?: number;
  /** Lloyd iterations (or mini-batch steps) per start. Default 300. */
  maxIterations?: number;
  /**
   * Lloyd stops early when the centres move in total by at most this × the
   * data's mean variance (scikit-learn's `tol`, default 1e-4); 0: only when no
   * assignment changes.
   */
  tolerance?: number;
  /** `lloyd` (full passes, the default) or `minibatch` (seeded batches; for very large n). */
  algorithm?: KMeansAlgorithm;
  /** Points per mini-batch step. Default 1024. */
  batchSize?: number;
}

export interface KMeansResult {
  k: number;
  labels: Int32Array;
  centroids: number[][];
  /** Sum of squared distances to the assigned centroid. */
  inertia: number;
  iterations: number;
  /** Assignments stopped changing (mini-batch: centres stopped moving) before maxIterations. */
  converged: boolean;
}

/** k-means++ initial centres: the first uniformly, each next with probability ∝ D(x)². */
export function kmeansPlusPlus(points: Points, k: number, rng: Rng): number[][] {
  const { n, d, data } = asMatrix(points);
  if (k < 1 || k > n) throw new RangeError(`k must be in 1..${n}, got ${k}`);
  const centres = new Float64Array(k * d);
  const first = rng.int(n);
  centres.set(data.subarray(first * d, (first + 1) * d), 0);
  const d2 = new Float64Array(n);
  for (let i = 0; i < n; i++) d2[i] = rowDistance(data, i, centres, 0, d);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += d2[i]!;
    let pick = n - 1;
    if (total > 0) {
      let r = rng.uniform() * total;
      for (let i = 0; i < n; i++) {
        r -= d2[i]!;
        if (r < 0) {
          pick = i;
          break;
        }
      }
    } else {
      pick = rng.int(n); // all points coincide with centres already
    }
    centres.set(data.subarray(pick * d, (pick + 1) * d), c * d);
    for (let i = 0; i < n; i++) d2[i] = Math.min(d2[i]!, rowDistance(data, i, centres, c, d));
  }
  return unflatten(centres, k, d);
}

function unflatten(flat: Float64Array, k: number, d: number): number[][] {
  return Array.from({ length: k }, (_, c) => Array.from(flat.subarray(c * d, (c + 1) * d)));
}

/** Nearest centre of row i (ties go to the lower index); its squared distance is left in `out[0]`. */
function nearest(data: Float64Array, i: number, centroids: Float64Array, k: number, d: number, out?: Float64Array): number {
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c < k; c++) {
    const dd = rowDistance(data, i, centroids, c, d);
    if (dd < bestD) {
      bestD = dd;
      best = c;
    }
  }
  if (out) out[0] = bestD;
  return best;
}

/**
 * Lloyd's algorithm from given centres, with Hamerly's (2010) bounds: each
 * point keeps an upper bound on the distance to its centre and a lower bound
 * on the distance to any other, so the points whose assignment cannot change
 * (nearly all, after the first passes) cost O(1) instead of k distances. The
 * assignments are those of plain Lloyd (up to exact ties). Stops when no
 * assignment changes, or — with `tolerance` > 0 — when the centres move in
 * total (sum of squared shifts) by at most `tolerance` × the data's mean
 * variance per dimension (scikit-learn's `tol`), followed by one last
 * assignment to the final centres. An emptied cluster takes the point farthest
 * from its centre.
 */
export function lloyd(points: Points, init: Rows, maxIterations = 300, tolerance = 0): KMeansResult {
  const x = asMatrix(points);
  const { n, d, data } = x;
  const k = init.length;
  const centroids = asMatrix(init).data;
  const labels = new Int32Array(n).fill(-1);
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  const half = new Float64Array(k);
  const shift = new Float64Array(k);
  const tol = tolerance > 0 ? tolerance * meanVariance(x) : -1;
  let iterations = 0;
  let converged = false;
  const rescan = (i: number): void => {
    let best = 0;
    let bestD = Infinity;
    let second = Infinity;
    for (let c = 0; c < k; c++) {
      const dd = rowDistance(data, i, centroids, c, d);
      if (dd < bestD) {
        second = bestD;
        bestD = dd;
        best = c;
      } else if (dd < second) second = dd;
    }
    labels[i] = best;
    upper[i] = Math.sqrt(bestD);
    lower[i] = Math.sqrt(second);
  };
  while (iterations < maxIterations) {
    iterations++;
    for (let c = 0; c < k; c++) {
      let m = Infinity;
      for (let o = 0; o < k; o++) if (o !== c) m = Math.min(m, rowDistance(centroids, c, centroids, o, d));
      half[c] = Math.sqrt(m) / 2;
    }
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const a = labels[i]!;
      if (a >= 0) {
        const bound = Math.max(half[a]!, lower[i]!);
        if (upper[i]! <= bound) continue;
        upper[i] = Math.sqrt(rowDistance(data, i, centroids, a, d));
        if (upper[i]! <= bound) continue;
      }
      rescan(i);
      if (labels[i] !== a) changed++;
    }
    if (changed === 0) {
      converged = true;
      break;
    }
    const before = Float64Array.from(centroids);
    updateCentroids(x, labels, centroids, k);
    let total = 0;
    let maxShift = 0;
    let argMax = 0;
    let secondShift = 0;
    for (let c = 0; c < k; c++) {
      const s2 = rowDistance(centroids, c, before, c, d);
      total += s2;
      shift[c] = Math.sqrt(s2);
      if (shift[c]! > maxShift) {
        secondShift = maxShift;
        maxShift = shift[c]!;
        argMax = c;
      } else if (shift[c]! > secondShift) secondShift = shift[c]!;
    }
    for (let i = 0; i < n; i++) {
      const a = labels[i]!;
      upper[i]! += shift[a]!;
      lower[i]! -= a === argMax ? secondShift : maxShift;
    }
    if (total <= tol) {
      converged = true;
      for (let i = 0; i < n; i++) rescan(i);
      break;
    }
  }
  return { k, labels, centroids: unflatten(centroids, k, d), inertia: totalInertia(x, labels, centroids), iterations, converged };
}

function totalInertia(x: Matrix, labels: Int32Array, centroids: Float64Array): number {
  let total = 0;
  for (let i = 0; i < x.n; i++) total += rowDistance(x.data, i, centroids, labels[i]!, x.d);
  return total;
}

/** Centres as the means of their points; an emptied cluster takes the point farthest from its nearest centre. */
function updateCentroids(x: Matrix, labels: Int32Array, centroids: Float64Array, k: number): void {
  const { n, d, data } = x;
  const counts = new Float64Array(k);
  for (let i = 0; i < n; i++) counts[labels[i]!]!++;
  // distances to the nearest (current) centre, needed only when a cluster emptied
  const dist = counts.includes(0) ? nearestDistances(x, centroids, k) : undefined;
  centroids.fill(0);
  for (let i = 0; i < n; i++) {
    const ci = labels[i]! * d;
    const xi = i * d;
    for (let j = 0; j < d; j++) centroids[ci + j]! += data[xi + j]!;
  }
  for (let c = 0; c < k; c++) {
    if (counts[c]! > 0) {
      for (let j = 0; j < d; j++) centroids[c * d + j]! /= counts[c]!;
      continue;
    }
    let far = 0;
    for (let i = 1; i < n; i++) if (dist![i]! > dist![far]!) far = i;
    centroids.set(data.subarray(far * d, (far + 1) * d), c * d);
    dist![far] = 0;
  }
}

function nearestDistances(x: Matrix, centroids: Float64Array, k: number): Float64Array {
  const out = new Float64Array(x.n);
  const scratch = new Float64Array(1);
  for (let i = 0; i < x.n; i++) {
    nearest(x.data, i, centroids, k, x.d, scratch);
    out[i] = scratch[0]!;
  }
  return out;
}

/**
 * Mini-batch k-means (Sculley 2010, as scikit-learn's MiniBatchKMeans): each
 * step draws `batchSize` points with the seeded Rng and moves each one's
 * nearest centre towards it with rate 1/(points that centre has seen). Stops
 * after maxIterations steps or when no centre moves by more than 1e-4 of the
 * data's mean variance per dimension (scikit-learn's `tol` convention). The
 * labels and inertia come from one full pass over all points at the end.
 */
export function miniBatch(points: Points, init: Rows, rng: Rng, options: { maxIterations?: number; batchSize?: number } = {}): KMeansResult {
  const x = asMatrix(points);
  const { n, d, data } = x;
  const k = init.length;
  const centroids = asMatrix(init).data;
  const seen = new Float64Array(k);
  const batch = Math.min(options.batchSize ?? 1024, n);
  const maxIterations = options.maxIterations ?? 300;
  const tol = 1e-4 * meanVariance(x);
  const picks = new Int32Array(batch);
  const nearestOf = new Int32Array(batch);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations++;
    for (let b = 0; b < batch; b++) {
      picks[b] = rng.int(n);
      nearestOf[b] = nearest(data, picks[b]!, centroids, k, d);
    }
    const before = Float64Array.from(centroids);
    for (let b = 0; b < batch; b++) {
      const c = nearestOf[b]!;
      const eta = 1 / ++seen[c]!;
      const ci = c * d;
      const xi = picks[b]! * d;
      for (let j = 0; j < d; j++) centroids[ci + j] = (1 - eta) * centroids[ci + j]! + eta * data[xi + j]!;
    }
    let shift = 0;
    for (let c = 0; c < k; c++) shift = Math.max(shift, rowDistance(centroids, c, before, c, d));
    if (shift <= tol) {
      converged = true;
      break;
    }
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = nearest(data, i, centroids, k, d);
  return { k, labels, centroids: unflatten(centroids, k, d), inertia: totalInertia(x, labels, centroids), iterations, converged };
}

function meanVariance(x: Matrix): number {
  const { n, d, data } = x;
  if (n === 0 || d === 0) return 0;
  let total = 0;
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += data[i * d + j]!;
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (data[i * d + j]! - mean) ** 2;
    total += v / n;
  }
  return total / d;
}

/** Number of distinct points, counted up to `limit` (enough to know whether k clusters can exist). */
export function distinctPoints(points: Points, limit: number): number {
  const { n, d, data } = asMatrix(points);
  const seen = new Set<string>();
  for (let i = 0; i < n && seen.size < limit; i++) seen.add(data.subarray(i * d, (i + 1) * d).join(','));
  return seen.size;
}

/** k-means with k-means++ seeding and `restarts` seeded starts; the lowest inertia wins. */
export function kmeans(points: Points, k: number, options: KMeansOptions): KMeansResult {
  const x = asMatrix(points);
  const restarts = options.restarts ?? 10;
  let best: KMeansResult | undefined;
  for (let r = 0; r < restarts; r++) {
    const rng = new Rng(deriveSeed(options.seed, 'kmeans', k, r));
    const init = kmeansPlusPlus(x, k, rng);
    const result = options.algorithm === 'minibatch'
      ? miniBatch(x, init, rng, { maxIterations: options.maxIterations, batchSize: options.batchSize })
      : lloyd(x, init, options.maxIterations ?? 300, options.tolerance ?? 1e-4);
    if (!best || result.inertia < best.inertia) best = result;
  }
  return best!;
}
