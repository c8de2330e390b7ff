/**
 * `embed`: a 2-D map of latent codes (or spectra) for plots, by UMAP (umap-js,
 * seeded), exact t-SNE (small data sets) or PCA.
 */
import { StageError, type InputArtifact, type StageContext, type StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';
import type { FittedUmap as FittedUmapModel } from '../analysis/umap-transform.js';

/** Exact t-SNE is O(n²) in time and memory per iteration. */
const TSNE_MAX_POINTS = 2000;
/** UMAP's fit is roughly linear in n but slow in umap-js; the rest is placed by `transform`. */
const UMAP_SAMPLE = 5000;
/** Points placed per umap-js `transform` call, so that progress can be reported. */
const TRANSFORM_CHUNK = 2000;

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
      method: { enum: ['umap', 'tsne', 'pca'], default: 'umap', description: 'umap (umap-js), tsne (exact, fitted on up to 2000 points) or pca' },
      column: { enum: ['auto', 'z', 'spectrum'], default: 'auto', description: 'Which column to embed; auto: `z` when present, else `spectrum`' },
      n_neighbors: { type: 'integer', minimum: 2, default: 15, description: 'UMAP neighbourhood size (capped at n − 1)' },
      min_dist: { type: 'number', minimum: 0, default: 0.1, description: 'UMAP minimum distance between embedded points' },
      epochs: { type: 'integer', minimum: 1, description: 'UMAP optimisation epochs (umap-js default when omitted)' },
      perplexity: { type: 'number', exclusiveMinimum: 1, default: 30, description: 't-SNE perplexity (capped at (n − 1)/3)' },
      iterations: { type: 'integer', minimum: 250, default: 1000, description: 't-SNE gradient steps' },
      sample_size: {
        type: 'integer', minimum: 4,
        description: `Points the method is fitted on, a seeded sample when there are more (default ${UMAP_SAMPLE} for umap, ${TSNE_MAX_POINTS} for tsne; pca uses all): UMAP places the other points with its fitted model (umap-js transform); t-SNE cannot place new points, so only the sample is embedded. The size used is the metric fit_sample, the points written the metric embedded.`,
      },
    },
  },
  cpu: true,
  packages: ['apache-arrow', 'umap-js', 'ml-pca'],
  module: import.meta.url,
  async run(ctx) {
    const arrow = await import('../data/arrow-io.js');
    const input = ctx.inputs.codes;
    if (!input || Array.isArray(input)) throw new StageError('input `codes` is required');
    const column = ctx.params.column as 'auto' | 'z' | 'spectrum';
    const latent = column === 'spectrum' ? undefined : await arrow.readLatent(input.path).catch((e: unknown) => {
      if (column === 'auto' && e instanceof StageError) return undefined; // no `z`: embed the spectra
      throw e;
    });
    // codes (n × k) are held as one flat array; a large spectra table is read by rows and batches
    const source = latent ? flatSource(latent.z, latent.k, latent.ids, latent.labels) : await spectraSource(input.path, input.from, ctx);
    try {
      await embedPoints(ctx, source, input, latent !== undefined);
    } finally {
      source.close();
    }
  },
};

async function embedPoints(ctx: StageContext, source: EmbedSource, input: InputArtifact, latent: boolean): Promise<void> {
  const from = input.from;
  const arrow = await import('../data/arrow-io.js');
  const { deriveSeed, Rng } = await import('../util/random.js');
  const { n, dim, ids, labels } = source;
  if (source.nonFinite) throw new StageError('input contains NaN or infinity', from);
  const method = ctx.params.method as 'umap' | 'tsne' | 'pca';
  // identical points have no neighbourhoods: UMAP and t-SNE would draw noise around one spot
  if (method !== 'pca' && n > 1 && source.distinct === 1) throw new StageError(`all ${n} points are identical: a ${method} embedding would show only noise (did the encoder collapse? check the training loss)`, from);
  const sampleSize = (ctx.params.sample_size as number | undefined) ?? (method === 'umap' ? UMAP_SAMPLE : method === 'tsne' ? TSNE_MAX_POINTS : n);
  if (method === 'tsne' && sampleSize > TSNE_MAX_POINTS) throw new StageError(`exact t-SNE is limited to ${TSNE_MAX_POINTS} points (sample_size ${sampleSize}); use method: umap`, 'with.sample_size');
  const { sampleIndices } = await import('../analysis/clustering-metrics.js');
  // fitted points: all, or a seeded sample in table order
  const fitted = n > sampleSize ? Array.from(sampleIndices(n, sampleSize, new Rng(deriveSeed(ctx.seed, 'embed', 'sample')))) : undefined;
  const fitRows = source.rows(fitted ?? Array.from({ length: n }, (_, i) => i));
  const m = fitRows.length;
  /** Embedded rows: their index in the table and their 2-D position. */
  let placed: { row: number; xy: number[] }[];
  if (method === 'umap') {
    if (m < 3) throw new StageError(`UMAP needs at least 3 points, got ${m}`);
    const { UMAP } = await import('umap-js');
    const rng = new Rng(deriveSeed(ctx.seed, 'embed', 'umap'));
    if ((ctx.params.n_neighbors as number) > m - 1) ctx.log(`n_neighbors ${ctx.params.n_neighbors as number} is more than the other ${m - 1} points: UMAP uses ${m - 1}`);
    const umap = new UMAP({
      nComponents: 2,
      nNeighbors: Math.min(ctx.params.n_neighbors as number, m - 1),
      minDist: ctx.params.min_dist as number,
      random: () => rng.uniform(),
      ...(ctx.params.epochs !== undefined ? { nEpochs: ctx.params.epochs as number } : {}),
    });
    const epochs = umap.initializeFit(fitRows);
    for (let e = 0; e < epochs; e++) {
      umap.step();
      if (e % 50 === 0) ctx.progress({ fraction: (fitted ? 0.5 : 1) * (e / epochs), epoch: e, epochs });
    }
    const xy = umap.getEmbedding().map((p) => [p[0]!, p[1]!]);
    if (!fitted) placed = xy.map((p, row) => ({ row, xy: p }));
    else {
      const x = new Float64Array(n);
      const y = new Float64Array(n);
      fitted.forEach((row, j) => {
        x[row] = xy[j]![0]!;
        y[row] = xy[j]![1]!;
      });
      const placer = await import('../analysis/umap-transform.js');
      const model = umap as unknown as FittedUmapModel;
      placer.setTransformEpochs(model, placer.transformEpochs(ctx.params.epochs as number | undefined, n - m));
      const { RateMeter } = await import('../util/progress.js');
      const rate = new RateMeter();
      let done = 0;
      for await (const chunk of source.rest(fitted, TRANSFORM_CHUNK)) {
        if (ctx.signal.aborted) throw new Error('aborted');
        placer.transformPoints(model, chunk.points).forEach((p, j) => {
          x[chunk.rows[j]!] = p[0]!;
          y[chunk.rows[j]!] = p[1]!;
        });
        done += chunk.rows.length;
        ctx.progress({ fraction: 0.5 + (0.5 * done) / (n - m), message: rate.message(`umap transform`, done, n - m) });
      }
      placed = Array.from({ length: n }, (_, row) => ({ row, xy: [x[row]!, y[row]!] }));
      ctx.log(`umap fitted on a seeded sample of ${m} of ${n} points; the other ${n - m} placed by the fitted model`);
    }
  } else if (method === 'tsne') {
    if (m < 4) throw new StageError(`t-SNE needs at least 4 points, got ${m}`);
    const { tsne } = await import('../analysis/tsne.js');
    const perplexity = Math.min(ctx.params.perplexity as number, (m - 1) / 3);
    if (perplexity < (ctx.params.perplexity as number)) ctx.log(`perplexity ${ctx.params.perplexity as number} is more than ${m} points allow ((n − 1)/3): t-SNE uses ${Number(perplexity.toPrecision(4))}`);
    const xy = tsne(fitRows, { seed: deriveSeed(ctx.seed, 'embed', 'tsne'), perplexity, iterations: ctx.params.iterations as number });
    placed = xy.map((p, j) => ({ row: fitted ? fitted[j]! : j, xy: p }));
    if (fitted) ctx.log(`t-SNE cannot place points it was not fitted on: only a seeded sample of ${m} of ${n} points is embedded`);
  } else {
    if (n < 2) throw new StageError(`PCA needs at least 2 points (got ${n})`, from);
    // 1-D codes (latent_dim 1) have one principal axis, the code itself: x is the centred code, y is 0
    if (dim < 2) ctx.log(`the ${latent ? 'codes' : 'spectra'} have 1 dimension: x is the centred value, y is 0 (a 1-D embedding)`);
    if (source.distinct === 1) ctx.log(`all ${n} points are identical: PCA puts every one at (0, 0) (did the encoder collapse? check the training loss)`);
    placed = (await pca2(fitted ? source.rows(Array.from({ length: n }, (_, i) => i)) : fitRows)).map((p, row) => ({ row, xy: p }));
  }
  ctx.metric('fit_sample', method === 'pca' ? n : m);
  ctx.metric('embedded', placed.length);
  const columns: Record<string, import('../data/arrow-io.js').Cell[]> = { id: placed.map(({ row }) => ids[row]!) };
  if (labels) columns.label = placed.map(({ row }) => labels[row]!);
  columns.x = placed.map(({ xy }) => xy[0]!);
  columns.y = placed.map(({ xy }) => xy[1]!);
  // which table it maps (content key of its producer): two code tables of the same spectra share every id,
  // and the report must not draw one's embedding as the other's
  const meta = { 'specflow.kind': 'embedding', 'specflow.embed_method': method, 'specflow.embed_column': latent ? 'z' : 'spectrum', 'specflow.embed_of': input.key };
  await arrow.writeColumns(ctx.output('embedding'), columns, meta, {
    types: { id: 'utf8', label: 'utf8', x: 'float64', y: 'float64' },
  });
}

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

/** The points to embed: ids, labels, checks made over all of them, and rows read on demand. */
interface EmbedSource {
  n: number;
  dim: number;
  ids: string[];
  labels?: (string | null)[];
  nonFinite: boolean;
  /** Distinct points, counted up to 2. */
  distinct: number;
  /** These rows (ascending) as plain arrays. */
  rows(idx: number[]): number[][];
  /** The rows not in `skip` (ascending), in table order, `size` at a time. */
  rest(skip: number[], size: number): AsyncGenerator<{ rows: number[]; points: number[][] }>;
  close(): void;
}

function flatSource(flat: Float32Array, dim: number, ids: string[], labels: (string | null)[] | undefined): EmbedSource {
  const n = ids.length;
  const row = (i: number) => Array.from(flat.subarray(i * dim, (i + 1) * dim));
  const first = flat.subarray(0, dim);
  let distinct = n > 0 ? 1 : 0;
  for (let i = 1; i < n && distinct < 2; i++) if (!sameRow(flat, i * dim, first)) distinct = 2;
  return {
    n, dim, ids, ...(labels ? { labels } : {}), distinct,
    nonFinite: flat.some((v) => !Number.isFinite(v)),
    rows: (idx) => idx.map(row),
    close: () => undefined,
    async *rest(skip, size) {
      let k = 0;
      let rows: number[] = [];
      for (let i = 0; i < n; i++) {
        if (k < skip.length && skip[k] === i) {
          k++;
          continue;
        }
        rows.push(i);
        if (rows.length === size) {
          yield { rows, points: rows.map(row) };
          rows = [];
        }
      }
      if (rows.length > 0) yield { rows, points: rows.map(row) };
    },
  };
}

function sameRow(x: Float32Array, at: number, row: Float32Array): boolean {
  for (let j = 0; j < row.length; j++) if (x[at + j] !== row[j]) return false;
  return true;
}

/**
 * A spectra table: loaded when small; when large (see shouldStream) one pass collects ids,
 * labels and the checks, sampled rows are read by file offset and the rest batch by batch.
 */
async function spectraSource(path: string, from: string, ctx: StageContext): Promise<EmbedSource> {
  const arrow = await import('../data/arrow-io.js');
  const { RowFile, shouldStream } = await import('../data/arrow-batches.js');
  const file = await RowFile.open(path, ['spectrum']).catch(() => undefined);
  if (!file || !shouldStream(file.n, file.d)) {
    file?.close();
    const t = await arrow.readSpectra(path);
    arrow.requireCommonGrid(t, from);
    return flatSource(t.spectra, t.d, t.ids, t.labels);
  }
  ctx.log(`streaming ${file.n} spectra × ${file.d} channels: fitted rows read by their file offset, the others batch by batch`);
  const ids: string[] = [];
  let labels: (string | null)[] | undefined;
  let nonFinite = false;
  let first: Float32Array | undefined;
  let distinct = 0;
  for await (const { t } of arrow.readSpectraBatches(path)) {
    if (ctx.signal.aborted) throw new Error('aborted');
    for (const id of t.ids) ids.push(id);
    if (t.labels) for (const l of t.labels) (labels ??= []).push(l);
    nonFinite ||= t.spectra.some((v) => !Number.isFinite(v));
    first ??= t.spectra.slice(0, t.d);
    if (distinct === 0 && t.n > 0) distinct = 1;
    for (let i = 0; i < t.n && distinct < 2; i++) if (!sameRow(t.spectra, i * t.d, first)) distinct = 2;
  }
  const d = file.d;
  return {
    n: file.n, dim: d, ids, ...(labels ? { labels } : {}), nonFinite, distinct,
    rows(idx) {
      const out = new Float32Array(idx.length * d);
      file.read(0, idx, out);
      return idx.map((_, i) => Array.from(out.subarray(i * d, (i + 1) * d)));
    },
    close: () => file.close(),
    async *rest(skip, size) {
      let k = 0;
      let rows: number[] = [];
      let points: number[][] = [];
      for await (const { first: at, t } of arrow.readSpectraBatches(path)) {
        for (let i = 0; i < t.n; i++) {
          const r = at + i;
          if (k < skip.length && skip[k] === r) {
            k++;
            continue;
          }
          rows.push(r);
          points.push(Array.from(t.spectra.subarray(i * d, (i + 1) * d)));
          if (rows.length === size) {
            yield { rows, points };
            rows = [];
            points = [];
          }
        }
      }
      if (rows.length > 0) yield { rows, points };
    },
  };
}
