/**
 * Training of a spectral network: a plain custom loop with seeded shuffling and
 * the L2 penalty of the spectral first layer added to the data loss. Each step runs
 * the forward and an explicit backward pass on the tfjs backend (./step.ts: few
 * kernels, all released in one tidy) and the Adam update in JS on the parameter
 * arrays; the trained parameters become the SpectralNet's variables at the end.
 */
import { deriveSeed, Rng } from '../../util/random.js';
import { JsAdam, lossAndGrads } from './step.js';
import { checkEpochLosses, checkWeights } from '../divergence.js';
import { initialValues, paramNames, parameterShapes, prepareInputs, SpectralNet, type SpectralConfig, type SpectralLoss, type SpectralTask, type TF } from './model.js';

export interface SpectralTrainOptions {
  task: SpectralTask;
  /** Hidden layer widths; the first one is the spectral layer's output. Default [100, 100, 50]. */
  hidden?: number[];
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  lambdaL2?: number;
  phiL2?: number;
  /** Regression loss (classification always uses softmax cross-entropy). Default 'mae'. */
  loss?: 'mae' | 'mse';
  /** Z-score the inputs with the training statistics (stored in the model). Default false. */
  standardize?: boolean;
  seed: number;
  /** Class names in output order (classify); default: the sorted distinct labels. */
  classes?: string[];
  featureNames?: string[];
  axis?: number[];
  axisUnit?: string;
  axisName?: string;
  target?: string;
  /** Called after every epoch with the mean training loss (data loss + penalty). */
  onEpoch?: (epoch: number, loss: number) => void;
  signal?: AbortSignal;
  /** Recorded in the model config. */
  extra?: Record<string, unknown>;
}

export interface SpectralTrainData {
  /** n × d row-major raw inputs. */
  x: Float32Array;
  n: number;
  d: number;
  /** Class label of each row (classify). */
  labels?: (string | null)[];
  /** Target value of each row (regress). */
  y?: ArrayLike<number>;
}

export interface SpectralTrainResult {
  net: SpectralNet;
  /** Mean training loss per epoch. */
  history: number[];
  seconds: number;
}

export const SPECTRAL_DEFAULTS = {
  hidden: [100, 100, 50],
  epochs: 100,
  batchSize: 32,
  learningRate: 1e-3,
  lambdaL2: 1e-2,
  phiL2: 1e-4,
} as const;

/** Sorted distinct labels; numeric-looking labels sort numerically. */
export function distinctClasses(labels: (string | null)[]): string[] {
  const set = new Set<string>();
  for (const l of labels) if (l !== null) set.add(l);
  return [...set].sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    return Number.isFinite(na) && Number.isFinite(nb) && a.trim() !== '' && b.trim() !== '' ? na - nb : a < b ? -1 : a > b ? 1 : 0;
  });
}

function columnStats(x: Float32Array, n: number, d: number): { mean: number[]; scale: number[] } {
  const mean = new Array<number>(d).fill(0);
  const scale = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) scale[j]! += (x[i * d + j]! - mean[j]!) ** 2;
  for (let j = 0; j < d; j++) {
    const sd = Math.sqrt(scale[j]! / Math.max(1, n - 1));
    scale[j] = sd > 1e-12 ? sd : 1;
  }
  return { mean, scale };
}

export async function trainSpectral(tf: TF, data: SpectralTrainData, o: SpectralTrainOptions): Promise<SpectralTrainResult> {
  const { n, d } = data;
  if (n === 0) throw new Error('spectral training: no training rows');
  if (data.x.length !== n * d) throw new Error(`spectral training: x has ${data.x.length} values, expected ${n}×${d}`);
  const hidden = o.hidden ?? [...SPECTRAL_DEFAULTS.hidden];
  if (hidden.length === 0 || hidden.some((h) => !Number.isInteger(h) || h < 1)) throw new Error('spectral training: hidden must list at least one positive width');
  const epochs = o.epochs ?? SPECTRAL_DEFAULTS.epochs;
  const batchSize = Math.max(1, Math.min(o.batchSize ?? SPECTRAL_DEFAULTS.batchSize, n));
  const learningRate = o.learningRate ?? SPECTRAL_DEFAULTS.learningRate;

  // targets
  let classes: string[] = [];
  let classIndex: Int32Array | undefined;
  let yStd: Float32Array | undefined;
  let targetMean = 0;
  let targetScale = 1;
  if (o.task === 'classify') {
    if (!data.labels) throw new Error('spectral training: classification needs labels');
    classes = o.classes ?? distinctClasses(data.labels);
    if (classes.length < 2) throw new Error(`spectral training: classification needs at least 2 classes, found ${classes.length}`);
    const index = new Map(classes.map((c, i) => [c, i]));
    classIndex = new Int32Array(n);
    data.labels.forEach((l, i) => {
      const k = l === null ? undefined : index.get(l);
      if (k === undefined) throw new Error(`spectral training: row ${i + 1} has label ${JSON.stringify(l)}, not one of the classes`);
      classIndex![i] = k;
    });
  } else {
    if (!data.y) throw new Error('spectral training: regression needs target values');
    let s = 0;
    for (let i = 0; i < n; i++) s += data.y[i]!;
    targetMean = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (data.y[i]! - targetMean) ** 2;
    const sd = Math.sqrt(v / Math.max(1, n - 1));
    targetScale = sd > 1e-12 ? sd : 1;
    yStd = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const yi = data.y[i]!;
      if (!Number.isFinite(yi)) throw new Error(`spectral training: row ${i + 1} has a missing or non-numeric target`);
      yStd[i] = (yi - targetMean) / targetScale;
    }
  }
  const loss: SpectralLoss = o.task === 'classify' ? 'cross_entropy' : (o.loss ?? 'mae');
  const stats = o.standardize ? columnStats(data.x, n, d) : undefined;
  const config: SpectralConfig = {
    format: 'specflow.spectral',
    version: 1,
    task: o.task,
    loss,
    inputDim: d,
    hidden,
    activation: 'relu',
    outputDim: o.task === 'classify' ? classes.length : 1,
    classes,
    lambdaL2: o.lambdaL2 ?? SPECTRAL_DEFAULTS.lambdaL2,
    phiL2: o.phiL2 ?? SPECTRAL_DEFAULTS.phiL2,
    targetMean,
    targetScale,
    featureNames: o.featureNames ?? Array.from({ length: d }, (_, j) => String(j)),
    seed: o.seed,
    training: { epochs, batch_size: batchSize, learning_rate: learningRate, rows: n, ...o.extra },
  };
  if (stats) { config.inputMean = stats.mean; config.inputScale = stats.scale; }
  if (o.target !== undefined) config.target = o.target;
  if (o.axis) config.axis = o.axis;
  if (o.axisUnit !== undefined) config.axisUnit = o.axisUnit;
  if (o.axisName !== undefined) config.axisName = o.axisName;

  const params = initialValues(config, config.seed);
  const shapes = parameterShapes(config);
  const grads = params.map((v) => new Float32Array(v.length));
  const adam = new JsAdam(params.map((v) => v.length), learningRate);
  const xs = prepareInputs(data.x, n, d, config.inputMean, config.inputScale);
  const rng = new Rng(deriveSeed(o.seed, 'spectral-shuffle'));
  const k = config.outputDim;
  const xb = new Float32Array(batchSize * d);
  const yb = new Float32Array(batchSize * k);
  const history: number[] = [];
  const penalty = { lambdaL2: config.lambdaL2, phiL2: config.phiL2 };
  const names = paramNames(config.hidden);
  /** Mean loss over the rows in `order`; with `update`, an Adam step after each mini-batch. */
  const pass = (order: ArrayLike<number>, update: boolean): number => {
    let total = 0;
    for (let s = 0; s < n; s += batchSize) {
      const m = Math.min(batchSize, n - s);
      yb.fill(0, 0, m * k);
      for (let r = 0; r < m; r++) {
        const row = order[s + r]!;
        xb.set(xs.subarray(row * d, (row + 1) * d), r * d);
        if (classIndex) yb[r * k + classIndex[row]!] = 1;
        else yb[r] = yStd![row]!;
      }
      const batchLoss = lossAndGrads(tf, params, shapes, xb, m, d, { loss, values: yb.subarray(0, m * k) }, penalty, grads);
      if (update) adam.step(params, grads);
      total += batchLoss * m;
    }
    return total / n;
  };
  const t0 = performance.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    if (o.signal?.aborted) throw o.signal.reason instanceof Error ? o.signal.reason : new Error('aborted');
    const mean = pass(rng.permutation(n), true);
    checkEpochLosses(epoch + 1, { loss: mean }, history[0], learningRate);
    checkWeights(epoch + 1, params.map((v, i) => [names[i]!, v] as [string, Float32Array]), learningRate);
    history.push(mean);
    o.onEpoch?.(epoch + 1, mean);
  }
  // the last update is in no epoch's loss: check the weights as they will be published
  const identity = Int32Array.from({ length: n }, (_, i) => i);
  checkEpochLosses(epochs, { 'loss after the last update': pass(identity, false) }, history[0], learningRate);
  const seconds = (performance.now() - t0) / 1000;
  const net = new SpectralNet(tf, config, params);
  return { net, history, seconds };
}
