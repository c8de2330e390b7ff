/**
 * k-means: k-means++ seeding (Arthur & Vassilvitskii 2007), Lloyd iterations,
 * best of several seeded restarts by inertia. Randomness comes only from the
 * seeded Rng of src/util/random.ts, so results are reproducible bit for bit.
 */
import { Rng, deriveSeed } from '../util/random.js';
import { squaredDistance, type Rows } from './clustering-metrics.js';

export interface KMeansOptions {
  seed: number;
  /** Independent k-means++ starts; the one with the lowest inertia wins. Default 10. */
  restarts?: number;
  /** Lloyd iterations per start. Default 300. */
  maxIterations?: number;
}

export interface KMeansResult {
  k: number;
  labels: Int32Array;
  centroids: number[][];
  /** Sum of squared distances to the assigned centroid. */
  inertia: number;
  iterations: number;
  /** Assignments stopped changing before maxIterations. */
  converged: boolean;
}

/** k-means++ initial centres: the first uniformly, each next with probability ∝ D(x)². */
export function kmeansPlusPlus(x: Rows, k: number, rng: Rng): number[][] {
  const n = x.length;
  if (k < 1 || k > n) throw new RangeError(`k must be in 1..${n}, got ${k}`);
  const centres: number[][] = [Array.from(x[rng.int(n)]!)];
  const d2 = new Float64Array(n);
  for (let i = 0; i < n; i++) d2[i] = squaredDistance(x[i]!, centres[0]!);
  while (centres.length < k) {
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
    const c = Array.from(x[pick]!);
    centres.push(c);
    for (let i = 0; i < n; i++) d2[i] = Math.min(d2[i]!, squaredDistance(x[i]!, c));
  }
  return centres;
}

/** Lloyd's algorithm from given centres. An emptied cluster takes the point farthest from its centre. */
export function lloyd(x: Rows, init: Rows, maxIterations = 300): KMeansResult {
  const n = x.length;
  const k = init.length;
  const d = n > 0 ? x[0]!.length : 0;
  const centroids = init.map((c) => Array.from(c));
  const labels = new Int32Array(n).fill(-1);
  const dist = new Float64Array(n);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations++;
    let changed = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const dd = squaredDistance(x[i]!, centroids[c]!);
        if (dd < bestD) {
          bestD = dd;
          best = c;
        }
      }
      dist[i] = bestD;
      if (labels[i] !== best) {
        labels[i] = best;
        changed++;
      }
    }
    if (changed === 0) {
      converged = true;
      break;
    }
    updateCentroids(x, labels, centroids, dist, d);
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += squaredDistance(x[i]!, centroids[labels[i]!]!);
  return { k, labels, centroids, inertia: total, iterations, converged };
}

function updateCentroids(x: Rows, labels: Int32Array, centroids: number[][], dist: Float64Array, d: number): void {
  const k = centroids.length;
  const counts = new Array<number>(k).fill(0);
  for (const c of centroids) c.fill(0);
  for (let i = 0; i < x.length; i++) {
    const c = labels[i]!;
    counts[c]!++;
    const row = x[i]!;
    const cen = centroids[c]!;
    for (let j = 0; j < d; j++) cen[j]! += row[j]!;
  }
  for (let c = 0; c < k; c++) {
    if (counts[c]! > 0) {
      const cen = centroids[c]!;
      for (let j = 0; j < d; j++) cen[j]! /= counts[c]!;
      continue;
    }
    // empty cluster: move it to the point farthest from its current centre
    let far = 0;
    for (let i = 1; i < x.length; i++) if (dist[i]! > dist[far]!) far = i;
    centroids[c] = Array.from(x[far]!);
    dist[far] = 0;
  }
}

/** k-means with k-means++ seeding and `restarts` seeded starts; the lowest inertia wins. */
export function kmeans(x: Rows, k: number, options: KMeansOptions): KMeansResult {
  const restarts = options.restarts ?? 10;
  let best: KMeansResult | undefined;
  for (let r = 0; r < restarts; r++) {
    const rng = new Rng(deriveSeed(options.seed, 'kmeans', k, r));
    const result = lloyd(x, kmeansPlusPlus(x, k, rng), options.maxIterations ?? 300);
    if (!best || result.inertia < best.inertia) best = result;
  }
  return best!;
}
