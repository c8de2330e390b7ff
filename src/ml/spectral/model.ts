/**
 * Spectral neural network (Chicchi et al., "Automatic input feature relevance via
 * spectral neural networks"): a feed-forward network whose first layer is
 * parametrised spectrally, w_ji = λ_j · φ_ji from input j to hidden unit i.
 * λ (one "input eigenvalue" per input, initialised to 1) and φ (Glorot) are both
 * trainable and L2-penalised; the deeper layers are ordinary dense layers.
 * After training, the relevance of input j is |λ_j| · ‖φ_j,:‖₂.
 *
 * Everything random (initial weights, shuffling) comes from the seeded Rng, so
 * the same seed on the same backend gives bitwise-identical weights.
 *
 * No pipeline knowledge here: matrices in, matrices out (row-major Float32Array).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { deriveSeed, Rng } from '../../util/random.js';

export type TF = typeof import('@tensorflow/tfjs');
export type SpectralTask = 'classify' | 'regress';
export type SpectralLoss = 'cross_entropy' | 'mae' | 'mse';

export interface SpectralConfig {
  format: 'specflow.spectral';
  version: 1;
  task: SpectralTask;
  loss: SpectralLoss;
  inputDim: number;
  hidden: number[];
  activation: 'relu';
  /** Output units: number of classes (classify) or 1 (regress). */
  outputDim: number;
  /** Class names in output order (classify). */
  classes: string[];
  /** Regression target column name (regress). */
  target?: string;
  lambdaL2: number;
  phiL2: number;
  /** Input standardisation x' = (x - mean) / scale, applied inside predict; identity when absent. */
  inputMean?: number[];
  inputScale?: number[];
  /** Regression target standardisation (the network predicts (y - mean) / scale). */
  targetMean: number;
  targetScale: number;
  /** Names of the inputs (axis values or column names), for reports. */
  featureNames: string[];
  axis?: number[];
  axisUnit?: string;
  axisName?: string;
  seed: number;
  /** Free-form training summary (epochs, batch size, learning rate, backend…). */
  training?: Record<string, unknown>;
  /** Layout of weights.bin (float32 little-endian, concatenated). */
  weights?: { name: string; shape: number[]; offset: number }[];
}

export interface RelevanceRow {
  feature: number;
  name: string;
  lambda: number;
  phiNorm: number;
  score: number;
  rank: number;
}

/** Parameter names in a fixed order (also the order in weights.bin). */
export function paramNames(hidden: number[]): string[] {
  const names = ['lambda', 'phi', 'b1'];
  for (let l = 1; l < hidden.length; l++) names.push(`w${l + 1}`, `b${l + 1}`);
  names.push('w_out', 'b_out');
  return names;
}

function paramShapes(c: Pick<SpectralConfig, 'inputDim' | 'hidden' | 'outputDim'>): number[][] {
  const shapes: number[][] = [[c.inputDim], [c.inputDim, c.hidden[0]!], [c.hidden[0]!]];
  for (let l = 1; l < c.hidden.length; l++) shapes.push([c.hidden[l - 1]!, c.hidden[l]!], [c.hidden[l]!]);
  const last = c.hidden[c.hidden.length - 1]!;
  shapes.push([last, c.outputDim], [c.outputDim]);
  return shapes;
}

/** Glorot-uniform initial values from the seeded Rng: U(-a, a), a = sqrt(6 / (fanIn + fanOut)). */
function glorot(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.uniform() - 1) * a;
  return out;
}

/** Initial parameter values: λ = 1, φ and dense kernels Glorot-uniform, biases 0. */
export function initialValues(c: Pick<SpectralConfig, 'inputDim' | 'hidden' | 'outputDim'>, seed: number): Float32Array[] {
  const rng = new Rng(deriveSeed(seed, 'spectral-init'));
  return paramShapes(c).map((shape, i) => {
    if (i === 0) return new Float32Array(shape[0]!).fill(1);
    if (shape.length === 1) return new Float32Array(shape[0]!);
    return glorot(rng, shape[0]!, shape[1]!);
  });
}

export class SpectralNet {
  readonly vars: Variable[];
  private disposed = false;

  constructor(readonly tf: TF, readonly config: SpectralConfig, values: Float32Array[]) {
    const shapes = paramShapes(config);
    const names = paramNames(config.hidden);
    if (values.length !== shapes.length) throw new Error(`spectral net: ${values.length} parameter arrays, expected ${shapes.length}`);
    this.vars = shapes.map((shape, i) => {
      const size = shape.reduce((a, b) => a * b, 1);
      if (values[i]!.length !== size) throw new Error(`spectral net: parameter ${names[i]} has ${values[i]!.length} values, expected ${size}`);
      // tidy releases the initial-value tensor; the variable keeps its own copy of the data
      return tf.tidy(() => tf.variable(tf.tensor(values[i]!, shape, 'float32'), true, undefined, 'float32'));
    });
  }

  static create(tf: TF, config: SpectralConfig): SpectralNet {
    return new SpectralNet(tf, config, initialValues(config, config.seed));
  }

  get lambda(): Variable { return this.vars[0]!; }
  get phi(): Variable { return this.vars[1]!; }

  /** Network output (logits or standardised regression value) for standardised inputs. Call inside tidy. */
  forward(x: Tensor2D): Tensor2D {
    return forwardWith(this.tf, this.vars, x).out;
  }

  /** L2 penalty of the first (spectral) layer only: lambda_l2·Σλ² + phi_l2·Σφ². Call inside tidy. */
  penalty(): Tensor {
    const tf = this.tf;
    const terms: Tensor[] = [];
    if (this.config.lambdaL2 > 0) terms.push(tf.mul(this.config.lambdaL2, tf.sum(tf.square(this.lambda))));
    if (this.config.phiL2 > 0) terms.push(tf.mul(this.config.phiL2, tf.sum(tf.square(this.phi))));
    return terms.length === 0 ? tf.scalar(0) : terms.length === 1 ? terms[0]! : tf.add(terms[0]!, terms[1]!);
  }

  /**
   * Standardise raw inputs (n × inputDim) into the network's input space; features whose
   * `keep` entry is false are then set to zero (the paper's masking).
   */
  prepare(x: Float32Array, n: number, keep?: ArrayLike<boolean>): Float32Array {
    return prepareInputs(x, n, this.config.inputDim, this.config.inputMean, this.config.inputScale, keep);
  }

  /**
   * Predictions for raw inputs: class probabilities (n × classes) or regression
   * values in target units (n). Inputs not in `keep` are masked to zero after
   * standardisation.
   */
  predict(x: Float32Array, n: number, keep?: ArrayLike<boolean>, batch = 4096): Float32Array {
    this.checkAlive();
    const tf = this.tf;
    const d = this.config.inputDim;
    const xs = this.prepare(x, n, keep);
    const k = this.config.outputDim;
    const out = new Float32Array(n * k);
    for (let s = 0; s < n; s += batch) {
      const m = Math.min(batch, n - s);
      const part = tf.tidy(() => {
        const y = this.forward(tf.tensor2d(xs.subarray(s * d, (s + m) * d), [m, d]));
        return this.config.task === 'classify' ? tf.softmax(y) : y;
      });
      out.set(part.dataSync() as Float32Array, s * k);
      part.dispose();
    }
    if (this.config.task === 'regress') {
      const { targetMean, targetScale } = this.config;
      for (let i = 0; i < out.length; i++) out[i] = out[i]! * targetScale + targetMean;
    }
    return out;
  }

  /** λ_j, ‖φ_j,:‖₂ and the score |λ_j|·‖φ_j,:‖₂ of every input, ranked (1 = most relevant). */
  relevance(): RelevanceRow[] {
    this.checkAlive();
    const d = this.config.inputDim;
    const h = this.config.hidden[0]!;
    const lambda = this.lambda.dataSync();
    const phi = this.phi.dataSync();
    const rows: RelevanceRow[] = [];
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let i = 0; i < h; i++) s += phi[j * h + i]! ** 2;
      const phiNorm = Math.sqrt(s);
      rows.push({ feature: j, name: this.config.featureNames[j] ?? String(j), lambda: lambda[j]!, phiNorm, score: Math.abs(lambda[j]!) * phiNorm, rank: 0 });
    }
    rankRows(rows);
    return rows;
  }

  /** Current parameter values (copies). */
  values(): Float32Array[] {
    this.checkAlive();
    return this.vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  }

  /** Writes config.json and weights.bin into `dir` (created if needed). */
  async save(dir: string): Promise<void> {
    const values = this.values();
    const names = paramNames(this.config.hidden);
    const shapes = paramShapes(this.config);
    const total = values.reduce((s, v) => s + v.length, 0);
    const buf = Buffer.alloc(total * 4);
    const layout: { name: string; shape: number[]; offset: number }[] = [];
    let at = 0;
    values.forEach((v, i) => {
      layout.push({ name: names[i]!, shape: shapes[i]!, offset: at * 4 });
      for (let k = 0; k < v.length; k++) buf.writeFloatLE(v[k]!, (at + k) * 4);
      at += v.length;
    });
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'weights.bin'), buf);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...this.config, weights: layout }, null, 2) + '\n');
  }

  static async load(tf: TF, dir: string): Promise<SpectralNet> {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as SpectralConfig;
    if (config.format !== 'specflow.spectral') throw new Error(`${dir}: not a spectral network (config.json format is ${String(config.format)})`);
    const buf = await readFile(join(dir, 'weights.bin'));
    const shapes = paramShapes(config);
    const layout = config.weights ?? [];
    if (layout.length !== shapes.length) throw new Error(`${dir}: weights.bin layout lists ${layout.length} arrays, expected ${shapes.length}`);
    const values = layout.map((entry, i) => {
      const size = shapes[i]!.reduce((a, b) => a * b, 1);
      if (entry.offset + size * 4 > buf.length) throw new Error(`${dir}: weights.bin is truncated`);
      const v = new Float32Array(size);
      for (let k = 0; k < size; k++) v[k] = buf.readFloatLE(entry.offset + k * 4);
      return v;
    });
    return new SpectralNet(tf, config, values);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.vars) v.dispose();
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('spectral net: used after dispose()');
  }
}

/** (x - mean) / scale per column, then columns not in `keep` set to 0; returns `x` itself when nothing changes. */
export function prepareInputs(x: Float32Array, n: number, d: number, mean?: number[], scale?: number[], keep?: ArrayLike<boolean>): Float32Array {
  if (x.length !== n * d) throw new Error(`spectral net: input has ${x.length} values, expected ${n}×${d}`);
  if (!mean && !scale && !keep) return x;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      if (keep && !keep[j]) continue;
      let v = x[i * d + j]!;
      if (mean) v -= mean[j]!;
      if (scale) v /= scale[j]!;
      out[i * d + j] = v;
    }
  }
  return out;
}

/**
 * Forward pass with explicit parameter tensors (in `paramNames` order), keeping
 * the activations a backward pass needs: `inputs[l]` is the input of layer l
 * (inputs[0] = x ⊙ λ, then the ReLU outputs). Call inside tidy.
 */
export function forwardWith(tf: TF, p: Tensor[], x: Tensor2D): { inputs: Tensor2D[]; out: Tensor2D } {
  const layers = (p.length - 1) / 2;
  // (x ⊙ λ) φ  ==  x (diag(λ) φ): the spectral first layer without materialising w.
  let h = tf.mul(x, p[0]!) as Tensor2D;
  const inputs: Tensor2D[] = [h];
  for (let l = 0; l < layers; l++) {
    const last = l === layers - 1;
    h = tf.fused.matMul({ a: h, b: p[1 + 2 * l]! as Tensor2D, bias: p[2 + 2 * l]!, ...(last ? {} : { activation: 'relu' as const }) }) as Tensor2D;
    if (!last) inputs.push(h);
  }
  return { inputs, out: h };
}

/** Parameter shapes in `paramNames` order. */
export function parameterShapes(c: Pick<SpectralConfig, 'inputDim' | 'hidden' | 'outputDim'>): number[][] {
  return paramShapes(c);
}

/** Assigns `rank` by descending score (ties broken by feature index). */
export function rankRows<T extends { feature: number; score: number; rank: number }>(rows: T[]): T[] {
  const order = rows.map((_, i) => i).sort((a, b) => (rows[b]!.score - rows[a]!.score) || (rows[a]!.feature - rows[b]!.feature));
  order.forEach((idx, r) => { rows[idx]!.rank = r + 1; });
  return rows;
}
