/**
 * Clustering quality and agreement measures. Pure functions over plain arrays;
 * no pipeline knowledge. Conventions follow scikit-learn where it has one.
 */
import { Rng } from '../util/random.js';
import { asMatrix, rowDistance, takeRows, type Points } from './matrix.js';

/** Row-major points: each row one sample. */
export type Rows = ReadonlyArray<ArrayLike<number>>;

export function squaredDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const t = a[j]! - b[j]!;
    s += t * t;
  }
  return s;
}

/** Labels of any type mapped to 0..m-1 in order of first appearance. */
export function encodeLabels<T>(labels: ReadonlyArray<T>): { codes: Int32Array; classes: T[] } {
  const index = new Map<T, number>();
  const codes = new Int32Array(labels.length);
  labels.forEach((l, i) => {
    let c = index.get(l);
    if (c === undefined) {
      c = index.size;
      index.set(l, c);
    }
    codes[i] = c;
  });
  return { codes, classes: [...index.keys()] };
}

/**
 * Sum of squared Euclidean distances of each point to its cluster's centroid
 * (the centroid being the mean of the cluster's points, or `centroids` when given).
 */
export function inertia(x: Rows, labels: ArrayLike<number>, centroids?: Rows): number {
  const cents = centroids ?? clusterMeans(x, labels);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += squaredDistance(x[i]!, cents[labels[i]!]!);
  return s;
}

/** Mean of the points of each cluster 0..max(label); an empty cluster gets NaNs. */
export function clusterMeans(x: Rows, labels: ArrayLike<number>, k?: number): number[][] {
  const d = x.length > 0 ? x[0]!.length : 0;
  let m = k ?? 0;
  if (k === undefined) for (let i = 0; i < labels.length; i++) m = Math.max(m, labels[i]! + 1);
  const sums = Array.from({ length: m }, () => new Array<number>(d).fill(0));
  const counts = new Array<number>(m).fill(0);
  for (let i = 0; i < x.length; i++) {
    const c = labels[i]!;
    counts[c]!++;
    const row = x[i]!;
    const s = sums[c]!;
    for (let j = 0; j < d; j++) s[j]! += row[j]!;
  }
  return sums.map((s, c) => s.map((v) => v / counts[c]!));
}

/**
 * Mean silhouette coefficient with Euclidean distances (scikit-learn's
 * `silhouette_score`): for sample i, a = mean distance to the other members of
 * its cluster, b = smallest mean distance to the members of another cluster,
 * s = (b − a) / max(a, b); s = 0 for a sample alone in its cluster.
 * Needs 2 ≤ number of clusters ≤ n − 1. O(n² d) time, O(n·clusters) memory.
 */
export function silhouette(points: Points, labels: ArrayLike<number>): number {
  return silhouettes(points, [labels])[0]!;
}

/**
 * The silhouettes of several labelings of the same points, each pair's
 * distance computed once for all of them (choosing k compares a labeling per
 * k on the same sample). Each value is bit for bit `silhouette(x, labels)`.
 */
export function silhouettes(points: Points, labelings: ReadonlyArray<ArrayLike<number>>): number[] {
  const x = asMatrix(points);
  const { n, d, data } = x;
  const parts = labelings.map((labels) => {
    const { codes, classes } = encodeLabels(Array.from(labels));
    const m = classes.length;
    if (m < 2 || m > n - 1) throw new RangeError(`silhouette needs 2..n-1 clusters, got ${m} for n = ${n}`);
    const counts = new Array<number>(m).fill(0);
    for (let i = 0; i < n; i++) counts[codes[i]!]!++;
    return { codes, m, counts, sums: new Float64Array(n * m) };
  });
  // each pair's distance once, added to both rows' per-cluster sums; row i still
  // receives its terms in ascending j, as a row-by-row loop would add them
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dist = Math.sqrt(rowDistance(data, i, data, j, d));
      for (const { codes, m, sums } of parts) {
        sums[i * m + codes[j]!]! += dist;
        sums[j * m + codes[i]!]! += dist;
      }
    }
  }
  return parts.map(({ codes, m, counts, sums }) => {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const own = codes[i]!;
      if (counts[own]! <= 1) continue; // s = 0
      const a = sums[i * m + own]! / (counts[own]! - 1);
      let b = Infinity;
      for (let c = 0; c < m; c++) if (c !== own) b = Math.min(b, sums[i * m + c]! / counts[c]!);
      const denom = Math.max(a, b);
      total += denom > 0 ? (b - a) / denom : 0;
    }
    return total / n;
  });
}

export interface SampledSilhouette {
  /** NaN when the silhouette is undefined on the points used (fewer than 2 or more than n − 1 clusters among them). */
  value: number;
  /** Points the value was computed on: n when exact, else the sample size. */
  sampled: number;
  /** Distinct clusters among those points. */
  clusters: number;
}

/**
 * The silhouette on at most `sampleSize` points, as scikit-learn's
 * `silhouette_score(sample_size=…)`: a seeded random subset of the points and
 * their labels, on which both a and b are computed. When n ≤ sampleSize every
 * point is used and the value is the exact silhouette. The same seed gives the
 * same subset for every labelling, so values for different k are comparable.
 */
export function sampledSilhouette(points: Points, labels: ArrayLike<number>, sampleSize: number, seed: number): SampledSilhouette {
  return sampledSilhouettes(points, [labels], sampleSize, seed)[0]!;
}

/** `sampledSilhouette` of several labelings on one sample, each pair's distance computed once. */
export function sampledSilhouettes(points: Points, labelings: ReadonlyArray<ArrayLike<number>>, sampleSize: number, seed: number): SampledSilhouette[] {
  const all = asMatrix(points);
  const idx = all.n <= sampleSize ? undefined : sampleIndices(all.n, sampleSize, new Rng(seed));
  const x = idx ? takeRows(all, idx) : all;
  const used = idx ? labelings.map((labels) => Int32Array.from(idx, (i) => labels[i]!)) : labelings;
  // scikit-learn raises for these; a sample that happens to miss a small cluster is not the
  // caller's mistake, so the value is NaN (undefined) and the caller says why
  const clusters = used.map((labels) => new Set(Array.from(labels)).size);
  const defined = used.filter((_, i) => clusters[i]! >= 2 && clusters[i]! <= x.n - 1);
  const values = defined.length > 0 ? silhouettes(x, defined) : [];
  let next = 0;
  return clusters.map((m) => ({ value: m >= 2 && m <= x.n - 1 ? values[next++]! : NaN, sampled: x.n, clusters: m }));
}

/** `size` distinct indices of 0..n−1 chosen uniformly (partial Fisher–Yates), in ascending order. */
export function sampleIndices(n: number, size: number, rng: Rng): Int32Array {
  if (size >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < size; i++) {
    const j = i + rng.int(n - i);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm.subarray(0, size).sort();
}

/** Contingency table of two labelings (rows: first, columns: second). */
export function contingency<A, B>(a: ReadonlyArray<A>, b: ReadonlyArray<B>): number[][] {
  if (a.length !== b.length) throw new RangeError(`labelings differ in length: ${a.length} vs ${b.length}`);
  const ea = encodeLabels(a);
  const eb = encodeLabels(b);
  const table = Array.from({ length: ea.classes.length }, () => new Array<number>(eb.classes.length).fill(0));
  for (let i = 0; i < a.length; i++) table[ea.codes[i]!]![eb.codes[i]!]!++;
  return table;
}

const comb2 = (v: number): number => (v * (v - 1)) / 2;

/**
 * Adjusted Rand index (Hubert & Arabie 1985), as scikit-learn's
 * `adjusted_rand_score`: 1 for identical partitions, ~0 for random ones.
 * Two trivial identical partitions (all one cluster, or all singletons) give 1.
 */
export function adjustedRandIndex<A, B>(truth: ReadonlyArray<A>, pred: ReadonlyArray<B>): number {
  const table = contingency(truth, pred);
  const n = truth.length;
  let sumCells = 0;
  for (const row of table) for (const v of row) sumCells += comb2(v);
  const rowSums = table.map((r) => r.reduce((s, v) => s + v, 0));
  const colSums = table[0] ? table[0].map((_, j) => table.reduce((s, r) => s + r[j]!, 0)) : [];
  const sumA = rowSums.reduce((s, v) => s + comb2(v), 0);
  const sumB = colSums.reduce((s, v) => s + comb2(v), 0);
  const expected = (sumA * sumB) / comb2(n);
  const max = (sumA + sumB) / 2;
  if (max === expected) return 1; // both partitions trivial and equal in pair structure
  return (sumCells - expected) / (max - expected);
}

/** Shannon entropy (natural log) of a labeling. */
export function entropy<T>(labels: ReadonlyArray<T>): number {
  const n = labels.length;
  const counts = new Map<T, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / n) * Math.log(c / n);
  return h;
}

/** Mutual information (natural log) between two labelings. */
export function mutualInformation<A, B>(a: ReadonlyArray<A>, b: ReadonlyArray<B>): number {
  const table = contingency(a, b);
  const n = a.length;
  const rowSums = table.map((r) => r.reduce((s, v) => s + v, 0));
  const colSums = table[0] ? table[0].map((_, j) => table.reduce((s, r) => s + r[j]!, 0)) : [];
  let mi = 0;
  table.forEach((row, i) => row.forEach((v, j) => {
    if (v > 0) mi += (v / n) * Math.log((v * n) / (rowSums[i]! * colSums[j]!));
  }));
  return Math.max(0, mi);
}

/**
 * Normalised mutual information with the arithmetic-mean normalisation
 * (scikit-learn's default, `average_method='arithmetic'`):
 * NMI = I(U;V) / ((H(U) + H(V)) / 2). When both labelings have a single
 * class the score is 1 (scikit-learn's convention).
 */
export function normalizedMutualInformation<A, B>(a: ReadonlyArray<A>, b: ReadonlyArray<B>): number {
  const ha = entropy(a);
  const hb = entropy(b);
  if (ha === 0 && hb === 0) return 1;
  const denom = (ha + hb) / 2;
  return denom > 0 ? mutualInformation(a, b) / denom : 0;
}
