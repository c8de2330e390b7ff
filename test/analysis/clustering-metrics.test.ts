import { describe, expect, it } from 'vitest';
import {
  adjustedRandIndex, contingency, entropy, inertia, mutualInformation, normalizedMutualInformation, silhouette,
} from '../../src/analysis/clustering-metrics.js';
import { Rng } from '../../src/util/random.js';

/** Silhouette straight from the definition, via a full distance matrix (independent of the library's loop). */
function silhouetteByDefinition(x: number[][], labels: number[]): number {
  const n = x.length;
  const dist = x.map((a) => x.map((b) => Math.hypot(...a.map((v, j) => v - b[j]!))));
  const clusters = [...new Set(labels)];
  const s = x.map((_, i) => {
    const own = labels.map((l, j) => (l === labels[i] && j !== i ? dist[i]![j]! : NaN)).filter((v) => !Number.isNaN(v));
    if (own.length === 0) return 0;
    const a = own.reduce((p, v) => p + v, 0) / own.length;
    const b = Math.min(...clusters.filter((c) => c !== labels[i]).map((c) => {
      const ds = labels.map((l, j) => (l === c ? dist[i]![j]! : NaN)).filter((v) => !Number.isNaN(v));
      return ds.reduce((p, v) => p + v, 0) / ds.length;
    }));
    return (b - a) / Math.max(a, b);
  });
  return s.reduce((p, v) => p + v, 0) / n;
}

/** ARI from raw pair counts (a: same/same, b: same/diff, c: diff/same, d: diff/diff). */
function ariFromPairs(u: number[], v: number[]): number {
  let a = 0, b = 0, c = 0, d = 0;
  for (let i = 0; i < u.length; i++) {
    for (let j = i + 1; j < u.length; j++) {
      const su = u[i] === u[j];
      const sv = v[i] === v[j];
      if (su && sv) a++;
      else if (su) b++;
      else if (sv) c++;
      else d++;
    }
  }
  return (2 * (a * d - b * c)) / ((a + b) * (b + d) + (a + c) * (c + d));
}

describe('silhouette', () => {
  it('matches a hand-worked 1-D case', () => {
    // points 0,1 | 4,5: s = 7/9 for the outer points (a = 1, b = 4.5) and 5/7 for the inner ones (a = 1, b = 3.5)
    const s = silhouette([[0], [1], [4], [5]], [0, 0, 1, 1]);
    expect(s).toBeCloseTo((7 / 9 + 5 / 7) / 2, 12);
  });

  it('counts a singleton cluster as 0', () => {
    // 0,2 | 10: a(0) = 2, b(0) = 10 → 0.8; a(2) = 2, b(2) = 8 → 0.75; s(10) = 0 (alone)
    expect(silhouette([[0], [2], [10]], [0, 0, 1])).toBeCloseTo((0.8 + 0.75 + 0) / 3, 12);
  });

  it('agrees with the definition on random 3-D data with 4 clusters', () => {
    const rng = new Rng(1);
    const x = Array.from({ length: 60 }, () => [rng.normal(), rng.normal(), rng.normal()]);
    const labels = x.map((_, i) => i % 4);
    expect(silhouette(x, labels)).toBeCloseTo(silhouetteByDefinition(x, labels), 10);
  });

  it('rejects a single cluster', () => {
    expect(() => silhouette([[0], [1]], [0, 0])).toThrow(RangeError);
  });
});

describe('adjusted Rand index', () => {
  it('gives the published scikit-learn values', () => {
    // scikit-learn docs (adjusted_rand_score): 1.0, 1.0, 0.57, 0.57, 0.0
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 1])).toBe(1);
    expect(adjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0])).toBe(1);
    expect(adjustedRandIndex([0, 0, 1, 2], [0, 0, 1, 1])).toBeCloseTo(4 / 7, 12); // 0.5714
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2])).toBeCloseTo(4 / 7, 12);
    expect(adjustedRandIndex([0, 0, 0, 0], [0, 1, 2, 3])).toBe(0);
  });

  it('agrees with the pair-counting closed form on random labelings', () => {
    const rng = new Rng(2);
    for (let t = 0; t < 5; t++) {
      const u = Array.from({ length: 50 }, () => rng.int(4));
      const v = u.map((l) => (rng.uniform() < 0.7 ? l : rng.int(3)));
      expect(adjustedRandIndex(u, v)).toBeCloseTo(ariFromPairs(u, v), 12);
    }
  });

  it('works with string labels', () => {
    expect(adjustedRandIndex(['a', 'a', 'b', 'b'], [7, 7, 3, 3])).toBe(1);
  });
});

describe('mutual information and NMI (arithmetic normalisation)', () => {
  it('gives 0.8 for a refinement: I = ln 2, H(U) = 1.5 ln 2, H(V) = ln 2', () => {
    const u = [0, 0, 1, 2];
    const v = [0, 0, 1, 1];
    expect(entropy(u)).toBeCloseTo(1.5 * Math.LN2, 12);
    expect(entropy(v)).toBeCloseTo(Math.LN2, 12);
    expect(mutualInformation(u, v)).toBeCloseTo(Math.LN2, 12);
    expect(normalizedMutualInformation(u, v)).toBeCloseTo(0.8, 12);
  });

  it('gives the published scikit-learn values', () => {
    expect(normalizedMutualInformation([0, 0, 1, 1], [0, 0, 1, 1])).toBeCloseTo(1, 12);
    expect(normalizedMutualInformation([0, 0, 1, 1], [1, 1, 0, 0])).toBeCloseTo(1, 12);
    expect(normalizedMutualInformation([0, 0, 0, 0], [0, 1, 2, 3])).toBe(0);
    expect(normalizedMutualInformation([0, 0, 1, 1], [0, 1, 0, 1])).toBeCloseTo(0, 12); // independent
  });

  it('builds the contingency table', () => {
    expect(contingency(['a', 'a', 'b'], [1, 2, 2])).toEqual([[1, 1], [0, 1]]);
  });
});

describe('inertia', () => {
  it('is the sum of squared distances to cluster means (hand case)', () => {
    // cluster 0: (0,0),(2,0) mean (1,0) → 1 + 1; cluster 1: (0,5),(0,7),(0,9) mean (0,7) → 4 + 0 + 4
    expect(inertia([[0, 0], [2, 0], [0, 5], [0, 7], [0, 9]], [0, 0, 1, 1, 1])).toBeCloseTo(10, 12);
  });
});
