import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adjustedRandIndex } from '../../src/analysis/clustering-metrics.js';
import { kmeans } from '../../src/analysis/kmeans.js';
import { readRecords, writeLatent, writeSpectra } from '../../src/data/arrow-io.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { cluster } from '../../src/stages/cluster.js';
import { embed } from '../../src/stages/embed.js';
import { builtinStages } from '../../src/stages/registry.js';
import { blobTable, tempDir, writeBlobs } from './helpers.js';

const dir = tempDir();
const three = blobTable([[0, 0, 0], [8, 0, 0], [0, 8, 0]], 20, 0.7, 1, ['a', 'b', 'c']);

describe('cluster stage', () => {
  it('k: auto with k-means picks 3 on three blobs; ARI = NMI = 1; fixed metric names', async () => {
    const path = join(dir, 'three.arrow');
    await writeBlobs(path, three);
    const run = await runStageForTest(cluster, { inputs: { codes: path }, seed: 3 });
    expect(run.metrics.k).toBe(3);
    expect(run.metrics.ari).toBeCloseTo(1, 12);
    expect(run.metrics.nmi).toBeCloseTo(1, 12);
    expect(run.metrics.silhouette as number).toBeGreaterThan(0.8);
    const inertia = run.metrics.inertia_by_k as Record<string, number>;
    expect(Object.keys(inertia)).toEqual(['2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(inertia['3']!).toBeLessThan(inertia['2']!);
    const { rows, metadata } = await readRecords(run.outputs.assignments!);
    expect(metadata['specflow.kind']).toBeUndefined(); // reserved key, not user metadata
    expect(rows).toHaveLength(60);
    expect(Object.keys(rows[0]!)).toEqual(['id', 'label', 'cluster']);
    expect(rows[0]!.cluster).toBe(0); // numbered by first appearance
    expect(rows.map((r) => r.id)).toEqual(three.ids);
    expect(adjustedRandIndex(three.labels, rows.map((r) => r.cluster))).toBe(1);
  });

  it('fixed k on a hand-worked 1-D case: inertia and silhouette', async () => {
    const path = join(dir, 'hand.arrow');
    await writeLatent(path, { n: 4, k: 1, ids: ['a', 'b', 'c', 'd'], z: Float32Array.from([0, 1, 10, 11]), columns: {}, metadata: {} });
    const run = await runStageForTest(cluster, { inputs: { codes: path }, params: { k: 2 } });
    expect(run.metrics.k).toBe(2);
    // clusters {0,1} and {10,11}: inertia 4 × 0.25; silhouette (9.5/10.5 + 8.5/9.5)/2
    expect((run.metrics.inertia_by_k as Record<string, number>)['2']).toBeCloseTo(1, 6);
    expect(run.metrics.silhouette).toBeCloseTo((9.5 / 10.5 + 8.5 / 9.5) / 2, 6);
    expect(run.metrics.ari).toBeUndefined();
    const { rows } = await readRecords(run.outputs.assignments!);
    expect(rows.map((r) => r.cluster)).toEqual([0, 0, 1, 1]);
  });

  it('gmm with k: auto picks 3 by BIC and writes responsibilities', async () => {
    const path = join(dir, 'three-gmm.arrow');
    await writeBlobs(path, three);
    for (const covariance of ['full', 'diag']) {
      const run = await runStageForTest(cluster, { inputs: { codes: path }, params: { method: 'gmm', covariance, k_range: [1, 6], restarts: 3 }, seed: 1 });
      expect(run.metrics.k).toBe(3);
      expect(run.metrics.ari).toBeCloseTo(1, 12);
      const bic = run.metrics.bic_by_k as Record<string, number>;
      expect(Object.keys(bic)).toEqual(['1', '2', '3', '4', '5', '6']);
      expect(Math.min(...Object.values(bic))).toBe(bic['3']);
      const { rows } = await readRecords(run.outputs.assignments!);
      expect(Object.keys(rows[0]!)).toEqual(['id', 'label', 'cluster', 'resp_0', 'resp_1', 'resp_2']);
      for (const r of rows) {
        const p = [r.resp_0, r.resp_1, r.resp_2] as number[];
        expect(p.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 9);
        expect(p.indexOf(Math.max(...p))).toBe(r.cluster); // responsibilities follow the renumbering
      }
    }
  });

  it('is reproducible for a seed and rejects bad parameters', async () => {
    const path = join(dir, 'three-repro.arrow');
    await writeBlobs(path, three, false);
    const a = await runStageForTest(cluster, { inputs: { codes: path }, params: { k_range: [2, 5] }, seed: 9 });
    const b = await runStageForTest(cluster, { inputs: { codes: path }, params: { k_range: [2, 5] }, seed: 9 });
    expect(a.metrics).toEqual(b.metrics);
    expect(a.metrics.ari).toBeUndefined();
    await expect(runStageForTest(cluster, { inputs: { codes: path }, params: { k: 'many' } })).rejects.toThrow(/invalid parameters/);
    await expect(runStageForTest(cluster, { inputs: { codes: path }, params: { method: 'dbscan' } })).rejects.toThrow(/invalid parameters/);
    await expect(runStageForTest(cluster, { inputs: { codes: path }, params: { k_range: [1, 4] } })).rejects.toThrow(/silhouette/);
  });

  it('reports a spectra table (no `z`) as a user error', async () => {
    const path = join(dir, 'spectra.arrow');
    await writeSpectra(path, {
      n: 2, d: 2, ids: ['a', 'b'], spectra: Float32Array.from([1, 2, 3, 4]), axis: Float64Array.from([0, 1]),
      axisUnit: '', axisName: '', columns: {}, metadata: {},
    });
    await expect(runStageForTest(cluster, { inputs: { codes: path } })).rejects.toThrow(/not a latent table/);
  });
});

describe('embed stage', () => {
  it('pca of points on a plane in 3-D preserves all pairwise distances', async () => {
    const path = join(dir, 'plane.arrow');
    const n = 12;
    const z = new Float32Array(n * 3);
    const u = [1 / Math.sqrt(2), 1 / Math.sqrt(2), 0];
    const v = [0, 0, 1];
    for (let i = 0; i < n; i++) {
      const a = (i % 4) * 1.5 - 2;
      const b = Math.floor(i / 4) * 0.5 + 0.25 * (i % 3);
      for (let j = 0; j < 3; j++) z[i * 3 + j] = 3 + a * u[j]! + b * v[j]!;
    }
    await writeLatent(path, { n, k: 3, ids: Array.from({ length: n }, (_, i) => `q${i}`), z, columns: {}, metadata: {} });
    const run = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'pca' } });
    const { rows, metadata } = await readRecords(run.outputs.embedding!);
    expect(Object.keys(rows[0]!)).toEqual(['id', 'x', 'y']);
    expect(metadata['specflow.embed_column']).toBe('z');
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const d3 = Math.hypot(z[i * 3]! - z[j * 3]!, z[i * 3 + 1]! - z[j * 3 + 1]!, z[i * 3 + 2]! - z[j * 3 + 2]!);
        const d2 = Math.hypot((rows[i]!.x as number) - (rows[j]!.x as number), (rows[i]!.y as number) - (rows[j]!.y as number));
        expect(d2).toBeCloseTo(d3, 4);
      }
    }
  });

  it('umap (seeded) keeps blobs apart and is reproducible; tsne works on small tables', async () => {
    const path = join(dir, 'blobs-embed.arrow');
    await writeBlobs(path, three);
    const a = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'umap', n_neighbors: 10 }, seed: 4 });
    const b = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'umap', n_neighbors: 10 }, seed: 4 });
    const ra = (await readRecords(a.outputs.embedding!)).rows;
    const rb = (await readRecords(b.outputs.embedding!)).rows;
    expect(ra).toEqual(rb);
    expect(ra.map((r) => r.label)).toEqual(three.labels);
    const xy = ra.map((r) => [r.x as number, r.y as number]);
    expect(adjustedRandIndex(three.labels, Array.from(kmeans(xy, 3, { seed: 0 }).labels))).toBe(1);
    const t = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'tsne', perplexity: 10, iterations: 500 }, seed: 4 });
    const rt = (await readRecords(t.outputs.embedding!)).rows.map((r) => [r.x as number, r.y as number]);
    expect(adjustedRandIndex(three.labels, Array.from(kmeans(rt, 3, { seed: 0 }).labels))).toBe(1);
  });

  it('embeds a spectra table when there is no `z`', async () => {
    const path = join(dir, 'spectra-embed.arrow');
    await writeSpectra(path, {
      n: 3, d: 2, ids: ['a', 'b', 'c'], labels: ['x', 'y', 'x'], spectra: Float32Array.from([0, 0, 3, 4, 6, 8]), axis: Float64Array.from([0, 1]),
      axisUnit: '', axisName: '', columns: {}, metadata: {},
    });
    const run = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'pca' } });
    const { rows, metadata } = await readRecords(run.outputs.embedding!);
    expect(metadata['specflow.embed_column']).toBe('spectrum');
    // collinear points: the first coordinate is the signed distance along the line (0, 5, 10 around the mean)
    expect(rows.map((r) => Math.abs(r.x as number))).toEqual([5, 0, 5].map((v) => expect.closeTo(v, 5)) as unknown as number[]);
    expect(rows.map((r) => r.label)).toEqual(['x', 'y', 'x']);
  });
});

describe('cluster stage, edge values of k', () => {
  it('refuses an empty or silhouette-less k_range at validation, and says when the codes cap it', async () => {
    expect(cluster.check!({ k: 'auto', k_range: [5, 3], method: 'kmeans' }, {})).toEqual([{ path: ['k_range'], message: 'k_range [5, 3] is empty: give [min, max] with min ≤ max' }]);
    expect(cluster.check!({ k: 'auto', k_range: [1, 3], method: 'kmeans' }, {})[0]!.message).toMatch(/needs k ≥ 2: start k_range at 2 \(got 1\)/);
    expect(cluster.check!({ k: 'auto', k_range: [1, 3], method: 'gmm' }, {})).toEqual([]); // BIC is defined at k = 1
    expect(cluster.check!({ k: 4, k_range: [5, 3], method: 'kmeans' }, {})).toEqual([]); // k_range unused
    // 6 codes: k is tried up to n − 1 = 5; k_range [7, 9] cannot be tried at all
    const path = join(dir, 'six.arrow');
    await writeBlobs(path, blobTable([[0, 0], [9, 0]], 3, 0.5, 2, ['a', 'b']));
    const capped = await runStageForTest(cluster, { inputs: { codes: path }, params: { k_range: [2, 8] }, seed: 1 });
    expect(capped.logs).toContain('k_range goes to 8, but 6 codes allow k up to 5 (n − 1): k is tried up to 5');
    await expect(runStageForTest(cluster, { inputs: { codes: path }, params: { k_range: [7, 9] } })).rejects.toThrow(/^with\.k_range: k_range \[7, 9\] needs more than 6 codes/);
    await expect(runStageForTest(cluster, { inputs: { codes: path }, params: { k: 7 } })).rejects.toThrow(/^with\.k: k = 7 exceeds the number of codes \(6\)/);
    const every = await runStageForTest(cluster, { inputs: { codes: path }, params: { k: 6 }, seed: 1 });
    expect(every.metrics.silhouette).toBeNull();
    expect(every.logs[0]).toMatch(/^k = 6 is the number of codes: every code is its own cluster/);
  });
});

describe('embed stage, degenerate codes', () => {
  it('pca of 1-D codes (latent_dim 1) is the centred code on x and 0 on y, with a log line', async () => {
    const path = join(dir, 'one-d.arrow');
    // codes 1, 2, 6: mean 3, so x = ±(−2, −1, 3); the sign is the one PCA picks, the distances are not
    await writeLatent(path, { n: 3, k: 1, ids: ['a', 'b', 'c'], z: Float32Array.from([1, 2, 6]), columns: {}, metadata: {} });
    const run = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'pca' } });
    const { rows } = await readRecords(run.outputs.embedding!);
    const x = rows.map((r) => r.x as number);
    const sign = Math.sign(x[2]!);
    expect(x.map((v) => v * sign)).toEqual([-2, -1, 3].map((v) => expect.closeTo(v, 6)) as unknown as number[]);
    expect(rows.map((r) => r.y)).toEqual([0, 0, 0]);
    expect(run.logs.join('\n')).toMatch(/1 dimension: x is the centred value, y is 0/);
  });

  it('says when n_neighbors or perplexity is capped by a small table', async () => {
    const path = join(dir, 'seven.arrow');
    await writeBlobs(path, blobTable([[0, 0, 0], [5, 5, 5]], 4, 0.5, 3, ['a', 'b']));
    // 8 points: UMAP's default 15 neighbours → 7; t-SNE's perplexity 30 → (8 − 1)/3 = 2.333
    const u = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'umap', epochs: 20 }, seed: 1 });
    expect(u.logs).toContain('n_neighbors 15 is more than the other 7 points: UMAP uses 7');
    const t = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'tsne', iterations: 250 }, seed: 1 });
    expect(t.logs).toContain('perplexity 30 is more than 8 points allow ((n − 1)/3): t-SNE uses 2.333');
  });

  it('pca of identical points puts them at the origin and says so', async () => {
    const path = join(dir, 'same.arrow');
    await writeLatent(path, { n: 3, k: 2, ids: ['a', 'b', 'c'], z: Float32Array.from([4, 1, 4, 1, 4, 1]), columns: {}, metadata: {} });
    const run = await runStageForTest(embed, { inputs: { codes: path }, params: { method: 'pca' } });
    const { rows } = await readRecords(run.outputs.embedding!);
    for (const r of rows) expect([Math.abs(r.x as number), Math.abs(r.y as number)]).toEqual([0, 0]);
    expect(run.logs.join('\n')).toMatch(/all 3 points are identical: PCA puts every one at \(0, 0\)/);
  });
});

describe('registry', () => {
  it('lists the analysis stages', async () => {
    const types = (await builtinStages()).map((s) => s.type);
    for (const t of ['cluster', 'embed', 'pseudospectrum', 'anomaly']) expect(types).toContain(t);
  });
});
