/**
 * Analysis at spectrum-image scale: k-means over flat matrices (Hamerly bounds,
 * relative tolerance, mini-batch), the silhouette on a seeded sample, mixtures
 * fitted on a sample, embeddings of a sample, and degenerate (identical) codes.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adjustedRandIndex, sampledSilhouette, sampleIndices, silhouette } from '../../src/analysis/clustering-metrics.js';
import { kmeans, kmeansPlusPlus, lloyd } from '../../src/analysis/kmeans.js';
import { silhouetteSeed } from '../../src/analysis/select-k.js';
import { readRecords, writeLatent } from '../../src/data/arrow-io.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { cluster } from '../../src/stages/cluster.js';
import { embed } from '../../src/stages/embed.js';
import { Rng } from '../../src/util/random.js';
import { blobTable, tempDir, writeBlobs } from './helpers.js';

const dir = tempDir();

/** The silhouette straight from its definition (Rousseeuw 1987), O(n²) over plain arrays. */
function silhouetteByDefinition(x: number[][], labels: number[]): number {
  const dist = (a: number[], b: number[]) => Math.sqrt(a.reduce((s, v, j) => s + (v - b[j]!) ** 2, 0));
  const clusters = [...new Set(labels)];
  let total = 0;
  x.forEach((xi, i) => {
    const meanTo = (c: number) => {
      const others = x.filter((_, j) => labels[j] === c && j !== i);
      return others.reduce((s, xj) => s + dist(xi, xj), 0) / others.length;
    };
    if (labels.filter((l) => l === labels[i]).length === 1) return;
    const a = meanTo(labels[i]!);
    const b = Math.min(...clusters.filter((c) => c !== labels[i]).map(meanTo));
    total += (b - a) / Math.max(a, b);
  });
  return total / x.length;
}

/** Plain Lloyd from given centres until no assignment changes: the reference for the bounded version. */
function plainLloyd(x: number[][], init: number[][]): { labels: number[]; iterations: number } {
  let centres = init.map((c) => [...c]);
  let labels: number[] = [];
  for (let it = 1; it <= 1000; it++) {
    const next = x.map((p) => {
      let best = 0;
      centres.forEach((c, ci) => { if (p.reduce((s, v, j) => s + (v - c[j]!) ** 2, 0) < p.reduce((s, v, j) => s + (v - centres[best]![j]!) ** 2, 0)) best = ci; });
      return best;
    });
    if (next.every((l, i) => l === labels[i])) return { labels, iterations: it };
    labels = next;
    centres = centres.map((c, ci) => {
      const members = x.filter((_, i) => labels[i] === ci);
      return members.length ? c.map((_, j) => members.reduce((s, p) => s + p[j]!, 0) / members.length) : c;
    });
  }
  throw new Error('did not converge');
}

describe('silhouette on a seeded sample', () => {
  // three overlapping 2-D blobs: silhouettes spread over (−0.2, 0.8), so sampling error is visible
  const t = blobTable([[0, 0], [2.5, 0], [0, 2.5]], 120, 1, 5);
  const x = Array.from({ length: t.n }, (_, i) => [t.z[2 * i]!, t.z[2 * i + 1]!]);
  const labels = kmeans(x, 3, { seed: 1 }).labels;
  const exact = silhouetteByDefinition(x, Array.from(labels));

  it('is the exact value when the sample is at least n, and the fast exact value matches the definition', () => {
    expect(silhouette(x, labels)).toBeCloseTo(exact, 10);
    expect(sampledSilhouette(x, labels, t.n, 9)).toEqual({ value: silhouette(x, labels), sampled: t.n, clusters: 3 });
  });

  it('agrees with the exact value within sampling error, and is reproducible for a seed', () => {
    const size = 120;
    const values = Array.from({ length: 30 }, (_, s) => sampledSilhouette(x, labels, size, 100 + s));
    expect(values.every((v) => v.sampled === size)).toBe(true);
    const mean = values.reduce((s, v) => s + v.value, 0) / values.length;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v.value - mean) ** 2, 0) / (values.length - 1));
    expect(sd).toBeGreaterThan(0); // the samples differ
    // the sampled silhouette is a ratio estimator, nearly unbiased: its mean over 30 seeds lies within 4 standard errors
    expect(Math.abs(mean - exact)).toBeLessThan(4 * sd / Math.sqrt(values.length));
    for (const v of values) expect(Math.abs(v.value - exact)).toBeLessThan(5 * sd);
    expect(sampledSilhouette(x, labels, size, 100)).toEqual(values[0]);
  });

  it('draws distinct indices uniformly', () => {
    const counts = new Array<number>(10).fill(0);
    const rng = new Rng(3);
    for (let r = 0; r < 2000; r++) {
      const idx = sampleIndices(10, 3, rng);
      expect(new Set(idx).size).toBe(3);
      expect([...idx]).toEqual([...idx].sort((a, b) => a - b));
      for (const i of idx) counts[i]!++;
    }
    // each index is drawn with probability 3/10: 600 of 2000, binomial sd ≈ 20.5
    for (const c of counts) expect(Math.abs(c - 600)).toBeLessThan(5 * 20.5);
  });
});

describe('k-means at scale', () => {
  it('bounded Lloyd gives plain Lloyd\'s assignments from the same start on overlapping data', () => {
    const t = blobTable([[0, 0, 0], [1.5, 0, 0], [0, 1.5, 0], [1, 1, 1]], 150, 0.8, 7);
    const x = Array.from({ length: t.n }, (_, i) => Array.from(t.z.subarray(3 * i, 3 * i + 3)));
    const init = kmeansPlusPlus(x, 6, new Rng(2));
    const ref = plainLloyd(x, init);
    expect(ref.iterations).toBeGreaterThan(5); // the bounds had something to skip
    const r = lloyd(x, init, 1000, 0);
    expect(Array.from(r.labels)).toEqual(ref.labels);
    expect(r.converged).toBe(true);
  });

  it('recovers known centres exactly on separated blobs (labels = blobs, centroids = blob means)', () => {
    const centres = [[0, 0], [10, 0], [0, 10], [10, 10]];
    const t = blobTable(centres, 2500, 0.5, 3);
    const truth = Array.from({ length: t.n }, (_, i) => Math.floor(i / 2500));
    for (const algorithm of ['lloyd', 'minibatch'] as const) {
      const r = kmeans({ data: Float64Array.from(t.z), n: t.n, d: 2 }, 4, { seed: 1, restarts: 1, algorithm });
      expect(adjustedRandIndex(truth, Array.from(r.labels))).toBe(1);
      for (let g = 0; g < 4; g++) {
        const c = r.centroids[r.labels[g * 2500]!]!;
        const mean = [0, 1].map((j) => { let s = 0; for (let i = g * 2500; i < (g + 1) * 2500; i++) s += t.z[2 * i + j]!; return s / 2500; });
        // Lloyd's centroids are the blob means; mini-batch's are running means of samples, close to them
        if (algorithm === 'lloyd') for (const j of [0, 1]) expect(c[j]).toBeCloseTo(mean[j]!, 9);
        else for (const j of [0, 1]) expect(Math.abs(c[j]! - mean[j]!)).toBeLessThan(0.1);
      }
      const again = kmeans({ data: Float64Array.from(t.z), n: t.n, d: 2 }, 4, { seed: 1, restarts: 1, algorithm });
      expect(again.inertia).toBe(r.inertia);
    }
  });
});

describe('cluster and embed at scale and on degenerate codes', () => {
  it('records the silhouette sample, fits a mixture on a sample and applies it to every code', async () => {
    const t = blobTable([[0, 0], [6, 0], [0, 6]], 200, 0.6, 2, ['a', 'b', 'c']);
    const path = join(dir, 'blobs600.arrow');
    await writeBlobs(path, t);
    const km = await runStageForTest(cluster, { inputs: { codes: path }, params: { k: 'auto', k_range: [2, 4], silhouette_sample: 150 }, seed: 1 });
    expect(km.metrics.k).toBe(3);
    expect(km.metrics.silhouette_sample).toBe(150);
    expect(km.logs.join('\n')).toMatch(/silhouette on a seeded sample of 150 of 600 codes/);
    const full = await runStageForTest(cluster, { inputs: { codes: path }, params: { k: 3 }, seed: 1 });
    expect(full.metrics.silhouette_sample).toBe(600);
    expect(Math.abs((km.metrics.silhouette as number) - (full.metrics.silhouette as number))).toBeLessThan(0.05);

    const g = await runStageForTest(cluster, { inputs: { codes: path }, params: { method: 'gmm', k: 3, fit_sample: 90 }, seed: 1 });
    expect(g.metrics.fit_sample).toBe(90);
    expect(g.metrics.ari).toBe(1);
    const { rows } = await readRecords(g.outputs.assignments!);
    expect(rows).toHaveLength(600);
    for (const r of rows) expect((r.resp_0 as number) + (r.resp_1 as number) + (r.resp_2 as number)).toBeCloseTo(1, 9);
  });

  it('a silhouette sample that holds one cluster gives silhouette null and says why (scikit-learn: defined for 2..n−1 clusters)', async () => {
    // 300 codes near 0 and 3 outliers near 100: k = 2 splits them, a 4-code sample almost surely misses the outliers
    const n = 303;
    const z = Float32Array.from({ length: n }, (_, i) => (i < 300 ? (i % 7) * 0.01 : 100 + i));
    const idx = sampleIndices(n, 4, new Rng(silhouetteSeed(5)));
    expect(Array.from(idx).every((i) => i < 300)).toBe(true); // the case this test is about
    const path = join(dir, 'outliers.arrow');
    await writeLatent(path, { n, k: 1, ids: Array.from({ length: n }, (_, i) => `p${i}`), z, columns: {}, metadata: {} });
    const r = await runStageForTest(cluster, { inputs: { codes: path }, params: { k: 2, silhouette_sample: 4 }, seed: 5 });
    expect(r.metrics.cluster_sizes).toEqual([300, 3]);
    expect(r.metrics.silhouette).toBeNull();
    expect(r.metrics.silhouette_sample).toBe(4);
    expect(r.logs.join('\n')).toMatch(/silhouette undefined: the seeded sample of 4 codes holds 1 cluster/);
    // the analysis function says the same with NaN instead of throwing
    const labels = Int32Array.from({ length: n }, (_, i) => (i < 300 ? 0 : 1));
    const s = sampledSilhouette({ data: Float64Array.from(z), n, d: 1 }, labels, 4, silhouetteSeed(5));
    expect(s.sampled).toBe(4);
    expect(s.value).toBeNaN();
    expect(s.clusters).toBe(1);
    // k: auto with no k whose sample silhouette is defined: one clear line, not a RangeError
    const zz = Float32Array.from({ length: n }, (_, i) => (i < 300 ? 0 : 100 + (i % 2)));
    const flat = join(dir, 'outliers-auto.arrow');
    await writeLatent(flat, { n, k: 1, ids: Array.from({ length: n }, (_, i) => `p${i}`), z: zz, columns: {}, metadata: {} });
    await expect(runStageForTest(cluster, { inputs: { codes: flat }, params: { k: 'auto', k_range: [2, 3], silhouette_sample: 4 }, seed: 5 }))
      .rejects.toThrow(/the silhouette is undefined for every k: the seeded sample of 4 codes holds 1, 1 clusters for k = 2, 3/);
  });

  it('identical codes: a clear error for k-means (fixed k and auto), UMAP and t-SNE; k stops at the distinct values', async () => {
    const same = join(dir, 'same.arrow');
    await writeLatent(same, { n: 30, k: 2, ids: Array.from({ length: 30 }, (_, i) => `p${i}`), z: new Float32Array(60).fill(0.5), columns: {}, metadata: {} });
    await expect(runStageForTest(cluster, { inputs: { codes: same }, params: { k: 3 } })).rejects.toThrow(/all 30 latent codes are identical/);
    await expect(runStageForTest(cluster, { inputs: { codes: same }, params: { k: 'auto' } })).rejects.toThrow(/all 30 latent codes are identical/);
    for (const method of ['umap', 'tsne']) {
      await expect(runStageForTest(embed, { inputs: { codes: same }, params: { method } })).rejects.toThrow(/all 30 points are identical/);
    }
    // two distinct values: k = 3 cannot be formed; auto tries k = 2 only
    const two = join(dir, 'two.arrow');
    await writeLatent(two, { n: 30, k: 1, ids: Array.from({ length: 30 }, (_, i) => `p${i}`), z: Float32Array.from({ length: 30 }, (_, i) => (i % 2 ? 1 : 0)), columns: {}, metadata: {} });
    await expect(runStageForTest(cluster, { inputs: { codes: two }, params: { k: 3 } })).rejects.toThrow(/only 2 distinct values/);
    const auto = await runStageForTest(cluster, { inputs: { codes: two }, params: { k: 'auto' } });
    expect(auto.metrics.k).toBe(2);
    expect(auto.metrics.distinct_codes).toBe(2);
    expect(auto.metrics.cluster_sizes).toEqual([15, 15]);
    expect(auto.logs.join('\n')).toMatch(/warning: the codes take only 2 distinct values/);
  });

  it('umap fitted on a sample places every point; t-SNE embeds only its sample and says so', async () => {
    const t = blobTable([[0, 0, 0], [8, 0, 0], [0, 8, 0]], 40, 0.7, 1, ['a', 'b', 'c']);
    const path = join(dir, 'embed-sample.arrow');
    await writeBlobs(path, t);
    const u = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'umap', n_neighbors: 8, sample_size: 60, epochs: 100 }, seed: 2 });
    expect(u.metrics).toMatchObject({ fit_sample: 60, embedded: 120 });
    const ur = (await readRecords(u.outputs.embedding!)).rows;
    expect(ur.map((r) => r.id)).toEqual(t.ids);
    // points placed by the fitted model land with their own blob
    const xy = ur.map((r) => [r.x as number, r.y as number]);
    expect(adjustedRandIndex(t.labels, Array.from(kmeans(xy, 3, { seed: 0 }).labels))).toBe(1);
    const ts = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'tsne', perplexity: 5, iterations: 300, sample_size: 50 }, seed: 2 });
    expect(ts.metrics).toMatchObject({ fit_sample: 50, embedded: 50 });
    expect(ts.logs.join('\n')).toMatch(/t-SNE cannot place points it was not fitted on/);
    const tr = (await readRecords(ts.outputs.embedding!)).rows;
    expect(tr).toHaveLength(50);
    expect(new Set(tr.map((r) => r.id)).size).toBe(50);
  });
});
