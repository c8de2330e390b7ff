/**
 * `cluster`: k-means or Gaussian mixture on latent codes, with k chosen by
 * silhouette (k-means) or BIC (GMM) when `k: auto`; agreement with `label`
 * by ARI and NMI. Metric names are fixed (scripts outside the repo use them).
 */
import { StageError, type StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';

export const cluster: StageDef = {
  type: 'cluster',
  description: 'Cluster latent codes (k-means or Gaussian mixture); k chosen by silhouette or BIC with k: auto',
  inputs: {
    codes: { kind: KIND.latent, description: 'Latent codes: any table with a `z` FixedSizeList column (and optional `label`)' },
  },
  outputs: {
    assignments: { kind: KIND.assignments, description: '`id`, `label` (when present), `cluster` (int32, numbered by first appearance), `resp_<c>` responsibilities (gmm)' },
  },
  metrics: {
    silhouette: { better: 'higher', description: 'mean silhouette of the clustering' },
    ari: { better: 'higher', description: 'adjusted Rand index against the labels' },
    nmi: { better: 'higher', description: 'normalised mutual information with the labels' },
    log_likelihood: { better: 'higher', description: 'Gaussian mixture log-likelihood' },
    k: { description: 'number of clusters' },
  },
  params: {
    type: 'object',
    properties: {
      method: { enum: ['kmeans', 'gmm'], default: 'kmeans', description: 'k-means (k-means++ starts) or Gaussian mixture by EM' },
      k: {
        anyOf: [{ type: 'integer', minimum: 1 }, { const: 'auto' }],
        default: 'auto',
        description: 'Number of clusters, or `auto`: best mean silhouette (kmeans) or lowest BIC (gmm) within k_range',
      },
      k_range: {
        type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 2, maxItems: 2, default: [2, 10],
        description: 'Inclusive [min, max] of k tried with k: auto (kmeans needs min ≥ 2)',
      },
      restarts: { type: 'integer', minimum: 1, description: 'Seeded starts per k, the best kept: k-means++ starts for kmeans (default 10), k-means initialisations for gmm (default 3)' },
      covariance: { enum: ['full', 'diag'], default: 'full', description: 'GMM covariance type' },
      max_iterations: { type: 'integer', minimum: 1, default: 300, description: 'Lloyd / EM iterations per start' },
    },
  },
  cpu: true,
  packages: ['apache-arrow'],
  module: import.meta.url,
  async run(ctx) {
    const { readLatent, writeRecords } = await import('../data/arrow-io.js');
    const { adjustedRandIndex, normalizedMutualInformation, silhouette } = await import('../analysis/clustering-metrics.js');
    const { kmeans } = await import('../analysis/kmeans.js');
    const { fitGmm } = await import('../analysis/gmm.js');
    const { selectGmm, selectKMeans } = await import('../analysis/select-k.js');

    const input = ctx.inputs.codes;
    if (!input || Array.isArray(input)) throw new StageError('input `codes` is required');
    const t = await readLatent(input.path);
    const method = ctx.params.method as 'kmeans' | 'gmm';
    const covariance = ctx.params.covariance as 'full' | 'diag';
    const restarts = ctx.params.restarts as number | undefined;
    const maxIterations = ctx.params.max_iterations as number;
    const kParam = ctx.params.k as number | 'auto';
    const [kMin, kMax] = ctx.params.k_range as [number, number];

    const x: Float32Array[] = [];
    for (let i = 0; i < t.n; i++) {
      const row = t.z.subarray(i * t.k, (i + 1) * t.k);
      if (row.some((v) => !Number.isFinite(v))) throw new StageError('latent code contains NaN or infinity', `${input.from} row ${i + 1}`);
      x.push(row);
    }
    if (t.n < 2) throw new StageError(`need at least 2 latent codes to cluster, got ${t.n}`, input.from);

    let ks: number[];
    if (kParam === 'auto') {
      if (kMin > kMax) throw new StageError(`k_range [${kMin}, ${kMax}] is empty`);
      if (method === 'kmeans' && kMin < 2) throw new StageError('k: auto with kmeans chooses by silhouette, which needs k_range to start at 2 or more');
      const hi = Math.min(kMax, t.n - 1);
      if (hi < kMin) throw new StageError(`k_range [${kMin}, ${kMax}] needs more than ${t.n} codes`);
      ks = [];
      for (let k = kMin; k <= hi; k++) ks.push(k);
    } else {
      if (kParam > t.n) throw new StageError(`k = ${kParam} exceeds the number of codes (${t.n})`);
      ks = [kParam];
    }
    ctx.log(`${method} on ${t.n} codes × ${t.k} dims, k ∈ {${ks.join(', ')}}`);
    const progress = (done: number) => ctx.progress({ fraction: done / ks.length, message: `fitted k = ${ks[done - 1]}` });

    let labels: Int32Array;
    let k: number;
    let resp: Float64Array | undefined;
    if (method === 'kmeans') {
      if (ks.length > 1) {
        const sel = selectKMeans(x, ks, { seed: ctx.seed, restarts, maxIterations, onProgress: progress });
        labels = sel.best.labels;
        k = sel.best.k;
        ctx.metric('inertia_by_k', keyed(sel.inertiaByK));
        ctx.metric('silhouette_by_k', keyed(sel.silhouetteByK));
      } else {
        const r = kmeans(x, ks[0]!, { seed: ctx.seed, restarts, maxIterations });
        labels = r.labels;
        k = r.k;
        ctx.metric('inertia_by_k', { [String(k)]: r.inertia });
      }
    } else {
      const g = ks.length > 1
        ? (() => {
          const sel = selectGmm(x, ks, { seed: ctx.seed, covariance, restarts, maxIterations, onProgress: progress });
          ctx.metric('bic_by_k', keyed(sel.bicByK));
          return sel.best;
        })()
        : (() => {
          const r = fitGmm(x, ks[0]!, { seed: ctx.seed, covariance, restarts, maxIterations });
          ctx.metric('bic_by_k', { [String(r.k)]: r.bic });
          return r;
        })();
      labels = g.labels;
      k = g.k;
      resp = g.responsibilities;
      ctx.metric('log_likelihood', g.logLikelihood);
      if (!g.converged) ctx.log(`EM stopped after ${g.iterations} iterations without converging`);
    }

    // number clusters by first appearance so that outputs are stable and readable
    const order = new Map<number, number>();
    for (const l of labels) if (!order.has(l)) order.set(l, order.size);
    for (let c = 0; c < k; c++) if (!order.has(c)) order.set(c, order.size); // empty components (gmm)
    const relabelled = Int32Array.from(labels, (l) => order.get(l)!);
    const inverse = new Array<number>(k);
    for (const [old, now] of order) inverse[now] = old;

    ctx.metric('k', k);
    if (ks.length > 1) ctx.log(`chose k = ${k} (${method === 'kmeans' ? 'best mean silhouette' : 'lowest BIC'})`);
    const used = new Set(relabelled).size;
    ctx.metric('silhouette', used >= 2 && used <= t.n - 1 ? silhouette(x, relabelled) : null);
    ctx.metric('cluster_sizes', Array.from({ length: k }, (_, c) => relabelled.filter((l) => l === c).length));

    if (t.labels) {
      const idx = t.labels.map((l, i) => (l === null ? -1 : i)).filter((i) => i >= 0);
      if (idx.length > 0) {
        const truth = idx.map((i) => t.labels![i]!);
        const pred = idx.map((i) => relabelled[i]!);
        ctx.metric('ari', adjustedRandIndex(truth, pred));
        ctx.metric('nmi', normalizedMutualInformation(truth, pred));
        if (idx.length < t.n) ctx.log(`ARI/NMI on the ${idx.length} of ${t.n} codes that have a label`);
      }
    }

    const rows = t.ids.map((id, i) => {
      const row: Record<string, string | number | null> = { id };
      if (t.labels) row.label = t.labels[i]!;
      row.cluster = relabelled[i]!;
      if (resp) for (let c = 0; c < k; c++) row[`resp_${c}`] = resp[i * k + inverse[c]!]!;
      return row;
    });
    const types: Record<string, 'int32' | 'float64' | 'utf8'> = { id: 'utf8', cluster: 'int32' };
    if (t.labels) types.label = 'utf8';
    if (resp) for (let c = 0; c < k; c++) types[`resp_${c}`] = 'float64';
    await writeRecords(ctx.output('assignments'), rows, {
      'specflow.kind': 'assignments',
      'specflow.cluster_method': method,
    }, { types });
  },
};

function keyed(byK: Record<number, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(byK).map(([k, v]) => [String(k), v]));
}
