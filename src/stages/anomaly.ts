/**
 * `anomaly`: reconstruction errors of the normal (training) spectra set a
 * threshold at a percentile; evaluated spectra above it are flagged. When the
 * evaluated table says which spectra are anomalous, detection scores follow.
 */
import { StageError, type StageDef } from '../core/stage-api.js';
import type { Cell, SpectraTable } from '../data/arrow-io.js';
import { KIND } from './kinds.js';
import { allowAxisMismatchParam } from './model-axis.js';
import { loadModelSpectra, singleInput, streamModelSpectra } from './model-stream.js';

/** Rows per encode/decode call (a multiple of the models' inference batch), to bound tensor memory. */
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
    const modelIn = singleInput(ctx, 'model');
    const normalIn = singleInput(ctx, 'normal');
    const evalIn = singleInput(ctx, 'spectra');
    const anomalyLabel = ctx.params.anomaly_label as string | number | undefined;

    const model = await loadModel(modelIn.path);
    let normalErr: Float64Array;
    let evalErr: Float64Array;
    const ids: string[] = [];
    let labels: (string | null)[] | undefined;
    let truth: boolean[] | undefined;
    let truthFromLabel = false;
    try {
      const kind = ctx.params.error === 'auto' ? model.loss : (ctx.params.error as 'mse' | 'poisson');
      ctx.log(`reconstruction error: ${kind === 'poisson' ? 'mean Poisson deviance' : 'mean squared error'}`);
      const errors = async (x: Float32Array, n: number, d: number, out: Float64Array, at: number): Promise<void> => {
        for (let start = 0; start < n; start += BATCH) {
          const m = Math.min(BATCH, n - start);
          const xb = x.subarray(start * d, (start + m) * d);
          const rec = await model.decode(await model.encode(xb, m), m);
          out.set(kind === 'poisson' ? det.rowPoissonDeviance(xb, rec, m, d) : det.rowMse(xb, rec, m, d), at + start);
        }
      };
      /** Errors of every row on `port`, chunk by chunk when the table is large; `each` sees every chunk in row order. */
      const pass = async (port: string, span: [number, number], each?: (t: SpectraTable, first: number) => void): Promise<Float64Array> => {
        const streamed = await streamModelSpectra(ctx, port, model.inputDim, modelIn.from, { label: port, span });
        const whole = streamed ? undefined : await loadModelSpectra(ctx, port, model.inputDim, modelIn.from);
        const out = new Float64Array(streamed?.n ?? whole!.n);
        const chunks = streamed?.chunks ?? (async function* () { yield { first: 0, t: whole! }; })();
        for await (const { first, t } of chunks) {
          each?.(t, first);
          await errors(t.spectra, t.n, t.d, out, first);
          streamed?.progress(first + t.n);
        }
        if (!streamed) ctx.progress({ fraction: span[1] });
        return out;
      };
      normalErr = await pass('normal', [0, 0.5]);
      if (normalErr.length === 0) throw new StageError('no normal spectra to set the threshold', normalIn.from);
      evalErr = await pass('spectra', [0.5, 1], (t, first) => {
        for (const id of t.ids) ids.push(id);
        if (t.labels) for (const l of t.labels) (labels ??= []).push(l);
        // truth, when the evaluated table carries it
        const col = t.columns.anomaly;
        if (col) {
          truth ??= [];
          col.forEach((v, i) => {
            if (v === true || v === 1 || v === 'true') truth!.push(true);
            else if (v === false || v === 0 || v === 'false') truth!.push(false);
            else throw new StageError(`\`anomaly\` must be boolean, got ${JSON.stringify(v)}`, `${evalIn.from} row ${first + i + 1}`);
          });
        } else if (anomalyLabel !== undefined) {
          truthFromLabel = true;
          if (!t.labels) throw new StageError(`${anomalyLabel} given, but ${evalIn.from} has no \`label\` column`, 'with.anomaly_label');
          truth ??= [];
          for (const l of t.labels) truth.push(l === String(anomalyLabel));
        }
      });
    } finally {
      model.dispose();
    }
    const n = evalErr.length;
    // a label no spectrum has is a typo far more often than an anomaly-free test set: precision and
    // recall would be computed against a truth of all-normal and read as if they meant something
    if (truth && truthFromLabel && !truth.some(Boolean)) {
      const present = [...new Set(labels ?? [])].filter((l): l is string => l !== null);
      throw new StageError(`no spectrum of ${evalIn.from} has label ${JSON.stringify(String(anomalyLabel))}; its labels: ${present.slice(0, 12).join(', ')}${present.length > 12 ? ', …' : ''} (leave anomaly_label out to flag without precision and recall)`, 'with.anomaly_label');
    }
    const threshold = det.percentile(normalErr, ctx.params.percentile as number);
    const flagged = Array.from(evalErr, (e) => e > threshold);
    const nFlagged = flagged.filter(Boolean).length;
    ctx.metric('threshold', threshold);
    ctx.metric('flagged', nFlagged);
    ctx.metric('n', n);
    ctx.metric('flagged_fraction', n > 0 ? nFlagged / n : 0);
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
      // a model reconstructing the normal side exactly (error 0) leaves the ratio undefined (0/0 or x/0):
      // null with a note, not a NaN/Infinity metric that would fail the whole stage
      const ratio = anomalous.length > 0 ? mean(anomalous) / mean(normalSide) : null;
      if (ratio !== null && !Number.isFinite(ratio)) ctx.log('error_ratio undefined: the normal spectra are reconstructed exactly (mean error 0)');
      ctx.metric('error_ratio', ratio !== null && Number.isFinite(ratio) ? ratio : null);
    }

    // columns, not one object per row: this table has a row per evaluated spectrum
    const columns: Record<string, Cell[]> = { id: ids };
    if (labels) columns.label = labels;
    if (truth) columns.anomaly = truth;
    columns.error = Array.from(evalErr);
    columns.flagged = flagged;
    await arrow.writeColumns(ctx.output('scores'), columns, {
      'specflow.kind': 'anomaly',
      'specflow.threshold': String(threshold),
    }, { types: { id: 'utf8', label: 'utf8', anomaly: 'bool', error: 'float64', flagged: 'bool' } });
  },
};

function mean(values: number[]): number {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : NaN;
}
