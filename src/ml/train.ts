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
import { MiniBatches, type EpochBatches } from './batches.js';
import { addNoise, type NoiseSpec } from './metrics.js';
import { EVAL_ROWS, type Batch } from './parallel/protocol.js';
import { updateBatchNorm } from './nn.js';
import { GradientSteps } from './gradient-step.js';
import { createAdam } from './optimizer.js';
import { checkEpochLosses, checkWeights } from './divergence.js';
import { forEachBlock, memoryRows, type RowSource } from './rows.js';

/** Validation inputs up to this many floats (64 MB) keep their noise from one epoch to the next. */
const KEEP_VALIDATION_NOISE_FLOATS = 16 * 1024 * 1024;

export interface TrainData {
  n: number;
  d: number;
  /** Network input, n × d row-major (or its rows from elsewhere, e.g. a file: training reads one mini-batch at a time). */
  x: Float32Array | RowSource;
  /** Target (e.g. clean spectra); when absent the target is x (and `denoise` adds noise to the input). */
  y?: Float32Array | RowSource;
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
  /** Within an epoch, every few hundred mini-batches: training rows done so far this epoch. */
  onRows?: (epoch: number, done: number, total: number) => void;
  signal?: AbortSignal;
  /** Data-parallel threads (this one and threads − 1 workers, ./parallel/team.ts); 1, the default, trains
   * in this thread alone. The trained weights depend on the count (each shard is its own batch-norm batch,
   * and the shards' gradients are summed in another order than one batch's). */
  threads?: number;
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
  return fitScalingOf(memoryRows(y, n, d), Array.from({ length: n }, (_, i) => i));
}

/** fitScaling of the rows `idx` of a source, read a block at a time (same sums, same order). */
function fitScalingOf(y: RowSource, idx: ArrayLike<number>): { center: number[]; scale: number } {
  const { d } = y;
  const n = idx.length;
  const center = new Float64Array(d);
  forEachBlock(y, idx, (block, count) => {
    for (let i = 0; i < count; i++) for (let j = 0; j < d; j++) center[j]! += block[i * d + j]!;
  });
  for (let j = 0; j < d; j++) center[j]! /= n;
  let ss = 0;
  forEachBlock(y, idx, (block, count) => {
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < d; j++) {
        const e = block[i * d + j]! - center[j]!;
        ss += e * e;
      }
    }
  });
  let scale = Math.sqrt(ss / (n * d));
  if (!(scale > 1e-12) || !Number.isFinite(scale)) {
    // constant data: fall back to the magnitude of the mean, else 1
    let m = 0;
    for (let j = 0; j < d; j++) m = Math.max(m, Math.abs(center[j]!));
    scale = m > 1e-12 ? m : 1;
  }
  return { center: Array.from(center, (v) => Math.fround(v)), scale };
}

function asRows(m: Float32Array | RowSource, n: number, d: number, what: string): RowSource {
  if (!(m instanceof Float32Array)) {
    if (m.n !== n || m.d !== d) throw new Error(`${what} has ${m.n}×${m.d} values, expected ${n}×${d}`);
    return m;
  }
  if (m.length !== n * d) throw new Error(`${what} has ${m.length} values, expected ${n}×${d}`);
  return memoryRows(m, n, d);
}

function* weightArrays(model: Autoencoder): Generator<[string, ArrayLike<number>]> {
  for (const [name, v] of model.store.vars) yield [name, v.dataSync() as Float32Array];
}

export async function trainAutoencoder(data: TrainData, options: TrainOptions): Promise<TrainResult> {
  const { tf, backend } = await getTf();
  const t0 = performance.now();
  const { n, d } = data;
  const xRows = asRows(data.x, n, d, 'input');
  const yRows = data.y ? asRows(data.y, n, d, 'target') : undefined;
  const seed = options.seed ?? 0;
  const epochs = options.epochs ?? 100;
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 64, n));
  const lossName = options.loss ?? 'mse';
  const patience = options.patience ?? 10;
  const target = yRows ?? xRows;
  const resample = yRows !== undefined && options.denoise !== undefined && options.resampleNoise === true;
  const noisy = (yRows === undefined || resample) && options.denoise !== undefined;

  // validation split
  const perm = new Rng(deriveSeed(seed, 'split')).permutation(n);
  const fraction = options.validation ?? 0.1;
  let nVal = fraction > 0 ? Math.round(fraction * n) : 0;
  if (fraction > 0 && n >= 2) nVal = Math.min(Math.max(nVal, 1), n - 1);
  const valIdx = perm.slice(0, nVal).sort((a, b) => a - b);
  const trainIdx = perm.slice(nVal).sort((a, b) => a - b);
  const nTrain = trainIdx.length;
  if (nTrain === 0) throw new Error('no training spectra');

  // Training rows are read a block or a mini-batch at a time, never copied as a whole.
  const scaling = fitScalingOf(target, trainIdx);
  let stats = { sd: 0, mean: 0 };
  if (noisy) {
    let s = 0;
    let ss = 0;
    forEachBlock(target, trainIdx, (block) => {
      for (const v of block) { s += v; ss += v * v; }
    });
    const m = s / (nTrain * d);
    stats = { mean: m, sd: Math.sqrt(Math.max(ss / (nTrain * d) - m * m, 0)) };
  }
  let noiseSpec = options.denoise;
  if (resample && noiseSpec && noiseSpec.level === undefined) {
    // calibrate the synthetic noise on the real (noisy, clean) pairs
    let sy = 0;
    let se = 0;
    const xBlock = new Float32Array(Math.min(1024, nTrain) * d);
    let at = 0;
    forEachBlock(target, trainIdx, (block, count) => {
      const xs = xBlock.subarray(0, count * d);
      xRows.read(trainIdx.slice(at, at + count), xs);
      at += count;
      for (let i = 0; i < count * d; i++) {
        const e = xs[i]! - block[i]!;
        sy += Math.max(block[i]!, 0);
        se += e * e;
      }
    });
    const level = noiseSpec.noise === 'poisson'
      ? (se > 0 ? (sy / se) * stats.mean : 1)
      : Math.sqrt(se / (nTrain * d)) / Math.max(stats.sd, 1e-12);
    noiseSpec = { ...noiseSpec, level };
  }

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
  const threads = options.threads ?? 1;
  let team: import('./parallel/team.js').TrainingTeam | undefined;
  const steps = new GradientSteps(tf, model);
  const history: EpochInfo[] = [];
  let best = Infinity;
  let bestEpoch = 0;
  let bestWeights: Map<string, Float32Array> | undefined;
  let wait = 0;

  /** The validation rows' noisy inputs, a chunk each: the same draw every epoch, so drawn once when small
   * enough to keep (a denoising epoch otherwise redraws them all, ~45 ns a value for Poisson noise). */
  const keptValInputs = nVal * d <= KEEP_VALIDATION_NOISE_FLOATS ? new Map<number, Float32Array>() : undefined;
  /** Mean loss over some rows (the validation rows by default), with the model in inference mode;
   * the validation input's noise is the same draw every epoch. A training team shares out each chunk's rows. */
  const evaluate = async (idx: ArrayLike<number> & { slice(a: number, b: number): ArrayLike<number> } = valIdx, count = nVal): Promise<number> => {
    const valNoise = yRows === undefined && noisy ? new Rng(deriveSeed(seed, 'val-noise')) : undefined;
    const kept = idx === valIdx ? keptValInputs : undefined;
    let total = 0;
    for (let start = 0; start < count; start += EVAL_ROWS) {
      const b = Math.min(EVAL_ROWS, count - start);
      const rowsB = idx.slice(start, start + b);
      const vy = new Float32Array(b * d);
      target.read(rowsB, vy);
      let vx: Float32Array = vy;
      if (yRows) {
        vx = new Float32Array(b * d);
        xRows.read(rowsB, vx);
      } else if (valNoise) {
        vx = kept?.get(start) ?? addNoise(vy, noiseSpec!, valNoise, stats);
        kept?.set(start, vx);
      }
      if (team) {
        total += await team.lossSum(vx, vy, b);
        continue;
      }
      const l = tf.tidy(() => {
        const xt = tf.tensor2d(vx, [b, d]);
        // an autoencoder's own input as target: one upload (lossT scales it once)
        return model.lossT(xt, vx === vy ? xt : tf.tensor2d(vy, [b, d]), { training: false });
      });
      total += (l.dataSync()[0] as number) * b;
      l.dispose();
    }
    return total / count;
  };

  try {
    if (threads > 1) {
      const { TrainingTeam } = await import('./parallel/team.js');
      team = await TrainingTeam.start({
        tf, backend, model, optimizer, learningRate: options.learningRate ?? 1e-3, threads, maxBatch: batchSize,
        ...(noisy ? { noise: { spec: noiseSpec!, stats } } : {}),
      });
    }
    const batches = new MiniBatches({
      seed, trainIdx, batchSize, target, ...(yRows ? { x: xRows } : {}),
      ...(noisy ? { noise: { spec: noiseSpec!, stats } } : {}), seedsOnly: team !== undefined,
    });
    /** The next epoch's batches and first batch, when prepared during this epoch's last step. */
    let prefetched: { plan: EpochBatches; first: Batch } | undefined;
    let epoch = 0;
    while (epoch < epochs) {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      epoch++;
      const plan = prefetched?.plan ?? batches.epoch(epoch);
      let next = prefetched?.first ?? plan.at(0);
      prefetched = undefined;
      let total = 0;
      for (let start = 0; start < nTrain; start += batchSize) {
        const batch = next;
        const { b } = batch;
        const following = start + batchSize < nTrain ? start + batchSize : undefined;
        if (team) {
          // the next step's batch, handed to the workers as soon as this step is published (within an epoch:
          // the replica check and the validation come between epochs)
          let handOver: Batch | undefined;
          const stepping = team.step(batch, () => handOver);
          stepping.catch(() => undefined); // awaited below; the next batch's preparation may throw first
          // the next batch's rows (and its noise's seeds, in the same order as ever) while the workers
          // compute — after the last step, the next epoch's first batch (the same batch, drawn earlier)
          if (following !== undefined) next = handOver = plan.at(following);
          else if (epoch < epochs) {
            const nextPlan = batches.epoch(epoch + 1);
            prefetched = { plan: nextPlan, first: nextPlan.at(0) };
          }
          total += (await stepping) * b;
          if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
        } else {
          const xArr = batch.x!;
          const xb = tf.tensor2d(xArr, [b, d]);
          // an autoencoder's own input as target: one upload (lossT scales it once)
          const yb = xArr === batch.y ? xb : tf.tensor2d(batch.y, [b, d]);
          // optimizer.minimize's steps, the gradient replayed after two recorded steps of a shape (wasm)
          const { loss, grads, moments } = steps.compute(xb, yb);
          optimizer.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i]! })));
          tf.dispose(grads);
          updateBatchNorm(tf, model.store, { training: true, bnStats: moments });
          total += (loss.dataSync()[0] as number) * b;
          loss.dispose();
          xb.dispose();
          if (yb !== xb) yb.dispose();
          if (following !== undefined) next = plan.at(following);
        }
        if (options.onRows && ((start / batchSize) % 200 === 199)) options.onRows(epoch, start + b, nTrain);
      }
      await team?.checkReplicas();
      const loss = total / nTrain;
      const valLoss = nVal > 0 ? await evaluate() : null;
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
      const final = await evaluate(trainIdx, nTrain);
      checkEpochLosses(history.length, { 'loss after the last update': final }, history[0]!.loss, options.learningRate ?? 1e-3);
    }
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    await team?.close();
    steps.dispose();
    optimizer.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const backendUsed = backendLabel(backend);
  model.config.training = {
    seed, epochs_run: history.length, best_epoch: bestEpoch, backend: backendUsed, denoise: noiseSpec ?? null, resample_noise: resample,
    ...(threads > 1 ? { threads } : {}),
  };
  return { model, history, epochsRun: history.length, bestEpoch, seconds, backend: backendUsed };
}
