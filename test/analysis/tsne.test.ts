import { describe, expect, it } from 'vitest';
import { adjustedRandIndex, silhouette } from '../../src/analysis/clustering-metrics.js';
import { kmeans } from '../../src/analysis/kmeans.js';
import { conditionalAffinities, rowEntropy, tsne } from '../../src/analysis/tsne.js';
import { Rng } from '../../src/util/random.js';

describe('exact t-SNE', () => {
  const rng = new Rng(5);
  const labels: number[] = [];
  const x: number[][] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 30; i++) {
      x.push(Array.from({ length: 5 }, (_, j) => (j === c ? 10 : 0) + rng.normal()));
      labels.push(c);
    }
  }
  it('calibrates each row to the requested perplexity: H(P_i) = ln(perplexity)', () => {
    const p = conditionalAffinities(x, 10);
    for (const i of [0, 31, 89]) {
      expect(rowEntropy(p, x.length, i)).toBeCloseTo(Math.log(10), 5);
      let s = 0;
      for (let j = 0; j < x.length; j++) s += p[i * x.length + j]!;
      expect(s).toBeCloseTo(1, 12);
    }
  });
  it('keeps separated clusters separated and is reproducible', () => {
    const y = tsne(x, { seed: 1, perplexity: 10, iterations: 400 });
    expect(silhouette(y, labels)).toBeGreaterThan(0.7);
    expect(adjustedRandIndex(labels, Array.from(kmeans(y, 3, { seed: 0 }).labels))).toBe(1);
    expect(tsne(x, { seed: 1, perplexity: 10, iterations: 400 })).toEqual(y);
  });
});
