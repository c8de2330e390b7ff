/**
 * Choosing the number of clusters: k-means by mean silhouette (with the
 * inertia per k, the elbow curve, reported beside it); Gaussian mixtures by BIC.
 */
import { silhouette, type Rows } from './clustering-metrics.js';
import { fitGmm, type CovarianceType, type GmmResult } from './gmm.js';
import { kmeans, type KMeansResult } from './kmeans.js';

export interface KMeansSelection {
  best: KMeansResult;
  /** k → inertia. */
  inertiaByK: Record<number, number>;
  /** k → mean silhouette. */
  silhouetteByK: Record<number, number>;
}

/** The k (within `ks`, each 2..n−1) whose k-means solution has the highest mean silhouette; ties go to the smaller k. */
export function selectKMeans(x: Rows, ks: number[], options: { seed: number; restarts?: number; maxIterations?: number; onProgress?: (done: number) => void }): KMeansSelection {
  const inertiaByK: Record<number, number> = {};
  const silhouetteByK: Record<number, number> = {};
  let best: KMeansResult | undefined;
  let bestS = -Infinity;
  ks.forEach((k, idx) => {
    const r = kmeans(x, k, { seed: options.seed, restarts: options.restarts, maxIterations: options.maxIterations });
    inertiaByK[k] = r.inertia;
    const s = silhouette(x, r.labels);
    silhouetteByK[k] = s;
    if (s > bestS) {
      bestS = s;
      best = r;
    }
    options.onProgress?.(idx + 1);
  });
  return { best: best!, inertiaByK, silhouetteByK };
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
