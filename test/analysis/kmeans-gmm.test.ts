import { describe, expect, it } from 'vitest';
import { kmeans as mlKmeans } from 'ml-kmeans';
import { adjustedRandIndex, inertia, type Rows } from '../../src/analysis/clustering-metrics.js';
import { bic, cholesky, fitGmm, gmmParameterCount } from '../../src/analysis/gmm.js';
import { kmeans, kmeansPlusPlus, lloyd } from '../../src/analysis/kmeans.js';
import { selectGmm, selectKMeans } from '../../src/analysis/select-k.js';
import { Rng } from '../../src/util/random.js';

function blobs(centres: number[][], per: number, sd: number, seed: number): { x: number[][]; labels: number[] } {
  const rng = new Rng(seed);
  const x: number[][] = [];
  const labels: number[] = [];
  centres.forEach((c, l) => {
    for (let i = 0; i < per; i++) {
      x.push(c.map((v) => v + rng.normal(0, sd)));
      labels.push(l);
    }
  });
  return { x, labels };
}

/** Smallest within-cluster sum of squares over every 2-partition (brute force). */
function bestTwoPartition(x: number[][]): number {
  let best = Infinity;
  for (let mask = 1; mask < (1 << x.length) - 1; mask++) {
    const labels = x.map((_, i) => (mask >> i) & 1);
    best = Math.min(best, inertia(x, labels));
  }
  return best;
}

describe('k-means', () => {
  it('finds the brute-force optimum of a 2-partition of 12 points', () => {
    const rng = new Rng(3);
    const x = Array.from({ length: 12 }, () => [rng.normal(), rng.normal(0, 2)]);
    const r = kmeans(x, 2, { seed: 5, restarts: 10 });
    expect(r.inertia).toBeCloseTo(bestTwoPartition(x), 9);
    expect(r.inertia).toBeCloseTo(inertia(x, r.labels), 9);
  });

  it('Lloyd iterations agree with ml-kmeans from the same initial centres', () => {
    const { x } = blobs([[0, 0], [3, 0], [0, 3], [3, 3]], 25, 1.0, 4);
    const init = kmeansPlusPlus(x, 4, new Rng(9));
    const ours = lloyd(x, init);
    const theirs = mlKmeans(x, 4, { initialization: init.map((c) => [...c]), maxIterations: 300, tolerance: 0 });
    expect(adjustedRandIndex(Array.from(ours.labels), theirs.clusters)).toBe(1);
    ours.centroids.forEach((c, i) => c.forEach((v, j) => expect(v).toBeCloseTo(theirs.centroids[i]![j]!, 9)));
  });

  it('is reproducible for a seed and recovers separated blobs', () => {
    const { x, labels } = blobs([[0, 0], [10, 0], [0, 10]], 30, 0.5, 6);
    const a = kmeans(x, 3, { seed: 1 });
    const b = kmeans(x, 3, { seed: 1 });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(adjustedRandIndex(labels, Array.from(a.labels))).toBe(1);
    expect(a.converged).toBe(true);
  });

  it('k-means++ picks distinct points of the data', () => {
    const x = [[0], [1], [2], [3], [100]];
    const c = kmeansPlusPlus(x, 3, new Rng(2));
    expect(new Set(c.map((v) => v[0])).size).toBe(3);
    c.forEach((v) => expect(x.some((p) => p[0] === v[0])).toBe(true));
  });
});

describe('Gaussian mixture (EM)', () => {
  it('counts parameters as scikit-learn does', () => {
    // full: (k−1) + k d + k d(d+1)/2 ; diag: (k−1) + 2 k d
    expect(gmmParameterCount(3, 2, 'full')).toBe(2 + 6 + 9);
    expect(gmmParameterCount(3, 2, 'diag')).toBe(2 + 6 + 6);
    expect(gmmParameterCount(1, 4, 'full')).toBe(0 + 4 + 10);
    expect(bic(-100, 5, 50)).toBeCloseTo(5 * Math.log(50) + 200, 12);
  });

  it('one component: maximum-likelihood mean, covariance and closed-form log-likelihood', () => {
    const rng = new Rng(7);
    const x = Array.from({ length: 200 }, () => {
      const a = rng.normal();
      const b = rng.normal();
      return [1 + a, -2 + 0.5 * a + 0.3 * b];
    });
    const n = x.length;
    const mean = [0, 1].map((j) => x.reduce((s, r) => s + r[j]!, 0) / n);
    const cov = [0, 1].map((a) => [0, 1].map((b) => x.reduce((s, r) => s + (r[a]! - mean[a]!) * (r[b]! - mean[b]!), 0) / n));
    const det = cov[0]![0]! * cov[1]![1]! - cov[0]![1]! ** 2;
    // ln L = −n/2 (d ln 2π + ln|Σ| + d) at the MLE
    const logL = (-n / 2) * (2 * Math.log(2 * Math.PI) + Math.log(det) + 2);
    const g = fitGmm(x, 1, { seed: 0, covariance: 'full', regCovar: 0 });
    expect(g.means[0]![0]).toBeCloseTo(mean[0]!, 10);
    expect(g.means[0]![1]).toBeCloseTo(mean[1]!, 10);
    expect(g.covariances[0]![0]![1]).toBeCloseTo(cov[0]![1]!, 10);
    expect(g.logLikelihood).toBeCloseTo(logL, 8);
    expect(g.bic).toBeCloseTo(5 * Math.log(n) - 2 * logL, 7);
    const gd = fitGmm(x, 1, { seed: 0, covariance: 'diag', regCovar: 0 });
    const logLDiag = (-n / 2) * (2 * Math.log(2 * Math.PI) + Math.log(cov[0]![0]! * cov[1]![1]!) + 2);
    expect(gd.logLikelihood).toBeCloseTo(logLDiag, 8);
    expect(g.logLikelihood).toBeGreaterThan(gd.logLikelihood); // correlated data: full fits better
  });

  it('recovers well-separated components: weights, means and covariances of the true groups', () => {
    const { x, labels } = blobs([[0, 0], [8, 0], [0, 8]], 40, 1, 8);
    const trueMean = (l: number, j: number) => {
      const pts = x.filter((_, i) => labels[i] === l);
      return pts.reduce((s, r) => s + r[j]!, 0) / pts.length;
    };
    for (const covariance of ['full', 'diag'] as const) {
      const g = fitGmm(x, 3, { seed: 2, covariance });
      expect(adjustedRandIndex(labels, Array.from(g.labels))).toBe(1);
      for (let l = 0; l < 3; l++) {
        const c = g.labels[labels.indexOf(l)]!;
        expect(g.weights[c]).toBeCloseTo(1 / 3, 3);
        expect(g.means[c]![0]).toBeCloseTo(trueMean(l, 0), 3);
        expect(g.means[c]![1]).toBeCloseTo(trueMean(l, 1), 3);
      }
      // responsibilities are probabilities
      for (let i = 0; i < x.length; i++) {
        const row = Array.from(g.responsibilities.subarray(i * 3, i * 3 + 3));
        expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
      }
    }
  });

  it('Cholesky factor reproduces the matrix', () => {
    const a = [[4, 2, 0.4], [2, 5, 1], [0.4, 1, 3]];
    const l = cholesky(a)!;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      expect(l[i]!.reduce((s, v, m) => s + v * l[j]![m]!, 0)).toBeCloseTo(a[i]![j]!, 12);
    }
    expect(cholesky([[1, 2], [2, 1]])).toBeUndefined();
  });
});

describe('choosing k', () => {
  const { x, labels } = blobs([[0, 0, 0], [6, 0, 0], [0, 6, 0], [0, 0, 6]], 30, 0.8, 11);
  it('k-means by silhouette picks 4 and reports inertia per k (decreasing)', () => {
    const sel = selectKMeans(x as Rows, [2, 3, 4, 5, 6], { seed: 3 });
    expect(sel.best.k).toBe(4);
    expect(adjustedRandIndex(labels, Array.from(sel.best.labels))).toBe(1);
    const inertias = [2, 3, 4, 5, 6].map((k) => sel.inertiaByK[k]!);
    for (let i = 1; i < inertias.length; i++) expect(inertias[i]).toBeLessThan(inertias[i - 1]!);
  });
  it('GMM by BIC picks 4', () => {
    for (const covariance of ['full', 'diag'] as const) {
      const sel = selectGmm(x, [2, 3, 4, 5, 6], { seed: 3, covariance });
      expect(sel.best.k).toBe(4);
      expect(Math.min(...Object.values(sel.bicByK))).toBe(sel.bicByK[4]);
    }
  });
});
