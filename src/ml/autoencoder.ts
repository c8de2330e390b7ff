/**
 * Dense, Conv-1D and Transformer autoencoders for 1-D spectra, written with
 * plain tfjs ops over a ParamStore. The network works in a scaled space:
 *   xs = (x - center) / scale            (center per channel, scale a scalar)
 * and its decoder output h maps back to spectra as
 *   mse:     x̂ = center + scale · h
 *   poisson: x̂ = scale · softplus(h + base), base = softplus⁻¹(center / scale)
 * so an untrained network reconstructs the mean spectrum and any intensity
 * range trains alike. The scaling is part of the model config.
 */
import type { ModelArch, SpectralModel } from './model-api.js';
import {
  activate, addLayerNorm, batchNormLeaky, batchNormLeakyPool, conv1d, dense, defineBatchNorm, defineConv1d, defineDense, defineLayerNorm, defineSelfAttention, downsample2,
  ACTIVATIONS, addRepeated, matMulBias, ParamStore, selfAttention, sinusoidalPositions, upsampleConv1d, type Activation, type Pass,
} from './nn.js';
import type { Tensor, TF } from './engine.js';
import { MSE_KERNEL, SCALE_SHIFT_KERNEL } from './kernels/loss.js';

export type AeArch = Exclude<ModelArch, 'pca'>;
export type LossName = 'mse' | 'poisson';

export interface DenseSizes {
  /** Encoder hidden layer sizes, mirrored by the decoder. */
  hidden: number[];
  activation: Activation;
}

export interface Conv1dSizes {
  filters: number[];
  kernels: number[];
  /** 'batch' normalisation after each convolution, or none. */
  norm: 'batch' | 'none';
  /** Negative slope of the LeakyReLU. */
  leak: number;
  /** Dense layers between the flattened feature map and the latent code (mirrored). */
  hidden: number[];
}

export interface TransformerSizes {
  patch: number;
  d_model: number;
  heads: number;
  layers: number;
  /** Hidden width of each block's MLP. */
  mlp: number;
  /** How token features become the latent code. */
  pool: 'mean' | 'flatten';
}

export interface Scaling {
  /** Per-channel offset (length inputDim). */
  center: number[];
  /** Global scale. */
  scale: number;
}

export interface AutoencoderConfig {
  format: 'specflow-model';
  version: 1;
  arch: AeArch;
  inputDim: number;
  latentDim: number;
  loss: LossName;
  scaling: Scaling;
  dense?: DenseSizes;
  conv1d?: Conv1dSizes;
  transformer?: TransformerSizes;
  /** Spectral axis of the training data, for downstream tables. */
  axis?: { values: number[]; unit: string; name: string };
  /** Free-form provenance (seed, epochs run, backend…). */
  training?: Record<string, unknown>;
}

export const DEFAULT_DENSE: DenseSizes = { hidden: [256, 64], activation: 'relu' };
export const DEFAULT_CONV1D: Conv1dSizes = { filters: [16, 32, 64], kernels: [15, 11, 7], norm: 'batch', leak: 0.2, hidden: [] };
export const DEFAULT_TRANSFORMER: TransformerSizes = { patch: 16, d_model: 64, heads: 4, layers: 2, mlp: 128, pool: 'flatten' };

/** The network of one architecture: parameter definitions and the two halves. */
interface Network {
  define(store: ParamStore): void;
  /** xs [b, inputDim] (scaled) → z [b, latentDim]. */
  encode(tf: TF, store: ParamStore, xs: Tensor, pass: Pass): Tensor;
  /** z [b, latentDim] → h [b, inputDim] (scaled, before the output map). */
  decode(tf: TF, store: ParamStore, z: Tensor, pass: Pass): Tensor;
}

function padTo(d: number, multiple: number): number {
  return Math.ceil(d / multiple) * multiple;
}

function padCols(tf: TF, x: Tensor, to: number): Tensor {
  const d = x.shape[1]!;
  return to === d ? x : tf.pad(x, [[0, 0], [0, to - d]]);
}

function cropCols(tf: TF, x: Tensor, d: number): Tensor {
  return x.shape[1] === d ? x : tf.slice(x, [0, 0], [x.shape[0]!, d]);
}

function denseNetwork(cfg: AutoencoderConfig): Network {
  const s = cfg.dense!;
  const sizes = [cfg.inputDim, ...s.hidden];
  return {
    define(store) {
      for (let i = 0; i < s.hidden.length; i++) defineDense(store, `enc.${i}`, sizes[i]!, sizes[i + 1]!);
      defineDense(store, 'enc.z', sizes[sizes.length - 1]!, cfg.latentDim);
      let prev = cfg.latentDim;
      for (let i = s.hidden.length - 1; i >= 0; i--) {
        defineDense(store, `dec.${i}`, prev, s.hidden[i]!);
        prev = s.hidden[i]!;
      }
      defineDense(store, 'dec.out', prev, cfg.inputDim);
    },
    encode(tf, store, xs) {
      let h = xs;
      for (let i = 0; i < s.hidden.length; i++) h = dense(tf, store, `enc.${i}`, h, s.activation);
      return dense(tf, store, 'enc.z', h);
    },
    decode(tf, store, z) {
      let h = z;
      for (let i = s.hidden.length - 1; i >= 0; i--) h = dense(tf, store, `dec.${i}`, h, s.activation);
      return dense(tf, store, 'dec.out', h);
    },
  };
}

function conv1dNetwork(cfg: AutoencoderConfig): Network {
  const s = cfg.conv1d!;
  const nb = s.filters.length;
  const dp = padTo(cfg.inputDim, 2 ** nb);
  const lz = dp / 2 ** nb;
  const flat = lz * s.filters[nb - 1]!;
  const widths = [flat, ...s.hidden];
  const normalise = (tf: TF, store: ParamStore, name: string, h: Tensor, pass: Pass): Tensor =>
    s.norm === 'batch' ? batchNormLeaky(tf, store, `${name}.bn`, h, pass, s.leak) : tf.leakyRelu(h, s.leak);
  // an encoder block: convolution, normalisation + LeakyReLU, average pooling by 2 (the last two fused on wasm)
  const block = (tf: TF, store: ParamStore, name: string, x: Tensor, pass: Pass, dataInput = false): Tensor => {
    const h = conv1d(tf, store, name, x, dataInput);
    return s.norm === 'batch' ? batchNormLeakyPool(tf, store, `${name}.bn`, h, pass, s.leak) : downsample2(tf, tf.leakyRelu(h, s.leak));
  };
  return {
    define(store) {
      let inC = 1;
      for (let i = 0; i < nb; i++) {
        defineConv1d(store, `enc.conv${i}`, s.kernels[i]!, inC, s.filters[i]!);
        if (s.norm === 'batch') defineBatchNorm(store, `enc.conv${i}.bn`, s.filters[i]!);
        inC = s.filters[i]!;
      }
      for (let i = 0; i < s.hidden.length; i++) defineDense(store, `enc.fc${i}`, widths[i]!, widths[i + 1]!);
      defineDense(store, 'enc.z', widths[widths.length - 1]!, cfg.latentDim);
      let prev = cfg.latentDim;
      for (let i = s.hidden.length - 1; i >= 0; i--) {
        defineDense(store, `dec.fc${i}`, prev, widths[i + 1]!);
        prev = widths[i + 1]!;
      }
      defineDense(store, 'dec.map', prev, flat);
      // decoder block i works at the resolution of encoder block i and narrows the channels
      // back down: filters[i] → filters[i-1] (filters[0] for the last block)
      inC = s.filters[nb - 1]!;
      for (let i = nb - 1; i >= 0; i--) {
        const outC = s.filters[Math.max(i - 1, 0)]!;
        defineConv1d(store, `dec.conv${i}`, s.kernels[i]!, inC, outC);
        if (s.norm === 'batch') defineBatchNorm(store, `dec.conv${i}.bn`, outC);
        inC = outC;
      }
      defineConv1d(store, 'dec.out', s.kernels[0]!, inC, 1);
    },
    encode(tf, store, xs, pass) {
      const b = xs.shape[0]!;
      let h = tf.reshape(padCols(tf, xs, dp), [b, dp, 1]);
      for (let i = 0; i < nb; i++) h = block(tf, store, `enc.conv${i}`, h, pass, i === 0);
      h = tf.reshape(h, [b, flat]);
      for (let i = 0; i < s.hidden.length; i++) h = dense(tf, store, `enc.fc${i}`, h, 'leaky_relu');
      return dense(tf, store, 'enc.z', h);
    },
    decode(tf, store, z, pass) {
      const b = z.shape[0]!;
      let h = z;
      for (let i = s.hidden.length - 1; i >= 0; i--) h = dense(tf, store, `dec.fc${i}`, h, 'leaky_relu');
      h = activate(tf, dense(tf, store, 'dec.map', h), 'leaky_relu', s.leak);
      h = tf.reshape(h, [b, lz, s.filters[nb - 1]!]);
      // upsampling by 2, then the block's convolution (one op: see upsampleConv1d)
      for (let i = nb - 1; i >= 0; i--) h = normalise(tf, store, `dec.conv${i}`, upsampleConv1d(tf, store, `dec.conv${i}`, h), pass);
      h = conv1d(tf, store, 'dec.out', h);
      return cropCols(tf, tf.reshape(h, [b, dp]), cfg.inputDim);
    },
  };
}

function transformerNetwork(cfg: AutoencoderConfig): Network {
  const s = cfg.transformer!;
  const p = s.patch;
  const d = s.d_model;
  const H = s.heads;
  if (d % H !== 0) throw new Error(`transformer: d_model ${d} is not divisible by heads ${H}`);
  const dp = padTo(cfg.inputDim, p);
  const T = dp / p;
  const pos = sinusoidalPositions(T, d);
  const defineBlock = (store: ParamStore, name: string) => {
    defineLayerNorm(store, `${name}.ln1`, d);
    defineSelfAttention(store, name, d);
    defineLayerNorm(store, `${name}.ln2`, d);
    defineDense(store, `${name}.fc1`, d, s.mlp);
    defineDense(store, `${name}.fc2`, s.mlp, d);
  };
  /**
   * The positional encoding added to the tokens x [b·T, d], then `layers`
   * pre-norm blocks (prefix.block0, …) on that stream: x1 = x + attention(ln1(x)),
   * x' = x1 + mlp(ln2(x1)). Each Add into the stream (the positions' too) is
   * done together with the layer norm that follows it (the first or next
   * block's ln1, or ln2), in one pass each way (addLayerNorm); the last
   * block's, which no layer norm follows, in its fc2 product's store.
   */
  const blocks = (tf: TF, store: ParamStore, prefix: string, tokens: Tensor): Tensor => {
    const positions = tf.tensor2d(pos, [T, d]);
    if (s.layers === 0) return addRepeated(tf, tokens, positions);
    let { sum: x, y: h } = addLayerNorm(tf, store, `${prefix}.block0.ln1`, tokens, positions);
    for (let i = 0; ; i++) {
      const name = `${prefix}.block${i}`;
      const x1 = addLayerNorm(tf, store, `${name}.ln2`, x, selfAttention(tf, store, name, h, T, H));
      const hidden = dense(tf, store, `${name}.fc1`, x1.y, 'gelu');
      // the last block's join with the stream, in fc2's product
      if (i + 1 === s.layers) return matMulBias(tf, hidden, store.get(`${name}.fc2.w`), store.get(`${name}.fc2.b`), x1.sum);
      const m = dense(tf, store, `${name}.fc2`, hidden);
      ({ sum: x, y: h } = addLayerNorm(tf, store, `${prefix}.block${i + 1}.ln1`, x1.sum, m));
    }
  };
  return {
    define(store) {
      defineDense(store, 'enc.embed', p, d);
      for (let i = 0; i < s.layers; i++) defineBlock(store, `enc.block${i}`);
      defineDense(store, 'enc.z', s.pool === 'mean' ? d : T * d, cfg.latentDim);
      defineDense(store, 'dec.tokens', cfg.latentDim, T * d);
      for (let i = 0; i < s.layers; i++) defineBlock(store, `dec.block${i}`);
      defineDense(store, 'dec.out', d, p);
    },
    encode(tf, store, xs) {
      const b = xs.shape[0]!;
      const patches = tf.reshape(padCols(tf, xs, dp), [b * T, p]);
      const y = tf.reshape(blocks(tf, store, 'enc', dense(tf, store, 'enc.embed', patches)), [b, T, d]);
      const pooled = s.pool === 'mean' ? tf.mean(y, 1) : tf.reshape(y, [b, T * d]);
      return dense(tf, store, 'enc.z', pooled);
    },
    decode(tf, store, z) {
      const b = z.shape[0]!;
      const out = dense(tf, store, 'dec.out', blocks(tf, store, 'dec', tf.reshape(dense(tf, store, 'dec.tokens', z), [b * T, d])));
      return cropCols(tf, tf.reshape(out, [b, dp]), cfg.inputDim);
    },
  };
}

function network(cfg: AutoencoderConfig): Network {
  switch (cfg.arch) {
    case 'dense':
      return denseNetwork(cfg);
    case 'conv1d':
      return conv1dNetwork(cfg);
    case 'transformer':
      return transformerNetwork(cfg);
  }
}

/** softplus⁻¹(y) for y > 0. */
function inverseSoftplus(y: number): number {
  return y > 20 ? y : Math.log(Math.expm1(y));
}

/** A built autoencoder: its config, its variables and the tensor-level passes used by training. */
export class Autoencoder implements SpectralModel {
  readonly arch: AeArch;
  readonly inputDim: number;
  readonly latentDim: number;
  readonly loss: LossName;
  readonly store: ParamStore;
  private readonly net: Network;
  private readonly center: Tensor;
  private readonly base: Tensor | undefined;

  constructor(readonly tf: TF, readonly config: AutoencoderConfig, seed: number, loaded?: Map<string, Float32Array>) {
    this.arch = config.arch;
    this.inputDim = config.inputDim;
    this.latentDim = config.latentDim;
    this.loss = config.loss;
    this.net = network(config);
    this.store = new ParamStore(tf, seed, loaded);
    this.net.define(this.store);
    const c = Float32Array.from(config.scaling.center);
    this.center = tf.tensor2d(c, [1, config.inputDim]);
    if (config.loss === 'poisson') {
      const base = c.map((v) => inverseSoftplus(Math.max(v / config.scaling.scale, 1e-3)));
      this.base = tf.tensor2d(base, [1, config.inputDim]);
    }
  }

  /** Raw spectra [b, D] → scaled network input. */
  scaleIn(x: Tensor): Tensor {
    const tf = this.tf;
    // one pass where the kernel is installed (wasm), the same bits as Sub then RealDiv
    if (tf.getKernel(SCALE_SHIFT_KERNEL, tf.getBackend()) && x.dtype === 'float32' && x.shape[x.shape.length - 1] === this.inputDim) {
      return tf.engine().runKernel(SCALE_SHIFT_KERNEL, { x, center: this.center }, { scale: this.config.scaling.scale }) as Tensor;
    }
    return tf.div(tf.sub(x, this.center), this.config.scaling.scale);
  }

  encodeT(x: Tensor, pass: Pass): Tensor {
    return this.net.encode(this.tf, this.store, this.scaleIn(x), pass);
  }

  /** Decoder output before the output map (scaled space). */
  decodeRaw(z: Tensor, pass: Pass): Tensor {
    return this.net.decode(this.tf, this.store, z, pass);
  }

  /** Scaled-space prediction: mse → h; poisson → the positive rate p = softplus(h + base). */
  scaledOutput(h: Tensor): Tensor {
    return this.base ? this.tf.softplus(this.tf.add(h, this.base)) : h;
  }

  /** Target spectra in the units of `scaledOutput`. */
  scaleTarget(y: Tensor): Tensor {
    return this.base ? this.tf.div(y, this.config.scaling.scale) : this.scaleIn(y);
  }

  /** Scaled prediction → spectra in data units. */
  unscale(o: Tensor): Tensor {
    const s = this.config.scaling.scale;
    return this.base ? this.tf.mul(o, s) : this.tf.add(this.tf.mul(o, s), this.center);
  }

  /** Training loss (scaled units) for a batch: mean squared error or mean Poisson NLL (without log y!). */
  lossT(x: Tensor, y: Tensor, pass: Pass): Tensor {
    const tf = this.tf;
    const xs = this.scaleIn(x);
    const out = this.scaledOutput(this.decodeRaw(this.net.encode(tf, this.store, xs, pass), pass));
    // y is x (no noise): its mse target is the scaled input already computed, the same bits
    const t = y === x && !this.base ? xs : this.scaleTarget(y);
    return this.loss === 'poisson' ? poissonNllT(tf, out, t) : mseT(tf, out, t);
  }

  async encode(x: Float32Array, n: number): Promise<Float32Array> {
    return this.batched(x, n, this.inputDim, this.latentDim, (t) => this.encodeT(t, { training: false }));
  }

  async decode(z: Float32Array, n: number): Promise<Float32Array> {
    return this.batched(z, n, this.latentDim, this.inputDim, (t) => this.unscale(this.scaledOutput(this.decodeRaw(t, { training: false }))));
  }

  /** Full reconstruction x → x̂ in data units. */
  async reconstruct(x: Float32Array, n: number): Promise<Float32Array> {
    return this.batched(x, n, this.inputDim, this.inputDim, (t) => {
      const pass = { training: false };
      return this.unscale(this.scaledOutput(this.decodeRaw(this.encodeT(t, pass), pass)));
    });
  }

  private async batched(input: Float32Array, n: number, inDim: number, outDim: number, f: (t: Tensor) => Tensor): Promise<Float32Array> {
    if (input.length !== n * inDim) throw new Error(`expected ${n}×${inDim} values, got ${input.length}`);
    const out = new Float32Array(n * outDim);
    const bs = INFERENCE_BATCH;
    for (let start = 0; start < n; start += bs) {
      const m = Math.min(bs, n - start);
      const y = this.tf.tidy(() => f(this.tf.tensor2d(input.subarray(start * inDim, (start + m) * inDim), [m, inDim])));
      out.set(await y.data() as Float32Array, start * outDim);
      y.dispose();
    }
    return out;
  }

  dispose(): void {
    this.store.dispose();
    this.center.dispose();
    this.base?.dispose();
  }
}

/** Rows per tensor in encode/decode/reconstruct; streaming callers cut their chunks at multiples of it. */
export const INFERENCE_BATCH = 256;

/**
 * Mean squared error of predictions p against targets t, differentiable in p
 * only (targets are data). Its gradient in two passes, (p − t)·(2·dy/n): the
 * same bits as tfjs's autodiff through mean(squaredDifference), which builds a
 * ones tensor of p's size in JavaScript every step (Mean's gradient) and makes
 * three more passes (p − t, 2·(p − t), then two products).
 */
export function mseT(tf: TF, p: Tensor, t: Tensor): Tensor {
  if (tf.getKernel(MSE_KERNEL, tf.getBackend()) && p.dtype === 'float32' && t.dtype === 'float32') {
    // one pass for the value and p − t, which the gradient then scales: the same bits, four passes fewer
    const fused = tf.customGrad(((pp: Tensor, save: (ts: Tensor[]) => void) => {
      const [value, diff] = tf.engine().runKernel(MSE_KERNEL, { p: pp, t }, {}) as Tensor[];
      save([diff!]);
      return { value: value!, gradFunc: (dy: Tensor, [sd]: Tensor[]) => tf.mul(sd!, tf.mul(tf.div(dy, p.size), 2)) };
    }) as never) as (a: Tensor) => Tensor;
    return fused(p);
  }
  const f = tf.customGrad(((pp: Tensor, save: (ts: Tensor[]) => void) => {
    // t too: the forward pass's tensors are disposed before the backward pass runs
    save([pp, t]);
    return {
      value: tf.mean(tf.squaredDifference(pp, t)),
      // (dy/n)·2 as tfjs forms it (Mean's gradient, then SquaredDifference's), exact in either order
      gradFunc: (dy: Tensor, [sp, st]: Tensor[]) => tf.mul(tf.sub(sp!, st!), tf.mul(tf.div(dy, p.size), 2)),
    };
  }) as never) as (a: Tensor) => Tensor;
  return f(p);
}

/** Mean Poisson negative log-likelihood of targets t under rates p, without the log(t!) term. */
export function poissonNllT(tf: TF, p: Tensor, t: Tensor): Tensor {
  return tf.mean(tf.sub(p, tf.mul(t, tf.log(tf.add(p, 1e-8)))));
}

export function withArchDefaults(cfg: AutoencoderConfig): AutoencoderConfig {
  const out = { ...cfg };
  if (cfg.arch === 'dense') {
    out.dense = { ...DEFAULT_DENSE, ...cfg.dense };
    // the stage's schema checks this for pipelines; a JavaScript caller would otherwise meet a TypeError mid-training
    if (!(ACTIVATIONS as readonly string[]).includes(out.dense.activation)) {
      throw new Error(`dense: unknown activation "${out.dense.activation}"; use one of ${ACTIVATIONS.join(', ')}`);
    }
  }
  if (cfg.arch === 'conv1d') {
    out.conv1d = { ...DEFAULT_CONV1D, ...cfg.conv1d };
    if (out.conv1d.filters.length !== out.conv1d.kernels.length) {
      throw new Error(`conv1d: ${out.conv1d.filters.length} filters but ${out.conv1d.kernels.length} kernels; give one kernel size per block`);
    }
  }
  if (cfg.arch === 'transformer') out.transformer = { ...DEFAULT_TRANSFORMER, ...cfg.transformer };
  return out;
}
