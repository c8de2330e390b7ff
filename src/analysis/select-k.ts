/**
 * Choosing the number of clusters: k-means by mean silhouette (with the
 * inertia per k, the elbow curve, reported beside it); Gaussian mixtures by BIC.
 */
import { sampledSilhouettes, type Rows } from './clustering-metrics.js';
import { deriveSeed } from '../util/random.js';
import { fitGmm, type CovarianceType, type GmmResult } from './gmm.js';
import { kmeans, type KMeansOptions, type KMeansResult } from './kmeans.js';
import { asMatrix, type Points } from './matrix.js';

export interface KMeansSelection {
  best: KMeansResult;
  /** k → inertia. */
  inertiaByK: Record<number, number>;
  /** k → mean silhouette. */
  silhouetteByK: Record<number, number>;
  /** Points each silhouette was computed on (n, or the sample size). */
  silhouetteSampled: number;
}

/**
 * The k (within `ks`, each 2..n−1) whose k-means solution has the highest mean
 * silhouette; ties go to the smaller k. With `silhouetteSample` the silhouettes
 * are computed on one seeded sample of that many points (the same for every k).
 */
export function selectKMeans(
  points: Points,
  ks: number[],
  options: Omit<KMeansOptions, 'seed'> & { seed: number; silhouetteSample?: number; onProgress?: (done: number) => void },
): KMeansSelection {
  const x = asMatrix(points);
  const { silhouetteSample, onProgress, ...kmOptions } = options;
  const inertiaByK: Record<number, number> = {};
  const silhouetteByK: Record<number, number> = {};
  const fits = ks.map((k, idx) => {
    const r = kmeans(x, k, kmOptions);
    inertiaByK[k] = r.inertia;
    onProgress?.(idx + 1);
    return r;
  });
  const sil = sampledSilhouettes(x, fits.map((r) => r.labels), silhouetteSample ?? Infinity, silhouetteSeed(options.seed));
  let best: KMeansResult | undefined;
  let bestS = -Infinity;
  fits.forEach((r, idx) => {
    silhouetteByK[r.k] = sil[idx]!.value;
    // an undefined (NaN) silhouette never wins
    if (sil[idx]!.value > bestS) {
      bestS = sil[idx]!.value;
      best = r;
    }
  });
  if (!best) {
    throw new RangeError(`the silhouette is undefined for every k: the seeded sample of ${sil[0]?.sampled ?? x.n} codes holds ${sil.map((s) => s.clusters).join(', ')} clusters for k = ${ks.join(', ')} (it needs 2 to sample size − 1); raise silhouette_sample`);
  }
  const sampled = sil[0]?.sampled ?? x.n;
  return { best: best!, inertiaByK, silhouetteByK, silhouetteSampled: sampled };
}

/** The seed of the silhouette's sample: one sample for every k and for the final labels. */
export function silhouetteSeed(seed: number): number {
  return deriveSeed(seed, 'silhouette-sample');
}

export interface GmmSelection {
  best: GmmResult;
  /** k → BIC. */
  bicByK: Record<number, number>;
}

/** The k (within `ks`) whose mixture has the lowest BIC; ties go to the smaller k. */
export function selectGmm(
  x: Rows,
  ks: number[],
  options: { seed: number; covariance: CovarianceType; restarts?: number; maxIterations?: number; onProgress?: (done: number) => void },
): GmmSelection {
  const bicByK: Record<number, number> = {};
  let best: GmmResult | undefined;
  ks.forEach((k, idx) => {
    const r = fitGmm(x, k, { seed: options.seed, covariance: options.covariance, restarts: options.restarts, maxIterations: options.maxIterations });
    bicByK[k] = r.bic;
    if (!best || r.bic < best.bic) best = r;
    options.onProgress?.(idx + 1);
  });
  return { best: best!, bicByK };
}
