/**
 * `train.spectral`: a spectral neural network (first layer w_ji = λ_j·φ_ji) trained
 * as a classifier or regressor on the channels of a spectra table; its input
 * relevance ranking (|λ_j|·‖φ_j,:‖₂) comes out of training for free.
 *
 * Cheap to import: tfjs, apache-arrow and the model code load inside `run`.
 */
import { KIND } from './kinds.js';
import { deriveSeed, Rng } from '../util/random.js';
import { StageError, type InputArtifact, type StageContext, type StageDef } from '../core/stage-api.js';
import type { SpectraTable } from '../data/arrow-io.js';
import type { SpectralNet } from '../ml/spectral/model.js';
import type { Truth } from '../ml/spectral/evaluate.js';

export const trainSpectral: StageDef = {
  type: 'train.spectral',
  description: 'Spectral neural network (first layer w_ji = λ_j·φ_ji, L2 on λ and φ): a classifier on `label` or a regressor on a `target` column, '
    + 'whose input relevance |λ_j|·‖φ_j‖ ranks the channels as a by-product of training.',
  inputs: {
    spectra: { kind: KIND.spectra, optional: true, description: 'All samples; a seeded stratified split (test_fraction) holds some out for the test metrics.' },
    train: { kind: KIND.spectra, optional: true, description: 'Training samples (with `test`, e.g. from `split`), instead of `spectra`.' },
    test: { kind: KIND.spectra, optional: true, description: 'Test samples for the test metrics.' },
  },
  outputs: {
    model: { kind: KIND.spectral, description: 'config.json + weights.bin; reloadable by rank.features.' },
    relevance: { kind: KIND.relevance, description: 'feature, axis, lambda, phi_norm, score (= |lambda|·phi_norm), rank (1 = most relevant).' },
  },
  metrics: {
    train_accuracy: { better: 'higher' },
    test_accuracy: { better: 'higher' },
    train_mae: { better: 'lower' },
    test_mae: { better: 'lower' },
    final_loss: { better: 'lower' },
  },
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      task: { type: 'string', enum: ['classify', 'regress'], description: 'classify: softmax cross-entropy on the `label` column (or on `target`); regress: MAE/MSE on the numeric `target` column. Default: regress when `target` is given, else classify.' },
      target: { type: 'string', description: 'Metadata column to regress on (or, with task: classify, to use as the class).' },
      hidden: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 }, default: [100, 100, 50], description: 'Hidden layer widths (ReLU); the first is the spectral layer.' },
      epochs: { type: 'integer', minimum: 1, default: 100, description: 'Training epochs.' },
      batch_size: { type: 'integer', minimum: 1, default: 32, description: 'Mini-batch size.' },
      learning_rate: { type: 'number', exclusiveMinimum: 0, default: 0.001, description: 'Adam learning rate.' },
      lambda_l2: { type: 'number', minimum: 0, default: 0.01, description: 'L2 penalty on the input eigenvalues λ (first layer only).' },
      phi_l2: { type: 'number', minimum: 0, default: 0.0001, description: 'L2 penalty on the eigenvector entries φ (first layer only).' },
      loss: { type: 'string', enum: ['mae', 'mse'], default: 'mae', description: 'Regression loss (classification always uses softmax cross-entropy).' },
      standardize: { type: 'boolean', default: false, description: 'Z-score every channel with the training mean and sd (kept in the model). Masking a feature then sets it to its training mean rather than to 0.' },
      classes: { type: 'array', minItems: 2, items: { type: ['string', 'number'] }, description: 'Keep only rows of these classes (e.g. [0, 1] for digits 0 vs 1), in this output order.' },
      test_fraction: { type: 'number', minimum: 0, maximum: 0.9, default: 0.2, description: 'With a single `spectra` input: fraction held out (stratified by class) for the test metrics.' },
      top: { type: 'integer', minimum: 1, default: 10, description: 'How many top features to list in the metrics.' },
    },
  },
  cpu: true,
  packages: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'apache-arrow'],
  module: import.meta.url,
  async run(ctx) {
    const { readSpectra, writeRecords } = await import('../data/arrow-io.js');
    const { initBackend, backendLabel } = await import('../ml/backend.js');
    const { trainSpectral: train } = await import('../ml/spectral/train.js');
    const { evaluate } = await import('../ml/spectral/evaluate.js');
    const p = ctx.params;
    const task = resolveTask(p);
    const target = p.target as string | undefined;
    const classes = (p.classes as (string | number)[] | undefined)?.map(String);

    let trainSet: Samples;
    let testSet: Samples | undefined;
    const one = single(ctx, 'spectra');
    const tr = single(ctx, 'train');
    const te = single(ctx, 'test');
    if (one && (tr || te)) throw new StageError('give either `spectra` or `train` (+ `test`), not both', 'in');
    if (one) {
      const all = selectRows(await readSpectra(one.path), task, target, classes, ctx, one.from);
      const fraction = p.test_fraction as number;
      if (fraction > 0) {
        const { train: a, test: b } = splitSamples(all, fraction, ctx.seed, task);
        // the test metrics would be missing without a word
        if (b.n === 0) {
          throw new StageError(`${fraction} of ${all.n} rows${task === 'classify' ? ' (stratified by class)' : ''} holds out no test row; raise test_fraction or set it to 0 to train without a test set`, 'with.test_fraction');
        }
        trainSet = a;
        testSet = b;
      } else trainSet = all;
    } else if (tr) {
      trainSet = selectRows(await readSpectra(tr.path), task, target, classes, ctx, tr.from);
      if (te) testSet = selectRows(await readSpectra(te.path), task, target, classes, ctx, te.from);
    } else throw new StageError('no input: connect `spectra`, or `train` and `test`', 'in');
    if (task === 'classify' && classes) {
      // a listed class without rows would be an output the network never learns (a typo, usually)
      const present = new Set(trainSet.labels);
      const missing = classes.filter((c) => !present.has(c));
      if (missing.length > 0) {
        throw new StageError(`no training rows of class ${missing.map((c) => JSON.stringify(c)).join(', ')} in ${(one ?? tr)!.from} (column "${target ?? 'label'}"); list only classes that occur there`, 'with.classes');
      }
    }
    if (testSet && testSet.d !== trainSet.d) throw new StageError(`test spectra have ${testSet.d} channels, training spectra ${trainSet.d}`, 'in.test');
    if (trainSet.n < 2) {
      const usable = task === 'classify' ? 'with a usable label' : `with a numeric ${target ?? 'target'}`;
      throw new StageError(`only ${trainSet.n} training row${trainSet.n === 1 ? '' : 's'} (${usable}${classes ? ' of the listed classes' : ''}); train.spectral needs at least 2`, (one ?? tr)!.from);
    }
    if (task === 'classify') {
      const present = new Set(trainSet.labels);
      if (present.size < 2) {
        throw new StageError(`classification needs at least 2 classes, but the training rows have ${present.size === 0 ? 'none' : `only "${[...present][0]}"`}`, target !== undefined ? `column "${target}"` : 'column "label"');
      }
    }

    // the training cuts a batch larger than the rows to them: one batch an epoch (full-batch Adam)
    if ((p.batch_size as number) > trainSet.n) ctx.log(`batch_size ${p.batch_size as number} is more than the ${trainSet.n} training rows: each epoch is one batch of ${trainSet.n}`);
    const { name: backendName, tf } = await initBackend();
    const backend = backendLabel(backendName);
    const epochs = p.epochs as number;
    const names = featureNames(trainSet.table);
    const numericAxis = !trainSet.table.metadata.channel_names;
    const { isTrainingDiverged, stuckLossMessage } = await import('../ml/divergence.js');
    const result = await train(tf, {
      x: trainSet.x, n: trainSet.n, d: trainSet.d,
      ...(task === 'classify' ? { labels: trainSet.labels! } : { y: trainSet.y! }),
    }, {
      task,
      hidden: p.hidden as number[],
      epochs,
      batchSize: p.batch_size as number,
      learningRate: p.learning_rate as number,
      lambdaL2: p.lambda_l2 as number,
      phiL2: p.phi_l2 as number,
      loss: p.loss as 'mae' | 'mse',
      standardize: p.standardize as boolean,
      seed: ctx.seed,
      ...(classes ? { classes } : {}),
      ...(target !== undefined ? { target } : {}),
      featureNames: names,
      axis: Array.from(trainSet.table.axis),
      axisUnit: trainSet.table.axisUnit,
      axisName: trainSet.table.axisName,
      signal: ctx.signal,
      extra: { backend, standardize: p.standardize as boolean },
      onEpoch: (epoch, loss) => ctx.progress({ epoch, epochs, loss, fraction: epoch / epochs }),
    }).catch((e: unknown) => {
      throw isTrainingDiverged(e) ? new StageError((e as Error).message) : e;
    });
    const net = result.net;
    const stuck = stuckLossMessage(result.history, p.learning_rate as number);
    if (stuck) {
      net.dispose();
      throw new StageError(stuck, 'with.learning_rate');
    }
    try {
      const metricName = task === 'classify' ? 'accuracy' : 'mae';
      ctx.metric(`train_${metricName}`, round(evaluate(net, trainSet.x, trainSet.n, truthOf(net, trainSet)).metric));
      if (testSet && task === 'classify') testSet = restrictToClasses(testSet, net.config.classes, ctx, 'test');
      if (testSet && testSet.n > 0) ctx.metric(`test_${metricName}`, round(evaluate(net, testSet.x, testSet.n, truthOf(net, testSet)).metric));
      ctx.metric('final_loss', round(result.history[result.history.length - 1] ?? NaN));
      ctx.metric('n_train', trainSet.n);
      ctx.metric('n_test', testSet?.n ?? 0);
      ctx.metric('backend', backend);
      ctx.metric('seconds_per_epoch', round(result.seconds / epochs));

      const rel = net.relevance();
      const rows = rel.map((r) => ({
        feature: r.feature,
        axis: numericAxis ? trainSet.table.axis[r.feature]! : r.name,
        lambda: r.lambda,
        phi_norm: r.phiNorm,
        score: r.score,
        rank: r.rank,
      }));
      await writeRecords(ctx.output('relevance'), rows, {
        'specflow.kind': 'relevance',
        'specflow.axis_name': trainSet.table.axisName,
        'specflow.axis_unit': trainSet.table.axisUnit,
      }, {
        types: { feature: 'int32', axis: numericAxis ? 'float64' : 'utf8', lambda: 'float64', phi_norm: 'float64', score: 'float64', rank: 'int32' },
        columns: ['feature', 'axis', 'lambda', 'phi_norm', 'score', 'rank'],
      });
      const top = [...rows].sort((a, b) => a.rank - b.rank).slice(0, p.top as number);
      ctx.metric('top_features', top.map((r) => ({ feature: r.feature, axis: r.axis, score: round(r.score) })));
      if (rel.length <= 64) {
        // every feature's score relative to the largest: sweeps over seeds give mean ± sd per feature from `compare`
        const max = Math.max(...rel.map((r) => r.score)) || 1;
        ctx.metric('scores', rel.map((r) => round(r.score / max, 4)));
      }
      const grid = scoreGrid(rel.map((r) => r.score), names);
      if (grid) ctx.metric('score_grid', grid);
      await net.save(ctx.output('model'));
    } finally {
      net.dispose();
    }
    ctx.log(`${task} on ${trainSet.n} rows × ${trainSet.d} channels, ${epochs} epochs (${backend})`);
  },
};

// ------------------------------------------------------------------ helpers shared with rank.features

/** The rows a stage works on: inputs as a matrix plus class labels or targets. */
export interface Samples {
  table: SpectraTable;
  n: number;
  d: number;
  x: Float32Array;
  labels?: string[];
  y?: Float64Array;
}

export function single(ctx: StageContext, port: string): InputArtifact | undefined {
  const a = ctx.inputs[port];
  if (Array.isArray(a)) {
    if (a.length > 1) throw new StageError(`port \`${port}\` takes one artifact, got ${a.length}`, `in.${port}`);
    return a[0];
  }
  return a;
}

export function resolveTask(p: Record<string, unknown>): 'classify' | 'regress' {
  const task = (p.task as 'classify' | 'regress' | undefined) ?? (p.target !== undefined ? 'regress' : 'classify');
  if (task === 'regress' && p.target === undefined) throw new StageError('task: regress needs `target` (the column to regress on)', 'with.target');
  return task;
}

/**
 * Rows with a usable label/target (and, when `classes` is given, of those classes),
 * as a dense matrix. Rows without a label are dropped with a log line; a
 * non-numeric regression target is an error naming the row.
 */
export function selectRows(
  t: SpectraTable, task: 'classify' | 'regress', target: string | undefined, classes: string[] | undefined,
  ctx: Pick<StageContext, 'log'>, from: string,
): Samples {
  if (t.ragged || t.d === 0) throw new StageError('spectra are on different grids; add a `resample` step first', from);
  let values: (string | number | boolean | null)[];
  if (target !== undefined) {
    const col = t.columns[target];
    if (!col) throw new StageError(`no column "${target}"; columns: ${Object.keys(t.columns).join(', ') || '(none)'}`, `${from}`);
    values = col;
  } else {
    if (!t.labels) throw new StageError('the spectra have no `label` column to classify on (set `target` to use another column)', from);
    values = t.labels;
  }
  const keep: number[] = [];
  let dropped = 0;
  const want = classes ? new Set(classes) : undefined;
  for (let i = 0; i < t.n; i++) {
    const v = values[i];
    if (v === null || v === undefined || (typeof v === 'string' && v.trim() === '')) { dropped++; continue; }
    if (task === 'regress') {
      const num = typeof v === 'number' ? v : Number(v);
      if (!Number.isFinite(num)) throw new StageError(`target "${String(v)}" is not a number`, `${from} row ${i + 1}, column "${target}"`);
    } else if (want && !want.has(String(v))) continue;
    keep.push(i);
  }
  if (dropped > 0) ctx.log(`${from}: ${dropped} rows without ${target ?? 'label'} left out`);
  const d = t.d;
  const x = new Float32Array(keep.length * d);
  keep.forEach((i, r) => x.set(t.spectra.subarray(i * d, (i + 1) * d), r * d));
  const s: Samples = { table: t, n: keep.length, d, x };
  if (task === 'classify') s.labels = keep.map((i) => String(values[i]));
  else s.y = Float64Array.from(keep, (i) => Number(values[i]));
  if (task === 'classify' && want) {
    const present = new Set(s.labels);
    const missing = classes!.filter((c) => !present.has(c));
    if (missing.length > 0) ctx.log(`${from}: no rows of class ${missing.join(', ')}`);
  }
  return s;
}

/** Drops rows whose class the model does not know (logged). */
export function restrictToClasses(s: Samples, classes: string[], ctx: Pick<StageContext, 'log'>, what: string): Samples {
  const known = new Set(classes);
  const rows: number[] = [];
  for (let i = 0; i < s.n; i++) if (known.has(s.labels![i]!)) rows.push(i);
  if (rows.length === s.n) return s;
  ctx.log(`${what}: ${s.n - rows.length} rows of classes the model was not trained on left out`);
  return subset(s, rows);
}

export function subset(s: Samples, rows: number[]): Samples {
  const d = s.d;
  const x = new Float32Array(rows.length * d);
  rows.forEach((i, r) => x.set(s.x.subarray(i * d, (i + 1) * d), r * d));
  const out: Samples = { table: s.table, n: rows.length, d, x };
  if (s.labels) out.labels = rows.map((i) => s.labels![i]!);
  if (s.y) out.y = Float64Array.from(rows, (i) => s.y![i]!);
  return out;
}

/** Seeded split; stratified by class for classification (every class keeps ≥ 1 training row). */
export function splitSamples(s: Samples, fraction: number, seed: number, task: 'classify' | 'regress'): { train: Samples; test: Samples } {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < s.n; i++) {
    const key = task === 'classify' ? s.labels![i]! : '';
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(i);
  }
  const trainRows: number[] = [];
  const testRows: number[] = [];
  for (const [key, rows] of [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const rng = new Rng(deriveSeed(seed, 'train.spectral/split', key));
    const order = rng.permutation(rows.length).map((k) => rows[k]!);
    const nTest = Math.min(rows.length - 1, Math.round(rows.length * fraction));
    testRows.push(...order.slice(0, nTest));
    trainRows.push(...order.slice(nTest));
  }
  trainRows.sort((a, b) => a - b);
  testRows.sort((a, b) => a - b);
  return { train: subset(s, trainRows), test: subset(s, testRows) };
}

/** Names of the channels: the loader's channel names when the header had them, else the axis values. */
export function featureNames(t: SpectraTable): string[] {
  const raw = t.metadata.channel_names;
  if (raw) {
    try {
      const names = JSON.parse(raw) as unknown;
      if (Array.isArray(names) && names.length === t.d) return names.map(String);
    } catch { /* fall back to the axis */ }
  }
  return Array.from(t.axis, (v) => String(v));
}

export function truthOf(net: SpectralNet, s: Samples): Truth {
  if (net.config.task === 'regress') return { task: 'regress', y: s.y! };
  const index = new Map(net.config.classes.map((c, i) => [c, i]));
  return { task: 'classify', index: Int32Array.from(s.labels!, (l) => index.get(l) ?? -1) };
}

/**
 * Scores laid out as an image when the channels are pixels named `pR_C`
 * (digits) — rows of numbers, for a heat map.
 */
export function scoreGrid(scores: number[], names: string[]): number[][] | undefined {
  const cells = names.map((n) => /^p(\d+)_(\d+)$/.exec(n));
  if (cells.some((c) => !c)) return undefined;
  const rows = Math.max(...cells.map((c) => Number(c![1]))) + 1;
  const cols = Math.max(...cells.map((c) => Number(c![2]))) + 1;
  const grid = Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
  cells.forEach((c, j) => { grid[Number(c![1])]![Number(c![2])] = round(scores[j]!); });
  return grid;
}

export function round(v: number, digits = 6): number {
  if (!Number.isFinite(v)) return v;
  return Number(v.toPrecision(digits));
}
