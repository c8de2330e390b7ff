/**
 * `embed`: a 2-D map of latent codes (or spectra) for plots, by UMAP (umap-js,
 * seeded), exact t-SNE (small data sets) or PCA.
 */
import { StageError, type StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';

/** Exact t-SNE is O(n²) in time and memory per iteration. */
const TSNE_MAX_POINTS = 2000;

export const embed: StageDef = {
  type: 'embed',
  description: 'Two-dimensional embedding (UMAP, exact t-SNE or PCA) of latent codes or spectra, for plots',
  inputs: {
    codes: { kind: KIND.table, description: 'A latent table (`z` column) or a spectra table (`spectrum` column)' },
  },
  outputs: {
    embedding: { kind: KIND.table, description: '`id`, `label` (when present), `x`, `y`' },
  },
  params: {
    type: 'object',
    properties: {
      method: { enum: ['umap', 'tsne', 'pca'], default: 'umap', description: 'umap (umap-js), tsne (exact, up to 2000 points) or pca' },
      column: { enum: ['auto', 'z', 'spectrum'], default: 'auto', description: 'Which column to embed; auto: `z` when present, else `spectrum`' },
      n_neighbors: { type: 'integer', minimum: 2, default: 15, description: 'UMAP neighbourhood size (capped at n − 1)' },
      min_dist: { type: 'number', minimum: 0, default: 0.1, description: 'UMAP minimum distance between embedded points' },
      epochs: { type: 'integer', minimum: 1, description: 'UMAP optimisation epochs (umap-js default when omitted)' },
      perplexity: { type: 'number', exclusiveMinimum: 1, default: 30, description: 't-SNE perplexity (capped at (n − 1)/3)' },
      iterations: { type: 'integer', minimum: 250, default: 1000, description: 't-SNE gradient steps' },
    },
  },
  cpu: true,
  packages: ['apache-arrow', 'umap-js', 'ml-pca'],
  module: import.meta.url,
  async run(ctx) {
    const arrow = await import('../data/arrow-io.js');
    const { deriveSeed, Rng } = await import('../util/random.js');
    const input = ctx.inputs.codes;
    if (!input || Array.isArray(input)) throw new StageError('input `codes` is required');
    const column = ctx.params.column as 'auto' | 'z' | 'spectrum';
    let ids: string[];
    let labels: (string | null)[] | undefined;
    let flat: Float32Array;
    let dim: number;
    const latent = column === 'spectrum' ? undefined : await arrow.readLatent(input.path).catch((e: unknown) => {
      if (column === 'auto' && e instanceof StageError) return undefined; // no `z`: embed the spectra
      throw e;
    });
    if (latent) {
      ({ ids, labels } = latent);
      flat = latent.z;
      dim = latent.k;
    } else {
      const t = await arrow.readSpectra(input.path);
      arrow.requireCommonGrid(t, input.from);
      ({ ids, labels } = t);
      flat = t.spectra;
      dim = t.d;
    }
    const n = ids.length;
    const rows: number[][] = Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * dim, (i + 1) * dim)));
    if (rows.some((r) => r.some((v) => !Number.isFinite(v)))) throw new StageError('input contains NaN or infinity', input.from);
    const method = ctx.params.method as 'umap' | 'tsne' | 'pca';
    let xy: number[][];
    if (method === 'umap') {
      if (n < 3) throw new StageError(`UMAP needs at least 3 points, got ${n}`);
      const { UMAP } = await import('umap-js');
      const rng = new Rng(deriveSeed(ctx.seed, 'embed', 'umap'));
      const umap = new UMAP({
        nComponents: 2,
        nNeighbors: Math.min(ctx.params.n_neighbors as number, n - 1),
        minDist: ctx.params.min_dist as number,
        random: () => rng.uniform(),
        ...(ctx.params.epochs !== undefined ? { nEpochs: ctx.params.epochs as number } : {}),
      });
      const epochs = umap.initializeFit(rows);
      for (let e = 0; e < epochs; e++) {
        umap.step();
        if (e % 50 === 0) ctx.progress({ fraction: e / epochs, epoch: e, epochs });
      }
      xy = umap.getEmbedding();
    } else if (method === 'tsne') {
      if (n > TSNE_MAX_POINTS) throw new StageError(`exact t-SNE is limited to ${TSNE_MAX_POINTS} points (got ${n}); use method: umap`);
      if (n < 4) throw new StageError(`t-SNE needs at least 4 points, got ${n}`);
      const { tsne } = await import('../analysis/tsne.js');
      const perplexity = Math.min(ctx.params.perplexity as number, (n - 1) / 3);
      xy = tsne(rows, { seed: deriveSeed(ctx.seed, 'embed', 'tsne'), perplexity, iterations: ctx.params.iterations as number });
    } else {
      if (n < 2 || dim < 2) throw new StageError(`PCA to 2-D needs at least 2 points and 2 dimensions (got ${n} × ${dim})`);
      xy = await pca2(rows);
    }
    const out = ids.map((id, i) => ({
      id,
      ...(labels ? { label: labels[i]! } : {}),
      x: xy[i]![0]!,
      y: xy[i]![1]!,
    }));
    await arrow.writeRecords(ctx.output('embedding'), out, { 'specflow.kind': 'embedding', 'specflow.embed_method': method, 'specflow.embed_column': latent ? 'z' : 'spectrum' }, {
      types: { id: 'utf8', label: 'utf8', x: 'float64', y: 'float64' },
    });
  },
};

/** Projection on the first two principal components, signs fixed so the largest loading is positive. */
async function pca2(rows: number[][]): Promise<number[][]> {
  const { PCA } = await import('ml-pca');
  const pca = new PCA(rows, { center: true, scale: false });
  const vectors = pca.getEigenvectors();
  const eig = pca.getEigenvalues();
  const order = eig.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).map(([, i]) => i).slice(0, 2);
  const d = rows[0]!.length;
  const mean = new Array<number>(d).fill(0);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j]! += r[j]! / rows.length;
  const comps = order.map((col) => {
    let big = 0;
    for (let j = 0; j < d; j++) if (Math.abs(vectors.get(j, col)) > Math.abs(big)) big = vectors.get(j, col);
    const sign = big < 0 ? -1 : 1;
    return Array.from({ length: d }, (_, j) => sign * vectors.get(j, col));
  });
  while (comps.length < 2) comps.push(new Array<number>(d).fill(0));
  return rows.map((r) => comps.map((c) => c.reduce((s, v, j) => s + v * (r[j]! - mean[j]!), 0)));
}
