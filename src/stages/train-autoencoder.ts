/**
 * `train.autoencoder`: fit a dense, Conv-1D or Transformer autoencoder (or PCA) on a spectra table.
 * Heavy modules (tfjs, ml-pca, apache-arrow) are imported inside run().
 */
import { StageError, type JsonSchema, type StageContext, type StageDef } from '../core/stage-api.js';
import {
  autoThreads, MAX_THREADS, MIN_ROWS_PER_THREAD_BY_ARCH, MAX_AUTO_THREADS, minRowsPerThread, resolveThreads, type ThreadsRequest,
} from '../ml/parallel/threads.js';
import { KIND } from './kinds.js';
import { latentWithinChannels, readTrainingSpectra, runPca } from './train-pca.js';

const ML_PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'ml-pca', 'ml-matrix', 'apache-arrow'];

const latentDim = { type: 'integer', minimum: 1, default: 8, description: 'Size of the latent code k (number of PCA components for arch pca).' };

const intList = (def: number[], description: string): JsonSchema => ({
  type: 'array', items: { type: 'integer', minimum: 1 }, default: def, description,
});

export const trainAutoencoderParams: JsonSchema = {
  type: 'object',
  properties: {
    arch: { enum: ['dense', 'conv1d', 'transformer', 'pca'], default: 'dense', description: 'Architecture; pca trains exactly what train.pca does (the linear baseline).' },
    latent_dim: latentDim,
    hidden: intList([256, 64], 'dense: encoder hidden layer sizes, mirrored by the decoder.'),
    activation: { enum: ['relu', 'leaky_relu', 'tanh', 'gelu'], default: 'relu', description: 'dense: hidden-layer activation.' },
    filters: intList([16, 32, 64], 'conv1d: filters per Conv-1D block (each block downsamples by 2; the decoder mirrors it).'),
    kernels: intList([15, 11, 7], 'conv1d: kernel size per block (one per entry of filters).'),
    norm: { enum: ['batch', 'none'], default: 'batch', description: 'conv1d: normalisation after each convolution.' },
    patch: { type: 'integer', minimum: 1, default: 16, description: 'transformer: channels per patch (token); the spectrum is zero-padded to a multiple.' },
    d_model: { type: 'integer', minimum: 2, default: 64, description: 'transformer: token embedding width.' },
    heads: { type: 'integer', minimum: 1, default: 4, description: 'transformer: attention heads (must divide d_model).' },
    layers: { type: 'integer', minimum: 1, default: 2, description: 'transformer: pre-norm encoder blocks in the encoder and in the decoder.' },
    mlp: { type: 'integer', minimum: 1, default: 128, description: 'transformer: hidden width of each block\'s MLP.' },
    pool: { enum: ['mean', 'flatten'], default: 'flatten', description: 'transformer: token features → latent by flattening all tokens (default; on synthetic EELS it reconstructs held-out spectra ~40 % better) or by mean pooling over tokens.' },
    epochs: { type: 'integer', minimum: 1, default: 100, description: 'Maximum number of epochs.' },
    batch_size: { type: 'integer', minimum: 1, default: 64, description: 'Mini-batch size.' },
    learning_rate: { type: 'number', exclusiveMinimum: 0, default: 0.001, description: 'Adam learning rate.' },
    loss: { enum: ['mse', 'poisson'], default: 'mse', description: 'mse (linear output) or poisson (negative log-likelihood on a positive softplus output; for counts).' },
    denoise: {
      type: 'object',
      additionalProperties: false,
      required: ['noise'],
      properties: {
        noise: { enum: ['gaussian', 'poisson'], description: 'Noise added to the input (the target stays clean).' },
        level: { type: 'number', exclusiveMinimum: 0, description: 'gaussian: noise sd as a fraction of the data sd (default 0.1); poisson: mean counts per channel of the simulated dose (default: the values are counts).' },
        resample: { type: 'boolean', default: false, description: 'With a `clean` column: instead of `spectrum`, use fresh noise drawn from `clean` every epoch as the input (level calibrated on spectrum − clean unless `level` is given); validation still uses `spectrum`. Generalises better to new spectra.' },
      },
      description: 'Denoising: noisy input, clean target, fresh noise every epoch. When the table has a `clean` column, the input is `spectrum` as is and the target is `clean`.',
    },
    threads: {
      anyOf: [{ type: 'integer', minimum: 1, maximum: MAX_THREADS }, { enum: ['auto'] }],
      default: 'auto',
      description: `Threads training one model: each mini-batch is split between them and their gradients summed in a fixed order, so the weights are reproducible for a given count (the count enters the key). auto: SPECFLOW_THREADS if set, else the machine's cores (at most ${MAX_AUTO_THREADS}) with at least ${Object.entries(MIN_ROWS_PER_THREAD_BY_ARCH).map(([arch, rows]) => `${rows} (${arch})`).join(', ')} rows of a batch each; always 1 on tfjs-node. Takes as many --jobs slots.`,
    },
    validation: { type: 'number', minimum: 0, maximum: 0.9, default: 0.1, description: 'Fraction held out for validation and early stopping; 0 disables both.' },
    patience: { type: 'integer', minimum: 1, default: 10, description: 'Early stopping: epochs without a better validation loss before stopping (best weights are restored).' },
  },
};

interface AeParams {
  arch: 'dense' | 'conv1d' | 'transformer' | 'pca';
  latent_dim: number;
  hidden: number[];
  activation: 'relu' | 'leaky_relu' | 'tanh' | 'gelu';
  filters: number[];
  kernels: number[];
  norm: 'batch' | 'none';
  patch: number;
  d_model: number;
  heads: number;
  layers: number;
  mlp: number;
  pool: 'mean' | 'flatten';
  epochs: number;
  batch_size: number;
  learning_rate: number;
  loss: 'mse' | 'poisson';
  denoise?: { noise: 'gaussian' | 'poisson'; level?: number; resample: boolean };
  validation: number;
  patience: number;
  /** A count once the plan has settled it (see settle). */
  threads: ThreadsRequest;
  /** Set by settle when `threads` came from `auto` sizing it by the batch: the run sizes it again by
   * the batch it really gets (a batch_size above the training rows is cut to them). */
  threads_by_batch?: true;
}

async function writeHistory(path: string, rows: { epoch: number; loss: number; val_loss: number | null }[]): Promise<void> {
  const { writeRecords, META } = await import('../data/arrow-io.js');
  await writeRecords(path, rows, { [META.kind]: 'history' }, {
    columns: ['epoch', 'loss', 'val_loss'],
    types: { epoch: 'int32', loss: 'float64', val_loss: 'float64' },
  });
}

type TrainingTable = Pick<import('../data/arrow-io.js').SpectraTable, 'ids' | 'spectra' | 'clean' | 'd'>;

/** The checks of every training row: finite values, and non-negative counts where a Poisson model needs them. */
function checkTrainingRows(t: TrainingTable, p: AeParams, hasClean: boolean, from: string): void {
  for (const [name, values] of [['spectrum', t.spectra], ['clean', t.clean]] as const) {
    if (!values) continue;
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new StageError(`non-finite value in column "${name}" (spectrum ${t.ids[Math.floor(bad / t.d)]}, channel ${bad % t.d})`, from);
  }
  const useClean = p.denoise !== undefined && hasClean;
  const target = useClean ? t.clean! : t.spectra;
  if (p.loss === 'poisson') {
    const neg = target.findIndex((v) => v < 0);
    if (neg >= 0) {
      throw new StageError(`loss: poisson needs non-negative counts, but ${useClean ? 'clean' : 'spectrum'} of ${t.ids[Math.floor(neg / t.d)]} has ${target[neg]} at channel ${neg % t.d}`, from);
    }
  }
  if (p.denoise?.noise === 'poisson' && !useClean) {
    const neg = t.spectra.findIndex((v) => v < 0);
    if (neg >= 0) throw new StageError(`denoise: poisson needs non-negative spectra, but ${t.ids[Math.floor(neg / t.d)]} has ${t.spectra[neg]} at channel ${neg % t.d}`, from);
    // without a level the values are taken as counts: Poisson noise on area- or vector-normalised
    // values (≈ 1 or far below) is pure noise, or zeros, not a picture of the detector's noise
    const frac = p.denoise.level === undefined ? t.spectra.findIndex((v) => v !== Math.round(v)) : -1;
    if (frac >= 0) {
      throw new StageError(`noise: poisson without a level takes the values as counts, but spectrum ${t.ids[Math.floor(frac / t.d)]} has ${Number(t.spectra[frac]!.toPrecision(6))} at channel ${frac % t.d}, not a count (normalised data?); set denoise.level to the mean counts per channel of the dose to simulate (e.g. level: 50), or use noise: gaussian`, 'with.denoise.level');
    }
  }
}

/** Index of the first row of `values` (n × d) that differs from `first`, or -1. */
function firstDifferentRow(values: Float32Array, d: number, first: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (values[i] !== first[i % d]) return Math.floor(i / d);
  return -1;
}

/**
 * The training rows: in memory for small tables; for large ones (see shouldStream) read
 * from the artifact by file offset one mini-batch at a time, after one streamed pass of checks.
 */
async function trainingData(ctx: StageContext, p: AeParams) {
  const input = ctx.inputs.spectra;
  if (!input || Array.isArray(input)) throw new StageError('needs one spectra table on port "spectra"');
  const { RowFile, shouldStream } = await import('../data/arrow-batches.js');
  const probe = await RowFile.open(input.path, ['spectrum']).catch(() => undefined);
  probe?.close();
  if (!probe || !shouldStream(probe.n, probe.d)) {
    const { t, from } = await readTrainingSpectra(ctx);
    checkTrainingRows(t, p, t.clean !== undefined, from);
    const useClean = p.denoise !== undefined && t.clean !== undefined;
    const target = useClean ? t.clean! : t.spectra;
    if (firstDifferentRow(target, t.d, target.slice(0, t.d)) < 0) throw identicalTargets(t.n, useClean, from);
    const data = useClean ? { n: t.n, d: t.d, x: t.spectra, y: t.clean! } : { n: t.n, d: t.d, x: t.spectra };
    return { t, from, data: data as typeof data & { close?: () => void } };
  }
  const { readSpectraBatches } = await import('../data/arrow-io.js');
  let head: import('../data/arrow-io.js').SpectraTable | undefined;
  let varies = false;
  for await (const { t } of readSpectraBatches(input.path)) {
    head ??= t;
    checkTrainingRows(t, p, t.clean !== undefined, input.from);
    const target = p.denoise !== undefined && t.clean ? [t.clean, head.clean!] : [t.spectra, head.spectra];
    varies ||= firstDifferentRow(target[0]!, t.d, target[1]!.subarray(0, t.d)) >= 0;
  }
  if (!head || probe.n < 2) throw new StageError(`needs at least 2 spectra to train, got ${probe.n}`, input.from);
  const hasClean = head.clean !== undefined;
  const useClean = p.denoise !== undefined && hasClean;
  if (!varies) throw identicalTargets(probe.n, useClean, input.from);
  const file = (await RowFile.open(input.path, useClean ? ['spectrum', 'clean'] : ['spectrum']))!;
  const column = (c: number) => ({ n: file.n, d: file.d, read: (rows: ArrayLike<number>, out: Float32Array) => file.read(c, rows, out) });
  ctx.log(`streaming ${file.n} training spectra from the artifact (rows read by offset, one mini-batch at a time)`);
  const t = { n: file.n, d: file.d, axis: head.axis, axisUnit: head.axisUnit, axisName: head.axisName, clean: head.clean, ids: [] as string[] };
  const data = { n: file.n, d: file.d, x: column(0), ...(useClean ? { y: column(1) } : {}), close: () => file.close() };
  return { t, from: input.from, data };
}

/** Every training target the same spectrum: the fit is that spectrum, with loss 0, and every code alike. */
function identicalTargets(n: number, clean: boolean, from: string): StageError {
  return new StageError(`all ${n} training spectra${clean ? ' (column "clean", the target)' : ''} are identical: an autoencoder has nothing to learn from them (it would reproduce that one spectrum with loss 0, and every code would be the same); check the steps before (a preprocessing step that flattens them?)`, from);
}

export const trainAutoencoder: StageDef = {
  type: 'train.autoencoder',
  description: 'Train a dense, Conv-1D or Transformer autoencoder (or PCA) on spectra, optionally as a denoiser; outputs the model and its training history.',
  inputs: { spectra: { kind: KIND.spectra, description: 'Training spectra (with an optional `clean` target column).' } },
  outputs: {
    model: { kind: KIND.autoencoder, description: 'Model directory (config.json + weights.bin).' },
    history: { kind: KIND.history, description: 'Per-epoch loss and val_loss (scaled units; empty for pca).' },
  },
  metrics: {
    loss: { better: 'lower', description: 'training loss at the best epoch' },
    val_loss: { better: 'lower', description: 'validation loss at the best epoch' },
    final_loss: { better: 'lower', description: 'training loss at the last epoch' },
    epochs_run: { description: 'epochs trained before early stopping' },
    best_epoch: { description: 'epoch whose weights were kept' },
  },
  params: trainAutoencoderParams,
  cpu: true,
  settle(params) {
    const p = params as unknown as AeParams;
    // pca runs on one thread whatever the machine: its key must not depend on it
    if (p.arch === 'pca') return { ...params, threads: 1 };
    const threads = resolveThreads(p.threads, p.batch_size, process.env, undefined, minRowsPerThread(p.arch));
    // does this count depend on the batch (auto sized it, not SPECFLOW_THREADS or tfjs-node)? The run
    // then sizes it again by the batch it really gets: a batch_size above the data is cut to it
    const byBatch = p.threads === 'auto' && resolveThreads('auto', 1, process.env, undefined, 1) !== resolveThreads('auto', 2 ** 30, process.env, undefined, 1);
    return { ...params, threads, ...(byBatch ? { threads_by_batch: true } : {}) };
  },
  cores: (params) => (typeof params.threads === 'number' ? params.threads : 1),
  packages: ML_PACKAGES,
  module: import.meta.url,
  check(params, inputs) {
    const p = params as unknown as AeParams;
    if (p.arch === 'pca') return latentWithinChannels(params, inputs);
    if (p.arch === 'conv1d' && p.filters.length !== p.kernels.length) {
      return [{ path: ['kernels'], message: `conv1d: ${p.filters.length} filters but ${p.kernels.length} kernels; give one kernel size per entry of filters` }];
    }
    if (p.arch === 'transformer' && p.d_model % p.heads !== 0) {
      return [{ path: ['heads'], message: `transformer: heads (${p.heads}) must divide d_model (${p.d_model})` }];
    }
    return [];
  },
  async run(ctx) {
    const p = ctx.params as unknown as AeParams;
    if (p.arch === 'pca') {
      await runPca(ctx, p.latent_dim, 'model');
      await writeHistory(ctx.output('history'), []);
      ctx.metric('epochs_run', 0);
      ctx.metric('backend', 'js');
      return;
    }
    if (p.arch === 'conv1d' && p.filters.length !== p.kernels.length) {
      throw new StageError(`conv1d: ${p.filters.length} filters but ${p.kernels.length} kernels; give one kernel size per entry of filters`);
    }
    if (p.arch === 'transformer' && p.d_model % p.heads !== 0) {
      throw new StageError(`transformer: d_model ${p.d_model} is not divisible by heads ${p.heads}`);
    }
    const { t, from, data } = await trainingData(ctx, p);
    const useClean = p.denoise !== undefined && t.clean !== undefined;
    // the split of src/ml/train.ts (at least 1, at most n − 1 validation rows): one training row
    // is centred to zeros, so the fit is the mean spectrum with loss 0
    const nVal = p.validation > 0 ? Math.min(Math.max(Math.round(p.validation * data.n), 1), data.n - 1) : 0;
    if (data.n - nVal < 2) {
      data.close?.();
      throw new StageError(`${p.validation} of ${data.n} spectra leaves ${data.n - nVal} to train on; lower validation (or set it to 0) so that at least 2 remain`, 'with.validation');
    }
    if (p.denoise?.resample && t.clean === undefined) {
      data.close?.();
      throw new StageError(`needs a \`clean\` column, which ${from} has not; drop resample (noise is then added to \`spectrum\` every epoch) or give the table a \`clean\` column`, 'with.denoise.resample');
    }
    if (useClean) ctx.log(`denoising: target = clean column, input = ${p.denoise!.resample ? 'fresh noise on clean each epoch' : 'spectrum'}`);
    else if (p.denoise) ctx.log(`denoising: ${p.denoise.noise} noise${p.denoise.level !== undefined ? ` (level ${p.denoise.level})` : ''} added to the input each epoch`);

    // train.ts cuts a batch larger than the training rows to them: one batch an epoch (full-batch Adam)
    const rows = data.n - nVal;
    const batch = Math.min(p.batch_size, rows);
    if (batch < p.batch_size) ctx.log(`batch_size ${p.batch_size} is more than the ${rows} training spectra${nVal ? ` (${data.n} less ${nVal} for validation)` : ''}: each epoch is one batch of ${rows}`);
    if (p.latent_dim >= t.d) {
      ctx.log(`latent_dim ${p.latent_dim} is not below the ${t.d} input channels: the bottleneck does not compress, so the codes need not summarise the spectra (try a smaller latent_dim)`);
    }
    // settled by the plan; a stage run without one (unit tests) trains on one thread
    let threads = typeof p.threads === 'number' ? p.threads : 1;
    if (p.threads_by_batch && threads > 1) {
      const fit = autoThreads(batch, threads, minRowsPerThread(p.arch));
      if (fit < threads) ctx.log(`threads: auto chose ${threads} for batch_size ${p.batch_size}; the batch of ${batch} trains on ${fit}`);
      threads = fit;
    }
    const { trainAutoencoder: train } = await import('../ml/train.js');
    const { RateMeter } = await import('../util/progress.js');
    // a meter per epoch, started when the previous epoch ends (rows restart at 0 each epoch)
    const meters = new Map([[1, new RateMeter()]]);
    const epochMeter = (epoch: number): InstanceType<typeof RateMeter> => {
      if (!meters.has(epoch)) meters.set(epoch, new RateMeter());
      return meters.get(epoch)!;
    };
    const { saveModel } = await import('../ml/model-io.js');
    let result;
    try {
      result = await train(data, {
        arch: p.arch,
        latentDim: p.latent_dim,
        loss: p.loss,
        dense: { hidden: p.hidden, activation: p.activation },
        conv1d: { filters: p.filters, kernels: p.kernels, norm: p.norm },
        transformer: { patch: p.patch, d_model: p.d_model, heads: p.heads, layers: p.layers, mlp: p.mlp, pool: p.pool },
        epochs: p.epochs,
        batchSize: p.batch_size,
        learningRate: p.learning_rate,
        validation: p.validation,
        patience: p.patience,
        ...(p.denoise ? { denoise: { noise: p.denoise.noise, ...(p.denoise.level !== undefined ? { level: p.denoise.level } : {}) } } : {}),
        resampleNoise: useClean && p.denoise?.resample === true,
        seed: ctx.seed,
        threads,
        axis: { values: Array.from(t.axis), unit: t.axisUnit, name: t.axisName },
        signal: ctx.signal,
        onEpoch: (e) => {
          meters.set(e.epoch + 1, new RateMeter());
          ctx.progress({
            epoch: e.epoch, epochs: e.epochs, loss: e.loss, ...(e.val_loss !== null ? { val_loss: e.val_loss } : {}),
            fraction: e.epoch / e.epochs,
          });
        },
        onRows: (epoch, done, total) => ctx.progress({
          fraction: (epoch - 1 + done / total) / p.epochs, message: epochMeter(epoch).message(`epoch ${epoch}/${p.epochs}`, done, total, (p.epochs - epoch) * total),
        }),
      });
    } catch (e) {
      const { isTrainingDiverged } = await import('../ml/divergence.js');
      const { isTrainingThreadError } = await import('../ml/parallel/team.js');
      if (isTrainingDiverged(e) || isTrainingThreadError(e)) throw new StageError((e as Error).message);
      throw e;
    } finally {
      data.close?.();
    }
    const { stuckLossMessage } = await import('../ml/divergence.js');
    const stuck = stuckLossMessage(result.history.map((e) => e.loss), p.learning_rate);
    if (stuck) {
      result.model.dispose();
      throw new StageError(stuck, 'with.learning_rate');
    }
    try {
      result.model.config.training = { ...result.model.config.training, target: useClean ? 'clean' : 'spectrum' };
      await saveModel(result.model, ctx.output('model'));
    } finally {
      result.model.dispose();
    }
    await writeHistory(ctx.output('history'), result.history);
    const last = result.history[result.history.length - 1]!;
    const best = result.history[result.bestEpoch - 1] ?? last;
    ctx.metric('loss', best.loss);
    ctx.metric('val_loss', best.val_loss);
    ctx.metric('final_loss', last.loss);
    ctx.metric('epochs_run', result.epochsRun);
    ctx.metric('best_epoch', result.bestEpoch);
    ctx.metric('seconds', result.seconds);
    ctx.metric('backend', result.backend);
    ctx.log(`${p.arch} AE k=${p.latent_dim}: ${result.epochsRun} epochs in ${result.seconds.toFixed(1)} s on ${result.backend}${threads > 1 ? ` × ${threads} threads` : ''}; loss ${best.loss.toPrecision(4)}${best.val_loss !== null ? `, val_loss ${best.val_loss.toPrecision(4)}` : ''} (epoch ${result.bestEpoch})`);
  },
};
