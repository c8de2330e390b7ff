/**
 * `encode`, `reconstruct` and `decode`: apply a trained model (any arch, PCA
 * included) to spectra or to latent points. Heavy modules are imported in run().
 */
import { StageError, type StageContext, type StageDef } from '../core/stage-api.js';
import type { SpectraTable } from '../data/arrow-io.js';
import type { SpectralModel } from '../ml/model-api.js';
import { KIND } from './kinds.js';
import { allowAxisMismatchParam } from './model-axis.js';
import { loadModelSpectra, singleInput, streamModelSpectra } from './model-stream.js';

const PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'apache-arrow'];

async function openModel(ctx: StageContext) {
  const input = singleInput(ctx, 'model');
  const { loadModel } = await import('../ml/model-io.js');
  try {
    return { model: await loadModel(input.path), from: input.from };
  } catch (e) {
    throw new StageError((e as Error).message, input.from);
  }
}

export const encode: StageDef = {
  type: 'encode',
  description: 'Encode spectra with a trained model (autoencoder or PCA) into latent codes.',
  inputs: {
    model: { kind: KIND.model, description: 'A train.autoencoder or train.pca model.' },
    spectra: { kind: KIND.spectra },
  },
  outputs: { codes: { kind: KIND.latent, description: '`id`, `label`, metadata columns, `z` FixedSizeList<Float32>[k].' } },
  params: { type: 'object', properties: { allow_axis_mismatch: allowAxisMismatchParam } },
  cpu: true,
  seedless: true,
  packages: PACKAGES,
  module: import.meta.url,
  async run(ctx) {
    const { model, from } = await openModel(ctx);
    try {
      const { writeLatent } = await import('../data/arrow-io.js');
      const metadata = { 'specflow.model_arch': model.arch };
      const k = model.latentDim;
      const streamed = await streamModelSpectra(ctx, 'spectra', model.inputDim, from);
      if (streamed) {
        // The codes (n × k) are small next to the spectra (n × d): collected, then written as usual.
        const z = new Float32Array(streamed.n * k);
        const ids: string[] = [];
        let labels: (string | null)[] | undefined;
        let columns: Record<string, import('../data/arrow-io.js').Cell[]> | undefined;
        let columnTypes: import('../data/arrow-io.js').SpectraTable['columnTypes'];
        for await (const { first, t } of streamed.chunks) {
          z.set(await model.encode(t.spectra, t.n), first * k);
          for (const id of t.ids) ids.push(id);
          if (t.labels) for (const l of t.labels) (labels ??= []).push(l);
          columns ??= Object.fromEntries(Object.keys(t.columns).map((c) => [c, []]));
          for (const [c, v] of Object.entries(t.columns)) for (const x of v) columns[c]!.push(x);
          columnTypes ??= t.columnTypes;
          streamed.progress(first + t.n);
        }
        await writeLatent(ctx.output('codes'), {
          n: streamed.n, k, ids, ...(labels ? { labels } : {}), z, columns: columns ?? {}, ...(columnTypes ? { columnTypes } : {}), metadata,
        });
        ctx.metric('latent_dim', k);
        ctx.metric('n', streamed.n);
        return;
      }
      const t = await loadModelSpectra(ctx, 'spectra', model.inputDim, from);
      const z = await model.encode(t.spectra, t.n);
      await writeLatent(ctx.output('codes'), {
        n: t.n, k, ids: t.ids, ...(t.labels ? { labels: t.labels } : {}), z,
        columns: t.columns, ...(t.columnTypes ? { columnTypes: t.columnTypes } : {}), metadata,
      });
      ctx.metric('latent_dim', k);
      ctx.metric('n', t.n);
    } finally {
      model.dispose();
    }
  },
};

export const reconstruct: StageDef = {
  type: 'reconstruct',
  description: 'Reconstruct spectra through a model (encode then decode): the denoised spectra, their residuals and per-spectrum errors.',
  inputs: {
    model: { kind: KIND.model },
    spectra: { kind: KIND.spectra },
  },
  outputs: {
    reconstruction: { kind: KIND.spectra, description: 'Reconstructed spectra; `clean` carried through; columns `error` (MSE, or Poisson deviance for Poisson models) and, with a clean column, `error_clean` (MSE against clean).' },
    residuals: { kind: KIND.spectra, description: 'spectrum − reconstruction.' },
  },
  metrics: {
    mse: { better: 'lower', description: 'mean squared error of the reconstructions against their inputs' },
    poisson_deviance: { better: 'lower', description: 'mean Poisson deviance (models trained with loss: poisson)' },
    mse_clean: { better: 'lower', description: 'mean squared error against the noise-free spectra' },
    mse_clean_ratio: { better: 'lower', description: 'mse_clean over the noisy input\'s own error' },
    mse_noisy_vs_clean: { description: 'error of the noisy input against the noise-free spectra (a property of the data)' },
  },
  params: { type: 'object', properties: { allow_axis_mismatch: allowAxisMismatchParam } },
  cpu: true,
  seedless: true,
  packages: PACKAGES,
  module: import.meta.url,
  async run(ctx) {
    const { model, from } = await openModel(ctx);
    try {
      const { SpectraWriter, spectraHeader } = await import('../data/arrow-io.js');
      const { mean } = await import('../ml/metrics.js');
      const streamed = await streamModelSpectra(ctx, 'spectra', model.inputDim, from);
      const whole = streamed ? undefined : await loadModelSpectra(ctx, 'spectra', model.inputDim, from);
      const n = streamed?.n ?? whole!.n;
      // per-row errors of all rows (n numbers), so the means are summed in one order either way
      const errors = { mse: new Float64Array(n), error: new Float64Array(n), clean: new Float64Array(n), floor: new Float64Array(n) };
      let hasClean = false;
      let writers: { reconstruction: InstanceType<typeof SpectraWriter>; residuals: InstanceType<typeof SpectraWriter> } | undefined;
      try {
        const chunks = streamed?.chunks ?? (async function* () { yield { first: 0, t: whole! }; })();
        for await (const { first, t } of chunks) {
          const out = await reconstructRows(model, t);
          errors.mse.set(out.mse, first);
          errors.error.set(out.errors, first);
          if (out.mseClean) errors.clean.set(out.mseClean, first);
          if (out.floor) errors.floor.set(out.floor, first);
          hasClean = t.clean !== undefined;
          writers ??= {
            reconstruction: new SpectraWriter(ctx.output('reconstruction'), spectraHeader(out.reconstruction)),
            residuals: new SpectraWriter(ctx.output('residuals'), spectraHeader(out.residuals)),
          };
          writers.reconstruction.append(out.reconstruction);
          writers.residuals.append(out.residuals);
          streamed?.progress(first + t.n);
        }
        if (!writers) throw new StageError('no spectra to reconstruct', singleInput(ctx, 'spectra').from);
        writers.reconstruction.close();
        writers.residuals.close();
      } catch (e) {
        writers?.reconstruction.abort();
        writers?.residuals.abort();
        throw e;
      }
      ctx.metric('mse', mean(errors.mse));
      if (model.loss === 'poisson') ctx.metric('poisson_deviance', mean(errors.error));
      if (hasClean) {
        const mseClean = mean(errors.clean);
        const floor = mean(errors.floor);
        ctx.metric('mse_clean', mseClean);
        ctx.metric('mse_noisy_vs_clean', floor);
        ctx.metric('mse_clean_ratio', floor > 0 ? mseClean / floor : null);
        ctx.log(`MSE vs clean ${mseClean.toPrecision(4)} (raw input ${floor.toPrecision(4)}, ratio ${(mseClean / floor).toFixed(3)})`);
      }
    } finally {
      model.dispose();
    }
  },
};

/** Reconstructions, residuals and per-row errors of the rows of `t` (a whole table or a chunk of one). */
async function reconstructRows(model: SpectralModel, t: SpectraTable) {
  const { n, d } = t;
  const recon = await model.decode(await model.encode(t.spectra, n), n);
  const { rowMse, rowPoissonDeviance } = await import('../ml/metrics.js');
  const mse = rowMse(t.spectra, recon, n, d);
  const errors = model.loss === 'poisson' ? rowPoissonDeviance(t.spectra, recon, n, d) : mse;
  const columns: SpectraTable['columns'] = { ...t.columns, error: Array.from(errors) };
  const mseClean = t.clean ? rowMse(recon, t.clean, n, d) : undefined;
  const floor = t.clean ? rowMse(t.spectra, t.clean, n, d) : undefined;
  if (mseClean) columns.error_clean = Array.from(mseClean);
  const residual = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) residual[i] = t.spectra[i]! - recon[i]!;
  // the error columns are float64 whatever their values (a streamed file fixes its schema at the first chunk)
  const base: SpectraTable = {
    ...t, spectra: recon, columns, columnTypes: { ...t.columnTypes, error: 'float64', error_clean: 'float64' },
    metadata: { ...t.metadata, 'specflow.model_arch': model.arch },
  };
  const residuals: SpectraTable = { ...base, spectra: residual };
  delete residuals.clean;
  return { reconstruction: base, residuals, mse, errors, mseClean, floor };
}

export const decode: StageDef = {
  type: 'decode',
  description: 'Decode latent points (e.g. cluster centroids or a grid) into spectra with a trained model.',
  inputs: {
    model: { kind: KIND.model },
    codes: { kind: KIND.latent, description: 'Latent table with `z` of the model\'s latent size.' },
  },
  outputs: { spectra: { kind: KIND.spectra, description: 'Decoded spectra on the model\'s training axis.' } },
  params: { type: 'object', properties: {} },
  cpu: true,
  seedless: true,
  packages: PACKAGES,
  module: import.meta.url,
  async run(ctx) {
    const { model, from } = await openModel(ctx);
    try {
      const input = singleInput(ctx, 'codes');
      const { readLatent, writeSpectra } = await import('../data/arrow-io.js');
      const c = await readLatent(input.path);
      if (c.k !== model.latentDim) throw new StageError(`codes have ${c.k} dimensions but model ${from} has latent_dim ${model.latentDim}`, input.from);
      const x = await model.decode(c.z, c.n);
      const { readModelConfig } = await import('../ml/model-io.js');
      const axis = (await readModelConfig(singleInput(ctx, 'model').path)).axis;
      await writeSpectra(ctx.output('spectra'), {
        n: c.n, d: model.inputDim, ids: c.ids, ...(c.labels ? { labels: c.labels } : {}), spectra: x,
        axis: axis ? Float64Array.from(axis.values) : Float64Array.from({ length: model.inputDim }, (_, i) => i),
        axisUnit: axis?.unit ?? '', axisName: axis?.name ?? '', columns: c.columns, metadata: c.metadata,
      });
    } finally {
      model.dispose();
    }
  },
};
