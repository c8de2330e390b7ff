/**
 * `encode`, `reconstruct` and `decode`: apply a trained model (any arch, PCA
 * included) to spectra or to latent points. Heavy modules are imported in run().
 */
import { StageError, type InputArtifact, type StageContext, type StageDef } from '../core/stage-api.js';
import { KIND } from './kinds.js';
import { allowAxisMismatchParam, checkModelAxis } from './model-axis.js';

const PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'apache-arrow'];

function single(ctx: StageContext, port: string): InputArtifact {
  const a = ctx.inputs[port];
  if (!a || Array.isArray(a)) throw new StageError(`needs one artifact on port "${port}"`);
  return a;
}

async function openModel(ctx: StageContext) {
  const input = single(ctx, 'model');
  const { loadModel } = await import('../ml/model-io.js');
  try {
    return { model: await loadModel(input.path), from: input.from };
  } catch (e) {
    throw new StageError((e as Error).message, input.from);
  }
}

async function openSpectra(ctx: StageContext, inputDim: number, modelFrom: string) {
  const input = single(ctx, 'spectra');
  const { readSpectra, requireCommonGrid } = await import('../data/arrow-io.js');
  const t = await readSpectra(input.path);
  requireCommonGrid(t, input.from);
  if (t.d !== inputDim) {
    throw new StageError(`spectra have ${t.d} channels but model ${modelFrom} was trained on ${inputDim}; preprocess them the same way`, input.from);
  }
  await checkModelAxis(ctx, single(ctx, 'model').path, modelFrom, t, input.from);
  return t;
}

/**
 * A large spectra table (see shouldStream) as chunks whose first rows are multiples of the
 * models' inference batch, so a chunked pass computes exactly what one whole-table call does;
 * undefined for tables small enough to load.
 */
async function streamedSpectra(ctx: StageContext, inputDim: number, modelFrom: string) {
  const input = single(ctx, 'spectra');
  const { RowFile, shouldStream, batchRows } = await import('../data/arrow-batches.js');
  const probe = await RowFile.open(input.path, ['spectrum']).catch(() => undefined);
  probe?.close();
  if (!probe || !shouldStream(probe.n, probe.d)) return undefined;
  if (probe.d !== inputDim) {
    throw new StageError(`spectra have ${probe.d} channels but model ${modelFrom} was trained on ${inputDim}; preprocess them the same way`, input.from);
  }
  const { readSpectraBatches } = await import('../data/arrow-io.js');
  const { rechunk } = await import('../data/rechunk.js');
  const { INFERENCE_BATCH } = await import('../ml/autoencoder.js');
  const { RateMeter } = await import('../util/progress.js');
  // a multiple of both the inference batch and the output file's record batch
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const rows = batchRows(probe.d);
  const chunk = (INFERENCE_BATCH / gcd(INFERENCE_BATCH, rows)) * rows;
  const rate = new RateMeter();
  ctx.log(`streaming ${probe.n} spectra × ${probe.d} channels in chunks of ${chunk}`);
  return {
    n: probe.n,
    chunks: rechunk(readSpectraBatches(input.path), chunk),
    progress: (done: number) => ctx.progress({ fraction: done / probe.n, message: rate.message(ctx.id, done, probe.n) }),
  };
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
      const streamed = await streamedSpectra(ctx, model.inputDim, from);
      if (streamed) {
        // The codes (n × k) are small next to the spectra (n × d): collected, then written as usual.
        const z = new Float32Array(streamed.n * k);
        const ids: string[] = [];
        let labels: (string | null)[] | undefined;
        let columns: Record<string, import('../data/arrow-io.js').Cell[]> | undefined;
        let columnTypes: import('../data/arrow-io.js').SpectraTable['columnTypes'];
        for await (const { first, t } of streamed.chunks) {
          if (ctx.signal.aborted) throw new Error('aborted');
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
      const t = await openSpectra(ctx, model.inputDim, from);
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
      const t = await openSpectra(ctx, model.inputDim, from);
      const { n, d } = t;
      const recon = await model.decode(await model.encode(t.spectra, n), n);
      const { rowMse, rowPoissonDeviance, mean } = await import('../ml/metrics.js');
      const mse = rowMse(t.spectra, recon, n, d);
      const poisson = model.loss === 'poisson';
      const errors = poisson ? rowPoissonDeviance(t.spectra, recon, n, d) : mse;
      const columns: Record<string, (string | number | boolean | null)[]> = { ...t.columns, error: Array.from(errors) };
      ctx.metric('mse', mean(mse));
      if (poisson) ctx.metric('poisson_deviance', mean(errors));
      if (t.clean) {
        const mseClean = rowMse(recon, t.clean, n, d);
        const floor = mean(rowMse(t.spectra, t.clean, n, d));
        columns.error_clean = Array.from(mseClean);
        ctx.metric('mse_clean', mean(mseClean));
        ctx.metric('mse_noisy_vs_clean', floor);
        ctx.metric('mse_clean_ratio', floor > 0 ? mean(mseClean) / floor : null);
        ctx.log(`MSE vs clean ${mean(mseClean).toPrecision(4)} (raw input ${floor.toPrecision(4)}, ratio ${(mean(mseClean) / floor).toFixed(3)})`);
      }
      const residual = new Float32Array(n * d);
      for (let i = 0; i < n * d; i++) residual[i] = t.spectra[i]! - recon[i]!;
      const { writeSpectra } = await import('../data/arrow-io.js');
      const meta = { ...t.metadata, 'specflow.model_arch': model.arch };
      const base = { n, d, ids: t.ids, ...(t.labels ? { labels: t.labels } : {}), axis: t.axis, axisUnit: t.axisUnit, axisName: t.axisName };
      await writeSpectra(ctx.output('reconstruction'), { ...base, spectra: recon, ...(t.clean ? { clean: t.clean } : {}), columns, metadata: meta });
      await writeSpectra(ctx.output('residuals'), { ...base, spectra: residual, columns, metadata: meta });
    } finally {
      model.dispose();
    }
  },
};

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
      const input = single(ctx, 'codes');
      const { readLatent, writeSpectra } = await import('../data/arrow-io.js');
      const c = await readLatent(input.path);
      if (c.k !== model.latentDim) throw new StageError(`codes have ${c.k} dimensions but model ${from} has latent_dim ${model.latentDim}`, input.from);
      const x = await model.decode(c.z, c.n);
      const { readModelConfig } = await import('../ml/model-io.js');
      const axis = (await readModelConfig(single(ctx, 'model').path)).axis;
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
