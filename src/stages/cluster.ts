/**
 * `cluster`: k-means or Gaussian mixture on latent codes, with k chosen by
 * silhouette (k-means) or BIC (GMM) when `k: auto`; agreement with `label`
 * by ARI and NMI. Metric names are fixed (scripts outside the repo use them).
 */
import { StageError, type StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';

/** Above this many codes a k-means start is expensive enough that one start is the default. */
const MANY_CODES = 10000;

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
      restarts: { type: 'integer', minimum: 1, description: `Seeded starts per k, the best kept: k-means++ starts for kmeans (default 10 up to ${MANY_CODES} codes, 1 above: each start is full passes over every code, and at that size one k-means++ start is what scikit-learn's n_init='auto' does too), k-means initialisations for gmm (default 3)` },
      covariance: { enum: ['full', 'diag'], default: 'full', description: 'GMM covariance type' },
      max_iterations: { type: 'integer', minimum: 1, default: 300, description: 'Lloyd / mini-batch / EM iterations per start' },
      algorithm: { enum: ['lloyd', 'minibatch'], default: 'lloyd', description: 'kmeans: full Lloyd passes over all codes (exact, with Hamerly bounds), or seeded mini-batches (Sculley 2010) for very large tables; labels and inertia always come from a full pass' },
      batch_size: { type: 'integer', minimum: 1, default: 1024, description: 'kmeans with algorithm: minibatch: codes per mini-batch step' },
      tolerance: { type: 'number', minimum: 0, default: 1e-4, description: 'kmeans: stop when the centres move in total by at most this × the codes\' mean variance (scikit-learn\'s tol); 0: only when no assignment changes' },
      silhouette_sample: { type: 'integer', minimum: 3, default: 5000, description: 'The silhouette (metric, and the choice of k with k: auto) is computed on a seeded sample of this many codes when there are more (scikit-learn\'s sample_size); the size used is the metric silhouette_sample' },
      fit_sample: { type: 'integer', minimum: 2, default: 20000, description: 'gmm: the mixture is fitted on a seeded sample of this many codes when there are more, then applied to all; the size used is the metric fit_sample' },
    },
  },
  cpu: true,
  packages: ['apache-arrow'],
  module: import.meta.url,
  check(params) {
    // k_range is read only with k: auto; a range that cannot be searched is found before anything runs
    if (params.k !== 'auto') return [];
    const [kMin, kMax] = params.k_range as [number, number];
    if (kMin > kMax) return [{ path: ['k_range'], message: `k_range [${kMin}, ${kMax}] is empty: give [min, max] with min ≤ max` }];
    if (params.method === 'kmeans' && kMin < 2) return [{ path: ['k_range'], message: `k: auto with kmeans chooses k by silhouette, which needs k ≥ 2: start k_range at 2 (got ${kMin})` }];
    return [];
  },
  async run(ctx) {
    const { readLatent, writeRecords } = await import('../data/arrow-io.js');
    const { adjustedRandIndex, normalizedMutualInformation, sampleIndices, sampledSilhouette } = await import('../analysis/clustering-metrics.js');
    const { distinctPoints, kmeans } = await import('../analysis/kmeans.js');
    const { fitGmm, gmmPredict } = await import('../analysis/gmm.js');
    const { matrixOf, rowsOf, takeRows } = await import('../analysis/matrix.js');
    const { selectGmm, selectKMeans, silhouetteSeed } = await import('../analysis/select-k.js');
    const { deriveSeed, Rng } = await import('../util/random.js');

    const input = ctx.inputs.codes;
    if (!input || Array.isArray(input)) throw new StageError('input `codes` is required');
    const t = await readLatent(input.path);
    const method = ctx.params.method as 'kmeans' | 'gmm';
    const covariance = ctx.params.covariance as 'full' | 'diag';
    const restarts = ctx.params.restarts as number | undefined;
    const maxIterations = ctx.params.max_iterations as number;
    const kParam = ctx.params.k as number | 'auto';
    const [kMin, kMax] = ctx.params.k_range as [number, number];
    const silhouetteSample = ctx.params.silhouette_sample as number;
    const kmOptions = {
      seed: ctx.seed, maxIterations,
      restarts: restarts ?? (t.n > MANY_CODES ? 1 : 10),
      algorithm: ctx.params.algorithm as 'lloyd' | 'minibatch',
      batchSize: ctx.params.batch_size as number,
      tolerance: ctx.params.tolerance as number,
    };

    for (let i = 0; i < t.z.length; i++) {
      if (!Number.isFinite(t.z[i]!)) throw new StageError('latent code contains NaN or infinity', `${input.from} row ${Math.floor(i / t.k) + 1}`);
    }
    if (t.n < 2) throw new StageError(`need at least 2 latent codes to cluster, got ${t.n}`, input.from);
    const x = matrixOf(t.z, t.n, t.k);
    // identical codes (a collapsed encoder) cannot form k clusters: k-means would return empty ones
    const wanted = kParam === 'auto' ? kMax : kParam;
    const distinct = distinctPoints(x, wanted + 1);
    if (distinct === 1) throw new StageError(`all ${t.n} latent codes are identical: there is nothing to cluster (did the encoder collapse? check the training loss)`, input.from);

    let ks: number[];
    if (kParam === 'auto') {
      if (kMin > kMax) throw new StageError(`k_range [${kMin}, ${kMax}] is empty`, 'with.k_range');
      if (method === 'kmeans' && kMin < 2) throw new StageError('k: auto with kmeans chooses by silhouette, which needs k_range to start at 2 or more', 'with.k_range');
      let hi = Math.min(kMax, t.n - 1);
      if (hi < kMin) throw new StageError(`k_range [${kMin}, ${kMax}] needs more than ${t.n} codes (k is tried up to n − 1 = ${t.n - 1}); lower k_range or give more spectra`, 'with.k_range');
      if (hi < kMax) ctx.log(`k_range goes to ${kMax}, but ${t.n} codes allow k up to ${hi} (n − 1): k is tried up to ${hi}`);
      if (distinct < hi) {
        if (distinct < kMin) throw new StageError(`the codes take only ${distinct} distinct values, fewer than k_range's minimum ${kMin}`, input.from);
        ctx.log(`warning: the codes take only ${distinct} distinct values; k is tried up to ${distinct}, not ${hi}`);
        hi = distinct;
      }
      ks = [];
      for (let k = kMin; k <= hi; k++) ks.push(k);
    } else {
      if (kParam > t.n) throw new StageError(`k = ${kParam} exceeds the number of codes (${t.n})`, 'with.k');
      if (kParam === t.n) ctx.log(`k = ${kParam} is the number of codes: every code is its own cluster (inertia 0, silhouette undefined)`);
      if (kParam > distinct) throw new StageError(`k = ${kParam} but the codes take only ${distinct} distinct values: ${kParam} clusters cannot be formed (did the encoder collapse?)`, input.from);
      ks = [kParam];
    }
    if (distinct <= wanted) ctx.metric('distinct_codes', distinct);
    ctx.log(`${method} on ${t.n} codes × ${t.k} dims, k ∈ {${ks.join(', ')}}`);
    const progress = (done: number) => ctx.progress({ fraction: done / ks.length, message: `fitted k = ${ks[done - 1]}` });

    let labels: Int32Array;
    let k: number;
    let resp: Float64Array | undefined;
    let silhouetteOfBest: number | undefined;
    if (method === 'kmeans') {
      if (ks.length > 1) {
        const sel = (() => {
          try {
            return selectKMeans(x, ks, { ...kmOptions, silhouetteSample, onProgress: progress });
          } catch (e) {
            if (e instanceof RangeError) throw new StageError(e.message, 'with.silhouette_sample');
            throw e;
          }
        })();
        labels = sel.best.labels;
        k = sel.best.k;
        if (!sel.best.converged) ctx.log(`k-means for k = ${k} stopped after ${sel.best.iterations} iterations without converging (raise max_iterations)`);
        silhouetteOfBest = sel.silhouetteByK[k];
        ctx.metric('inertia_by_k', keyed(sel.inertiaByK));
        ctx.metric('silhouette_by_k', keyed(sel.silhouetteByK));
      } else {
        const r = kmeans(x, ks[0]!, kmOptions);
        labels = r.labels;
        k = r.k;
        if (!r.converged) ctx.log(`k-means stopped after ${r.iterations} iterations without converging (raise max_iterations)`);
        ctx.metric('inertia_by_k', { [String(k)]: r.inertia });
      }
    } else {
      const fitSample = ctx.params.fit_sample as number;
      const fitRows = t.n > fitSample ? rowsOf(takeRows(x, sampleIndices(t.n, fitSample, new Rng(deriveSeed(ctx.seed, 'gmm-fit-sample'))))) : rowsOf(x);
      if (fitRows.length < t.n) ctx.log(`gmm fitted on a seeded sample of ${fitRows.length} of ${t.n} codes, then applied to all`);
      ctx.metric('fit_sample', fitRows.length);
      const g = ks.length > 1
        ? (() => {
          const sel = selectGmm(fitRows, ks, { seed: ctx.seed, covariance, restarts, maxIterations, onProgress: progress });
          ctx.metric('bic_by_k', keyed(sel.bicByK));
          return sel.best;
        })()
        : (() => {
          const r = fitGmm(fitRows, ks[0]!, { seed: ctx.seed, covariance, restarts, maxIterations });
          ctx.metric('bic_by_k', { [String(r.k)]: r.bic });
          return r;
        })();
      const all = fitRows.length < t.n ? gmmPredict(rowsOf(x), g) : g;
      labels = all.labels;
      k = g.k;
      resp = all.responsibilities;
      ctx.metric('log_likelihood', all.logLikelihood);
      if (!g.converged) ctx.log(`EM stopped after ${g.iterations} iterations without converging (raise max_iterations)`);
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
    const sizes = new Array<number>(k).fill(0);
    for (const l of relabelled) sizes[l]!++;
    const used = sizes.filter((v) => v > 0).length;
    if (used < k) ctx.log(`warning: ${k - used} of the ${k} clusters are empty`);
    // the sample's silhouette already computed while choosing k is the same number (same sample, same partition)
    const sil = silhouetteOfBest !== undefined
      ? { value: silhouetteOfBest, sampled: Math.min(t.n, silhouetteSample), clusters: used }
      : used >= 2 && used <= t.n - 1 ? sampledSilhouette(x, relabelled, silhouetteSample, silhouetteSeed(ctx.seed)) : undefined;
    ctx.metric('silhouette', sil && Number.isFinite(sil.value) ? sil.value : null);
    ctx.metric('silhouette_sample', sil?.sampled ?? null);
    if (sil && !Number.isFinite(sil.value)) {
      ctx.log(`silhouette undefined: the seeded sample of ${sil.sampled} codes holds ${sil.clusters} cluster${sil.clusters === 1 ? '' : 's'} (a silhouette needs 2 to ${sil.sampled - 1}); raise silhouette_sample`);
    } else if (sil && sil.sampled < t.n) ctx.log(`silhouette on a seeded sample of ${sil.sampled} of ${t.n} codes`);
    ctx.metric('cluster_sizes', sizes);

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

/** k → value, an undefined (NaN) silhouette as null. */
function keyed(byK: Record<number, number>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(byK).map(([k, v]) => [String(k), Number.isFinite(v) ? v : null]));
}
