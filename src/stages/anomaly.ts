/**
 * `anomaly`: reconstruction errors of the normal (training) spectra set a
 * threshold at a percentile; evaluated spectra above it are flagged. When the
 * evaluated table says which spectra are anomalous, detection scores follow.
 */
import { StageError, type StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';
import { allowAxisMismatchParam, checkModelAxis } from './model-axis.js';

/** Rows per encode/decode call, to bound memory on large tables. */
const BATCH = 1024;

export const anomaly: StageDef = {
  type: 'anomaly',
  description: 'Flag spectra whose reconstruction error exceeds a percentile of the normal spectra\'s errors',
  inputs: {
    model: { kind: KIND.model, description: 'A model trained on normal spectra (autoencoder or PCA)' },
    normal: { kind: KIND.spectra, description: 'Normal spectra (usually the training set): their errors set the threshold' },
    spectra: { kind: KIND.spectra, description: 'Spectra to flag; an `anomaly` boolean column or `anomaly_label` enables precision/recall' },
  },
  outputs: {
    scores: { kind: KIND.table, description: '`id`, `label`, `anomaly` (truth, when known), `error`, `flagged`' },
  },
  metrics: {
    precision: { better: 'higher' },
    recall: { better: 'higher' },
    f1: { better: 'higher' },
    error_ratio: { better: 'higher', description: 'mean error of anomalous over normal spectra' },
    flagged_fraction: { description: 'share of spectra flagged' },
  },
  params: {
    type: 'object',
    properties: {
      percentile: { type: 'number', exclusiveMinimum: 0, maximum: 100, default: 99, description: 'Percentile of the normal spectra\'s errors used as threshold (numpy linear interpolation)' },
      anomaly_label: {
        type: ['string', 'number'],
        description: 'Label value marking the truly anomalous spectra of `spectra` (used when there is no `anomaly` column)',
      },
      error: {
        enum: ['auto', 'mse', 'poisson'], default: 'auto',
        description: 'Reconstruction error per spectrum: mean squared error, mean Poisson deviance, or auto (the model\'s training loss)',
      },
      allow_axis_mismatch: allowAxisMismatchParam,
    },
  },
  seedless: true,
  cpu: true,
  packages: ['apache-arrow', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'ml-pca'],
  module: import.meta.url,
  async run(ctx) {
    const arrow = await import('../data/arrow-io.js');
    const { loadModel } = await import('../ml/model-io.js');
    const det = await import('../analysis/detection.js');
    const modelIn = ctx.inputs.model;
    const normalIn = ctx.inputs.normal;
    const evalIn = ctx.inputs.spectra;
    if (!modelIn || Array.isArray(modelIn)) throw new StageError('input `model` is required');
    if (!normalIn || Array.isArray(normalIn)) throw new StageError('input `normal` is required');
    if (!evalIn || Array.isArray(evalIn)) throw new StageError('input `spectra` is required');

    const normal = await arrow.readSpectra(normalIn.path);
    const target = await arrow.readSpectra(evalIn.path);
    arrow.requireCommonGrid(normal, normalIn.from);
    arrow.requireCommonGrid(target, evalIn.from);
    if (normal.n === 0) throw new StageError('no normal spectra to set the threshold', normalIn.from);

    // truth, when the evaluated table carries it
    const anomalyLabel = ctx.params.anomaly_label as string | number | undefined;
    let truth: boolean[] | undefined;
    const col = target.columns.anomaly;
    if (col) {
      truth = col.map((v, i) => {
        if (v === true || v === 1 || v === 'true') return true;
        if (v === false || v === 0 || v === 'false') return false;
        throw new StageError(`\`anomaly\` must be boolean, got ${JSON.stringify(v)}`, `${evalIn.from} row ${i + 1}`);
      });
    } else if (anomalyLabel !== undefined) {
      if (!target.labels) throw new StageError(`anomaly_label: ${anomalyLabel} given but the spectra have no \`label\` column`, evalIn.from);
      truth = target.labels.map((l) => l === String(anomalyLabel));
      if (!truth.some(Boolean)) ctx.log(`no spectrum has label "${anomalyLabel}"`);
    }

    for (const [t, inp] of [[normal, normalIn], [target, evalIn]] as const) await checkModelAxis(ctx, modelIn.path, modelIn.from, t, inp.from);
    const model = await loadModel(modelIn.path);
    let normalErr: Float64Array;
    let evalErr: Float64Array;
    try {
      for (const [t, inp] of [[normal, normalIn], [target, evalIn]] as const) {
        if (t.d !== model.inputDim) throw new StageError(`spectra have ${t.d} channels but the model expects ${model.inputDim}`, inp.from);
      }
      const kind = ctx.params.error === 'auto' ? model.loss : (ctx.params.error as 'mse' | 'poisson');
      ctx.log(`reconstruction error: ${kind === 'poisson' ? 'mean Poisson deviance' : 'mean squared error'}`);
      const errors = async (x: Float32Array, n: number, d: number): Promise<Float64Array> => {
        const out = new Float64Array(n);
        for (let start = 0; start < n; start += BATCH) {
          const m = Math.min(BATCH, n - start);
          const xb = x.subarray(start * d, (start + m) * d);
          const rec = await model.decode(await model.encode(xb, m), m);
          out.set(kind === 'poisson' ? det.rowPoissonDeviance(xb, rec, m, d) : det.rowMse(xb, rec, m, d), start);
        }
        return out;
      };
      normalErr = await errors(normal.spectra, normal.n, normal.d);
      ctx.progress({ fraction: 0.5 });
      evalErr = await errors(target.spectra, target.n, target.d);
    } finally {
      model.dispose();
    }
    const threshold = det.percentile(normalErr, ctx.params.percentile as number);
    const flagged = Array.from(evalErr, (e) => e > threshold);
    const nFlagged = flagged.filter(Boolean).length;
    ctx.metric('threshold', threshold);
    ctx.metric('flagged', nFlagged);
    ctx.metric('n', target.n);
    ctx.metric('flagged_fraction', target.n > 0 ? nFlagged / target.n : 0);
    ctx.metric('normal_error_mean', mean(Array.from(normalErr)));

    if (truth) {
      const s = det.detectionScores(truth, flagged);
      ctx.metric('precision', s.precision);
      ctx.metric('recall', s.recall);
      ctx.metric('f1', s.f1);
      ctx.metric('confusion', { tp: s.tp, fp: s.fp, fn: s.fn, tn: s.tn });
      const anomalous = Array.from(evalErr).filter((_, i) => truth![i]);
      let normalSide = Array.from(evalErr).filter((_, i) => !truth![i]);
      // all evaluated spectra anomalous: compare with the normal reference set
      if (normalSide.length === 0) normalSide = Array.from(normalErr);
      ctx.metric('error_ratio', anomalous.length > 0 ? mean(anomalous) / mean(normalSide) : null);
    }

    const rows = target.ids.map((id, i) => ({
      id,
      ...(target.labels ? { label: target.labels[i]! } : {}),
      ...(truth ? { anomaly: truth[i]! } : {}),
      error: evalErr[i]!,
      flagged: flagged[i]!,
    }));
    await arrow.writeRecords(ctx.output('scores'), rows, {
      'specflow.kind': 'anomaly',
      'specflow.threshold': String(threshold),
    }, { types: { id: 'utf8', label: 'utf8', anomaly: 'bool', error: 'float64', flagged: 'bool' } });
  },
};

function mean(values: number[]): number {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : NaN;
}
