import { UMAP } from 'umap-js';
import { describe, expect, it } from 'vitest';
import { setTransformEpochs, transformEpochs, transformPoints, type FittedUmap } from '../../src/analysis/umap-transform.js';

/** Two blobs in 3-D from a fixed linear congruential sequence. */
function blobs(n: number, seed: number): number[][] {
  let s = seed;
  const r = (): number => ((s = (s * 16807) % 2147483647) / 2147483647);
  return Array.from({ length: n }, (_, i) => [0, 1, 2].map((d) => (i % 2) * 5 * (d === 0 ? 1 : 0) + r()));
}

function fitted(points: number[][]): FittedUmap {
  let s = 7;
  const umap = new UMAP({ nComponents: 2, nNeighbors: 5, nEpochs: 30, random: () => ((s = (s * 16807) % 2147483647) / 2147483647) });
  const epochs = umap.initializeFit(points);
  for (let e = 0; e < epochs; e++) umap.step();
  const model = umap as unknown as FittedUmap;
  setTransformEpochs(model, 10);
  return model;
}

describe('placing new points with a fitted UMAP', () => {
  it('takes umap-learn\'s transform epochs: a third of the fit\'s when set, else 100 up to 10,000 new points and 30 beyond', () => {
    expect(transformEpochs(undefined, 1)).toBe(100);
    expect(transformEpochs(undefined, 10_000)).toBe(100);
    expect(transformEpochs(undefined, 10_001)).toBe(30);
    expect(transformEpochs(300, 50)).toBe(100);
    expect(transformEpochs(200, 50_000)).toBe(67); // 66.7 rounded
    expect(transformEpochs(1, 5)).toBe(1);
  });

  it('a batch as large as the fit leaves the fitted embedding untouched (umap-js alone moves it)', () => {
    const fit = blobs(30, 3);
    const batch = blobs(30, 11);
    const model = fitted(fit);
    const before = model.getEmbedding().map((p) => [...p]);
    const placed = transformPoints(model, batch);
    expect(placed).toHaveLength(30);
    expect(placed.every((p) => p.length === 2 && p.every(Number.isFinite))).toBe(true);
    expect(model.getEmbedding()).toEqual(before);
    // why the split exists: the library's own call with an equal-sized batch moves the fitted points
    const raw = fitted(fit);
    const rawBefore = raw.getEmbedding().map((p) => [...p]);
    raw.transform(batch);
    expect(raw.getEmbedding()).not.toEqual(rawBefore);
  });
});
