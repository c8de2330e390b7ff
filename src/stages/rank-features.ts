/**
 * `rank.features`: checks a feature ranking by the curve of test accuracy (or MAE)
 * against the number k of top-ranked features kept, the others masked to zero in
 * the network's input space (or, with `retrain: true`, a fresh network trained on
 * the k features only). Always beside two references on the same k grid: a random
 * ranking (mean ± sd of seeded draws) and permutation importance on the model.
 *
 * Cheap to import: tfjs, apache-arrow and the model code load inside `run`.
 */
import { KIND } from './kinds.js';
import { StageError, type StageDef } from '../core/stage-api.js';
import { restrictToClasses, round, selectRows, single, subset, truthOf, type Samples } from './train-spectral.js';
import type { SpectralNet, TF } from '../ml/spectral/model.js';
import type { Cell } from '../data/arrow-io.js';

export const rankFeatures: StageDef = {
  type: 'rank.features',
  description: 'Test accuracy (or MAE) against the number k of top-ranked features kept (others masked to zero, or retrained without them), '
    + 'for a ranking, a random ranking and permutation importance; reports the smallest k reaching 95 % of the full-feature score.',
  inputs: {
    model: { kind: KIND.spectral, description: 'A trained spectral network (train.spectral).' },
    ranking: { kind: KIND.table, description: 'Any table with `feature` (channel index) and `score` (higher = more relevant) or `rank` (1 = most relevant).' },
    test: { kind: KIND.spectra, description: 'Test samples (same channels as the model; rows of unknown classes are left out).' },
    train: { kind: KIND.spectra, optional: true, description: 'Training samples; needed only with retrain: true.' },
  },
  outputs: {
    curve: { kind: KIND.table, description: 'k, fraction, metric, ranking, random, random_sd, permutation: the score at each k for the three rankings.' },
    permutation: { kind: KIND.table, description: 'The permutation-importance ranking: feature, axis, score (loss increase), rank.' },
  },
  metrics: {
    k_95: { better: 'lower', description: 'inputs needed to reach 95 % of the full model\'s score' },
    full_accuracy: { better: 'higher' },
    full_mae: { better: 'lower' },
  },
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      k: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'integer', minimum: 1 }, description: 'The k grid (taken in ascending order). Default: every k up to 40 features, else 1–10 then geometric steps to all.' },
      max_points: { type: 'integer', minimum: 2, default: 40, description: 'Size of the default k grid.' },
      retrain: { type: 'boolean', default: false, description: 'Retrain a fresh network (same hyper-parameters) on the k kept features instead of masking; needs the `train` input. Costly: one training per k and ranking.' },
      epochs: { type: 'integer', minimum: 1, description: 'With retrain: epochs per retraining (default: the model\'s).' },
      random_draws: { type: 'integer', minimum: 1, default: 10, description: 'Random rankings averaged for the random reference.' },
      permutation_repeats: { type: 'integer', minimum: 1, default: 5, description: 'Shuffles per feature for permutation importance.' },
      threshold: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.95, description: 'k_95 is the smallest k with accuracy ≥ threshold·full accuracy (MAE ≤ full MAE / threshold).' },
      top: { type: 'integer', minimum: 1, default: 10, description: 'How many top features to list in the metrics.' },
    },
  },
  cpu: true,
  packages: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'apache-arrow'],
  module: import.meta.url,
  async run(ctx) {
    const { readSpectra, readRecords, writeRecords } = await import('../data/arrow-io.js');
    const { initBackend, backendLabel } = await import('../ml/backend.js');
    const { SpectralNet } = await import('../ml/spectral/model.js');
    const ev = await import('../ml/spectral/evaluate.js');
    const p = ctx.params;
    const modelIn = single(ctx, 'model');
    const rankingIn = single(ctx, 'ranking');
    const testIn = single(ctx, 'test');
    const trainIn = single(ctx, 'train');
    if (!modelIn || !rankingIn || !testIn) throw new StageError('connect `model`, `ranking` and `test`', 'in');
    const retrain = p.retrain as boolean;
    if (retrain && !trainIn) throw new StageError('retrain: true needs the `train` input (the samples to retrain on)', 'in.train');

    const { name: backendName, tf } = await initBackend();
    const backend = backendLabel(backendName);
    const net = await SpectralNet.load(tf, modelIn.path);
    try {
      const c = net.config;
      const d = c.inputDim;
      const task = c.task;
      const classes = task === 'classify' ? c.classes : undefined;
      let test = selectRows(await readSpectra(testIn.path), task, c.target, classes, ctx, testIn.from);
      if (test.d !== d) throw new StageError(`test spectra have ${test.d} channels, the model ${d}`, testIn.from);
      if (task === 'classify') test = restrictToClasses(test, c.classes, ctx, testIn.from);
      if (test.n === 0) throw new StageError('no test rows the model can score', testIn.from);
      let train: Samples | undefined;
      if (retrain) {
        train = selectRows(await readSpectra(trainIn!.path), task, c.target, classes, ctx, trainIn!.from);
        if (train.d !== d) throw new StageError(`training spectra have ${train.d} channels, the model ${d}`, trainIn!.from);
      }

      const { rows: rankRows } = await readRecords(rankingIn.path);
      const order = rankingOrder(rankRows, d, rankingIn.from);
      const truth = truthOf(net, test);
      const higher = ev.higherIsBetter(task);
      const metricName = task === 'classify' ? 'accuracy' : 'mae';
      const full = ev.evaluate(net, test.x, test.n, truth).metric;
      // ascending: k_95 is the first k that reaches the threshold, and the curve's area runs over k in order
      const grid = [...((p.k as number[] | undefined) ?? ev.kGrid(d, p.max_points as number))].sort((a, b) => a - b);
      const ks = grid.filter((k) => k <= d);
      if (ks.length === 0) throw new StageError(`no k on the grid is ≤ the ${d} features`, 'with.k');
      const beyond = grid.filter((k) => k > d);
      if (beyond.length) ctx.log(`k ${beyond.join(', ')} left out: above the ${d} features`);

      // permutation importance on the trained model: the model-agnostic baseline ranking
      const perm = ev.permutationImportance(net, test.x, test.n, truth, p.permutation_repeats as number, ctx.seed);
      const permOrder = ev.orderByScore(perm);
      const randomOrders = ev.randomOrders(d, p.random_draws as number, ctx.seed);

      const total = ks.length * (2 + randomOrders.length);
      let done = 0;
      const tick = () => { done++; ctx.progress({ fraction: done / total }); };
      let curveOf: (ord: number[]) => Promise<number[]>;
      if (!retrain) {
        curveOf = async (ord) => ks.map((k) => {
          const v = ev.evaluate(net, test.x, test.n, truth, ev.keepTop(ord, k, d)).metric;
          tick();
          return v;
        });
      } else {
        const epochs = (p.epochs as number | undefined) ?? Number(c.training?.epochs ?? 100);
        curveOf = async (ord) => {
          const out: number[] = [];
          for (const k of ks) {
            out.push(await retrainScore(tf, net, train!, test, ord.slice(0, k), epochs, ctx.seed, ctx.signal));
            tick();
          }
          return out;
        };
      }
      const ranked = await curveOf(order);
      const permutation = await curveOf(permOrder);
      const randoms: number[][] = [];
      for (const o of randomOrders) randoms.push(await curveOf(o));
      const randomMean = ks.map((_, i) => randoms.reduce((s, r) => s + r[i]!, 0) / randoms.length);
      const randomSd = ks.map((_, i) => Math.sqrt(randoms.reduce((s, r) => s + (r[i]! - randomMean[i]!) ** 2, 0) / Math.max(1, randoms.length - 1)));

      await writeRecords(ctx.output('curve'), ks.map((k, i) => ({
        k, fraction: k / d, metric: metricName,
        ranking: ranked[i]!, random: randomMean[i]!, random_sd: randomSd[i]!, permutation: permutation[i]!,
      })), { 'specflow.kind': 'feature-curve' }, {
        types: { k: 'int32', fraction: 'float64', metric: 'utf8', ranking: 'float64', random: 'float64', random_sd: 'float64', permutation: 'float64' },
      });
      const names = c.featureNames;
      const axisOf = (j: number): Cell => (c.axis && !names.some((n) => Number.isNaN(Number(n))) ? c.axis[j]! : names[j] ?? String(j));
      const permRank = new Array<number>(d);
      permOrder.forEach((j, r) => { permRank[j] = r + 1; });
      await writeRecords(ctx.output('permutation'), Array.from({ length: d }, (_, j) => ({
        feature: j, axis: axisOf(j), score: perm[j]!, rank: permRank[j]!,
      })), { 'specflow.kind': 'ranking', 'specflow.axis_name': c.axisName ?? '', 'specflow.axis_unit': c.axisUnit ?? '' }, { types: { feature: 'int32', score: 'float64', rank: 'int32' } });

      const fraction = p.threshold as number;
      const kOf = (v: number[]) => ev.smallestK(ks, v, full, fraction, higher);
      ctx.metric(`full_${metricName}`, round(full));
      ctx.metric('threshold', fraction);
      ctx.metric('k_95', kOf(ranked));
      ctx.metric('k_95_random', kOf(randomMean));
      ctx.metric('k_95_permutation', kOf(permutation));
      const area = (v: number[]) => round(ev.curveArea(ks, v, d));
      ctx.metric('area_ranking', area(ranked));
      ctx.metric('area_random', area(randomMean));
      ctx.metric('area_permutation', area(permutation));
      ctx.metric('ahead_of_random', higher ? ev.curveArea(ks, ranked, d) > ev.curveArea(ks, randomMean, d) : ev.curveArea(ks, ranked, d) < ev.curveArea(ks, randomMean, d));
      const top = p.top as number;
      ctx.metric('top_ranking', order.slice(0, top).map((j) => ({ feature: j, axis: axisOf(j) })));
      ctx.metric('top_permutation', permOrder.slice(0, top).map((j) => ({ feature: j, axis: axisOf(j), score: round(perm[j]!) })));
      ctx.metric('backend', backend);
      ctx.log(`${ks.length} k values × (ranking, permutation, ${randomOrders.length} random)${retrain ? ', retrained' : ', masked'}`);
    } finally {
      net.dispose();
    }
  },
};

/**
 * Feature order (most relevant first) from a ranking table: by `rank` ascending
 * when present, else by `score` descending. Features the table does not list
 * come last, in index order.
 */
export function rankingOrder(rows: Record<string, Cell>[], d: number, where: string): number[] {
  if (rows.length === 0) throw new StageError('the ranking table is empty', where);
  const cols = Object.keys(rows[0]!);
  if (!cols.includes('feature')) throw new StageError(`the ranking table has no \`feature\` column; columns: ${cols.join(', ')}`, where);
  const byRank = cols.includes('rank');
  if (!byRank && !cols.includes('score')) throw new StageError('the ranking table needs a `score` or a `rank` column', where);
  const entries = rows.map((r, i) => {
    const f = Number(r.feature);
    if (!Number.isInteger(f) || f < 0 || f >= d) throw new StageError(`feature ${String(r.feature)} is not a channel index below ${d}`, `${where} row ${i + 1}`);
    const key = Number(byRank ? r.rank : r.score);
    if (!Number.isFinite(key)) throw new StageError(`${byRank ? 'rank' : 'score'} ${String(byRank ? r.rank : r.score)} is not a number`, `${where} row ${i + 1}`);
    return { f, key };
  });
  entries.sort((a, b) => (byRank ? a.key - b.key : b.key - a.key) || a.f - b.f);
  const seen = new Set<number>();
  const order: number[] = [];
  for (const e of entries) if (!seen.has(e.f)) { seen.add(e.f); order.push(e.f); }
  for (let j = 0; j < d; j++) if (!seen.has(j)) order.push(j);
  return order;
}

/** Test score of a fresh network (the model's hyper-parameters) trained on the given features only. */
async function retrainScore(tf: TF, like: SpectralNet, train: Samples, test: Samples, features: number[], epochs: number, seed: number, signal: AbortSignal): Promise<number> {
  const { trainSpectral } = await import('../ml/spectral/train.js');
  const { evaluate } = await import('../ml/spectral/evaluate.js');
  const c = like.config;
  const pick = (s: Samples): Samples => {
    const k = features.length;
    const x = new Float32Array(s.n * k);
    for (let i = 0; i < s.n; i++) for (let r = 0; r < k; r++) x[i * k + r] = s.x[i * s.d + features[r]!]!;
    const out = subset(s, Array.from({ length: s.n }, (_, i) => i));
    return { ...out, d: k, x };
  };
  const a = pick(train);
  const b = pick(test);
  const t = c.training ?? {};
  const r = await trainSpectral(tf, { x: a.x, n: a.n, d: a.d, ...(c.task === 'classify' ? { labels: a.labels! } : { y: a.y! }) }, {
    task: c.task,
    hidden: c.hidden,
    epochs,
    batchSize: Number(t.batch_size ?? 32),
    learningRate: Number(t.learning_rate ?? 1e-3),
    lambdaL2: c.lambdaL2,
    phiL2: c.phiL2,
    ...(c.loss !== 'cross_entropy' ? { loss: c.loss } : {}),
    standardize: c.inputMean !== undefined,
    seed,
    ...(c.task === 'classify' ? { classes: c.classes } : {}),
    signal,
  });
  try {
    return evaluate(r.net, b.x, b.n, truthOf(r.net, b)).metric;
  } finally {
    r.net.dispose();
  }
}
