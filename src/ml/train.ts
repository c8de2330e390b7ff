/**
 * The autoencoder training loop: seeded initialisation, seeded shuffling and
 * noise, Adam on mini-batches, a validation split with early stopping (best
 * weights restored), per-epoch callbacks. Every tensor it creates is disposed:
 * after `model.dispose()` the tfjs tensor count is what it was before.
 */
import { deriveSeed, Rng } from '../util/random.js';
import {
  Autoencoder, withArchDefaults, type AeArch, type AutoencoderConfig, type Conv1dSizes, type DenseSizes, type LossName,
  type TransformerSizes,
} from './autoencoder.js';
import { backendLabel } from './backend.js';
import { getTf } from './engine.js';
import { addNoise, type NoiseSpec } from './metrics.js';
import { updateBatchNorm, type Pass } from './nn.js';
import { createAdam } from './optimizer.js';
import { checkEpochLosses, checkWeights } from './divergence.js';

export interface TrainData {
  n: number;
  d: number;
  /** Network input, n × d row-major. */
  x: Float32Array;
  /** Target (e.g. clean spectra); when absent the target is x (and `denoise` adds noise to the input). */
  y?: Float32Array;
}

export interface EpochInfo {
  epoch: number;
  epochs: number;
  loss: number;
  val_loss: number | null;
}

export interface TrainOptions {
  arch: AeArch;
  latentDim: number;
  loss?: LossName;
  dense?: Partial<DenseSizes>;
  conv1d?: Partial<Conv1dSizes>;
  transformer?: Partial<TransformerSizes>;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Fraction held out for validation and early stopping; 0 disables both. */
  validation?: number;
  patience?: number;
  /** Noisy input, clean target. When `data.y` is given the input is already noisy: x is used as is,
   * unless `resampleNoise`. */
  denoise?: NoiseSpec;
  /** With `data.y` and `denoise`: draw fresh noise from y every epoch instead of using x, at the level
   * of the pair (x, y) (Poisson: counts per unit Σy / Σ(x − y)²; gaussian: sd of x − y) unless
   * `denoise.level` is set. Validation still uses the real x. */
  resampleNoise?: boolean;
  seed?: number;
  axis?: AutoencoderConfig['axis'];
  onEpoch?: (info: EpochInfo) => void;
  signal?: AbortSignal;
}

export interface TrainResult {
  model: Autoencoder;
  history: EpochInfo[];
  epochsRun: number;
  /** Epoch whose weights were kept (the best validation loss, or the last epoch). */
  bestEpoch: number;
  seconds: number;
  backend: string;
}

/** Per-channel mean and global scale of an n × d matrix. */
export function fitScaling(y: Float32Array, n: number, d: number): { center: number[]; scale: number } {
  const center = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) center[j]! += y[i * d + j]!;
  for (let j = 0; j < d; j++) center[j]! /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const e = y[i * d + j]! - center[j]!;
      ss += e * e;
    }
  }
  let scale = Math.sqrt(ss / (n * d));
  if (!(scale > 1e-12) || !Number.isFinite(scale)) {
    // constant data: fall back to the magnitude of the mean, else 1
    let m = 0;
    for (let j = 0; j < d; j++) m = Math.max(m, Math.abs(center[j]!));
    scale = m > 1e-12 ? m : 1;
  }
  return { center: Array.from(center, (v) => Math.fround(v)), scale };
}

function rows(src: Float32Array, idx: ArrayLike<number>, d: number): Float32Array {
  const out = new Float32Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) out.set(src.subarray(idx[i]! * d, (idx[i]! + 1) * d), i * d);
  return out;
}

function* weightArrays(model: Autoencoder): Generator<[string, ArrayLike<number>]> {
  for (const [name, v] of model.store.vars) yield [name, v.dataSync() as Float32Array];
}

export async function trainAutoencoder(data: TrainData, options: TrainOptions): Promise<TrainResult> {
  const { tf, backend } = await getTf();
  const t0 = performance.now();
  const { n, d } = data;
  if (data.x.length !== n * d) throw new Error(`input has ${data.x.length} values, expected ${n}×${d}`);
  if (data.y && data.y.length !== n * d) throw new Error(`target has ${data.y.length} values, expected ${n}×${d}`);
  const seed = options.seed ?? 0;
  const epochs = options.epochs ?? 100;
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 64, n));
  const lossName = options.loss ?? 'mse';
  const patience = options.patience ?? 10;
  const target = data.y ?? data.x;
  const resample = data.y !== undefined && options.denoise !== undefined && options.resampleNoise === true;
  const noisy = (data.y === undefined || resample) && options.denoise !== undefined;

  // validation split
  const perm = new Rng(deriveSeed(seed, 'split')).permutation(n);
  const fraction = options.validation ?? 0.1;
  let nVal = fraction > 0 ? Math.round(fraction * n) : 0;
  if (fraction > 0 && n >= 2) nVal = Math.min(Math.max(nVal, 1), n - 1);
  const valIdx = perm.slice(0, nVal).sort((a, b) => a - b);
  const trainIdx = perm.slice(nVal).sort((a, b) => a - b);
  const nTrain = trainIdx.length;
  if (nTrain === 0) throw new Error('no training spectra');

  const trainY = rows(target, trainIdx, d);
  const trainX = data.y ? rows(data.x, trainIdx, d) : trainY;
  const scaling = fitScaling(trainY, nTrain, d);
  let stats = { sd: 0, mean: 0 };
  if (noisy) {
    let s = 0;
    let ss = 0;
    for (const v of trainY) { s += v; ss += v * v; }
    const m = s / trainY.length;
    stats = { mean: m, sd: Math.sqrt(Math.max(ss / trainY.length - m * m, 0)) };
  }
  let noiseSpec = options.denoise;
  if (resample && noiseSpec && noiseSpec.level === undefined) {
    // calibrate the synthetic noise on the real (noisy, clean) pairs
    let sy = 0;
    let se = 0;
    for (let i = 0; i < trainY.length; i++) {
      const e = trainX[i]! - trainY[i]!;
      sy += Math.max(trainY[i]!, 0);
      se += e * e;
    }
    const level = noiseSpec.noise === 'poisson'
      ? (se > 0 ? (sy / se) * stats.mean : 1)
      : Math.sqrt(se / trainY.length) / Math.max(stats.sd, 1e-12);
    noiseSpec = { ...noiseSpec, level };
  }
  const valY = rows(target, valIdx, d);
  const valX = data.y ? rows(data.x, valIdx, d)
    : noisy ? addNoise(valY, noiseSpec!, new Rng(deriveSeed(seed, 'val-noise')), stats) : valY;

  const config = withArchDefaults({
    format: 'specflow-model',
    version: 1,
    arch: options.arch,
    inputDim: d,
    latentDim: options.latentDim,
    loss: lossName,
    scaling,
    ...(options.arch === 'dense' ? { dense: options.dense as DenseSizes } : {}),
    ...(options.arch === 'conv1d' ? { conv1d: options.conv1d as Conv1dSizes } : {}),
    ...(options.arch === 'transformer' ? { transformer: options.transformer as TransformerSizes } : {}),
    ...(options.axis ? { axis: options.axis } : {}),
  });
  const model = new Autoencoder(tf, config, deriveSeed(seed, 'weights'));
  const optimizer = createAdam(tf, options.learningRate ?? 1e-3);
  const vars = model.store.trainable();
  const history: EpochInfo[] = [];
  let best = Infinity;
  let bestEpoch = 0;
  let bestWeights: Map<string, Float32Array> | undefined;
  let wait = 0;

  const evaluate = (x: Float32Array, y: Float32Array, m: number): number => {
    let total = 0;
    for (let start = 0; start < m; start += 256) {
      const b = Math.min(256, m - start);
      const l = tf.tidy(() => model.lossT(
        tf.tensor2d(x.subarray(start * d, (start + b) * d), [b, d]),
        tf.tensor2d(y.subarray(start * d, (start + b) * d), [b, d]),
        { training: false },
      ));
      total += (l.dataSync()[0] as number) * b;
      l.dispose();
    }
    return total / m;
  };

  try {
    let epoch = 0;
    while (epoch < epochs) {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      epoch++;
      const inputs = noisy ? addNoise(trainY, noiseSpec!, new Rng(deriveSeed(seed, 'noise', epoch)), stats) : trainX;
      const order = new Rng(deriveSeed(seed, 'shuffle', epoch)).permutation(nTrain);
      let total = 0;
      for (let start = 0; start < nTrain; start += batchSize) {
        const idx = order.slice(start, start + batchSize);
        const b = idx.length;
        const xb = tf.tensor2d(rows(inputs, idx, d), [b, d]);
        const yb = tf.tensor2d(rows(trainY, idx, d), [b, d]);
        const pass: Pass = { training: true, bnStats: new Map() };
        const cost = optimizer.minimize(() => model.lossT(xb, yb, pass) as import('@tensorflow/tfjs').Scalar, true, vars);
        updateBatchNorm(tf, model.store, pass);
        total += (cost!.dataSync()[0] as number) * b;
        cost!.dispose();
        xb.dispose();
        yb.dispose();
      }
      const loss = total / nTrain;
      const valLoss = nVal > 0 ? evaluate(valX, valY, nVal) : null;
      checkEpochLosses(epoch, { loss, val_loss: valLoss }, history[0]?.loss, options.learningRate ?? 1e-3);
      checkWeights(epoch, weightArrays(model), options.learningRate ?? 1e-3);
      const info: EpochInfo = { epoch, epochs, loss, val_loss: valLoss };
      history.push(info);
      options.onEpoch?.(info);
      if (valLoss !== null) {
        if (valLoss < best) {
          best = valLoss;
          bestEpoch = epoch;
          bestWeights = model.store.snapshot();
          wait = 0;
        } else if (++wait >= patience) {
          break;
        }
      } else {
        bestEpoch = epoch;
      }
      // let I/O (progress output, abort signals) through between epochs
      await new Promise((r) => setImmediate(r));
    }
    if (bestWeights && bestEpoch !== history.length) model.store.restore(bestWeights);
    else if (nVal === 0 && history.length > 0) {
      // the last update is in no epoch's loss: check the weights as they will be published
      const final = evaluate(trainX, trainY, nTrain);
      checkEpochLosses(history.length, { 'loss after the last update': final }, history[0]!.loss, options.learningRate ?? 1e-3);
    }
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    optimizer.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const backendUsed = backendLabel(backend);
  model.config.training = { seed, epochs_run: history.length, best_epoch: bestEpoch, backend: backendUsed, denoise: noiseSpec ?? null, resample_noise: resample };
  return { model, history, epochsRun: history.length, bestEpoch, seconds, backend: backendUsed };
}
