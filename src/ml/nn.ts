/**
 * Minimal building blocks for the autoencoders: a store of named variables with
 * seeded initialisers (every parameter gets its own stream derived from the
 * model seed and its name, so adding a parameter never shifts another one), and
 * functional layers written with plain tfjs ops (tfjs-layers has no attention
 * layer, and plain ops keep training deterministic and leak-free). Batch norm,
 * layer norm, GELU and attention have closed-form gradients (tf.customGrad);
 * the last three run as specflow's fused kernels where the backend has them.
 */
import { deriveSeed, Rng } from '../util/random.js';
import type { Tensor, TF, Variable } from './engine.js';
import {
  ADD_LAYER_NORM_KERNEL, ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, GELU_GRAD_KERNEL, GELU_KERNEL, LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL,
} from './kernels/transformer.js';
import { BN_AFFINE, BN_GRAD_INPUT, BN_GRAD_SUMS, BN_MOMENTS } from './kernels/batch-norm.js';
import { CONV1D_FILTER_BIAS_GRAD, CONV1D_INPUT_GRAD } from './kernels/conv1d-grads.js';
import { COLUMN_SLICE_KERNEL, CONCAT_COLUMNS_KERNEL } from './kernels/concat-columns.js';
import type { BackendWasm } from './kernels/common.js';
import { ownedHeapView } from './kernels/in-place.js';
import { RELU_GRAD_KERNEL } from './kernels/elementwise.js';
import { MATMUL_BIAS_KERNEL, MATMUL_BIAS_RELU_KERNEL } from './kernels/fused-matmul.js';
import { BN_AFFINE_LEAKY, BN_LEAKY_GRAD_INPUT, BN_LEAKY_GRAD_SUMS, BN_MEAN_VARIANCE, PAIR_DUP, PAIR_SUM } from './kernels/conv1d-passes.js';

export type Init =
  | { kind: 'glorot'; fanIn: number; fanOut: number }
  | { kind: 'normal'; sd: number }
  | { kind: 'zeros' }
  | { kind: 'ones' };

export interface WeightSpec {
  name: string;
  shape: number[];
  trainable: boolean;
}

export class ParamStore {
  readonly vars = new Map<string, Variable>();
  readonly specs: WeightSpec[] = [];

  constructor(
    private readonly tf: TF,
    private readonly seed: number,
    /** Values to load instead of initialising (model I/O). */
    private readonly loaded?: Map<string, Float32Array>,
  ) {}

  get(name: string): Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`no parameter "${name}"`);
    return v;
  }

  create(name: string, shape: number[], init: Init, trainable = true): Variable {
    if (this.vars.has(name)) throw new Error(`parameter "${name}" defined twice`);
    const size = shape.reduce((a, b) => a * b, 1);
    let values = this.loaded?.get(name);
    if (this.loaded) {
      if (!values) throw new Error(`weights file has no tensor "${name}"`);
      if (values.length !== size) throw new Error(`tensor "${name}" has ${values.length} values, expected ${size} (${shape.join('×')})`);
    } else {
      values = initValues(size, init, deriveSeed(this.seed, 'init', name));
    }
    const v = this.tf.tidy(() => this.tf.variable(this.tf.tensor(values!, shape, 'float32'), trainable, `${name}_${uid()}`));
    this.vars.set(name, v);
    this.specs.push({ name, shape, trainable });
    return v;
  }

  trainable(): Variable[] {
    // pushed into a literal: an array from map() has one V8 map while map() runs in the interpreter
    // and another once it is inlined into optimised code, and the per-step loops over this list
    // (the team's loadWeights, saveWeights) were deoptimised when it changed
    const out: Variable[] = [];
    for (const s of this.specs) if (s.trainable) out.push(this.get(s.name));
    return out;
  }

  /** Copies of every variable's values (for early-stopping snapshots and saving). */
  snapshot(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const s of this.specs) out.set(s.name, Float32Array.from(this.get(s.name).dataSync() as Float32Array));
    return out;
  }

  restore(values: Map<string, Float32Array>): void {
    for (const s of this.specs) {
      const v = this.get(s.name);
      const t = this.tf.tensor(values.get(s.name)!, s.shape, 'float32');
      v.assign(t);
      t.dispose();
    }
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

let counter = 0;
function uid(): number {
  return ++counter;
}

function initValues(size: number, init: Init, seed: number): Float32Array {
  const out = new Float32Array(size);
  switch (init.kind) {
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'glorot': {
      const rng = new Rng(seed);
      const limit = Math.sqrt(6 / (init.fanIn + init.fanOut));
      for (let i = 0; i < size; i++) out[i] = (2 * rng.uniform() - 1) * limit;
      return out;
    }
    case 'normal': {
      const rng = new Rng(seed);
      for (let i = 0; i < size; i++) out[i] = rng.normal(0, init.sd);
      return out;
    }
  }
}

export const ACTIVATIONS = ['linear', 'relu', 'leaky_relu', 'tanh', 'gelu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** Forward-pass state: training mode, and batch-norm statistics gathered for the running averages. */
export interface Pass {
  training: boolean;
  /** Batch moments per batch-norm layer name (kept tensors; the trainer disposes them). */
  bnStats?: Map<string, { mean: Tensor; variance: Tensor }>;
}

export function activate(tf: TF, x: Tensor, act: Activation, leak = 0.2): Tensor {
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'leaky_relu':
      return tf.leakyRelu(x, leak);
    case 'tanh':
      return tf.tanh(x);
    case 'gelu':
      return gelu(tf, x);
  }
}

/**
 * Whether the current backend has specflow's fused Transformer kernels
 * (./kernels/transformer.ts: wasm with specflow's kernels). Elsewhere layer
 * norm, GELU and attention are composed from tfjs ops: the same functions.
 */
export function fusedTransformerOps(tf: TF): boolean {
  return tf.getKernel(LAYER_NORM_KERNEL, tf.getBackend()) !== undefined;
}

function runKernel(tf: TF, name: string, inputs: Record<string, Tensor>, attrs: Record<string, unknown> = {}): Tensor[] {
  const out = tf.engine().runKernel(name, inputs as never, attrs as never) as Tensor | Tensor[];
  return Array.isArray(out) ? out : [out];
}

/**
 * GELU, x/2·(1 + erf(x/√2)) (the erf form, not the tanh approximation). The
 * fused kernel evaluates erf by a rational approximation (within 3e-7·max(1, |x|)
 * of the exact GELU) and keeps Φ(x) for the gradient.
 */
export function gelu(tf: TF, x: Tensor): Tensor {
  if (!fusedTransformerOps(tf)) return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  // one pass each way; the gradient dy·(Φ(x) + x·φ(x)) in closed form
  const f = tf.customGrad(((xx: Tensor, save: (ts: Tensor[]) => void) => {
    const [y, cdf] = runKernel(tf, GELU_KERNEL, { x: xx }) as [Tensor, Tensor];
    save([xx, cdf]);
    return {
      value: y,
      gradFunc: (dy: Tensor, saved: Tensor[]) => runKernel(tf, GELU_GRAD_KERNEL, { x: saved[0]!, cdf: saved[1]!, dy })[0]!,
    };
  }) as never) as (a: Tensor) => Tensor;
  return f(x);
}

/** Define a dense layer's parameters `${name}.w` [inDim, outDim] and `${name}.b`. */
export function defineDense(store: ParamStore, name: string, inDim: number, outDim: number): void {
  store.create(`${name}.w`, [inDim, outDim], { kind: 'glorot', fanIn: inDim, fanOut: outDim });
  store.create(`${name}.b`, [outDim], { kind: 'zeros' });
}

/** x [m, inDim] → [m, outDim]; relu/linear use the fused (bias + activation) product. */
export function dense(tf: TF, store: ParamStore, name: string, x: Tensor, act: Activation = 'linear'): Tensor {
  const w = store.get(`${name}.w`);
  const b = store.get(`${name}.b`);
  if (act === 'relu') return matMulBiasRelu(tf, x, w, b);
  const y = matMulBias(tf, x, w, b);
  return act === 'linear' ? y : activate(tf, y, act);
}

/**
 * x·w + b for 2-D x [m, k], w [k, n], b [n]: tf.fused.matMul's product and
 * gradient (dx = dy·wᵀ, dw = xᵀ·dy, db = Σ_rows dy), the same kernels and the
 * same bits. With specflow's wasm kernels they are called directly on the 2-D
 * tensors: tf.fused.matMul reshapes its operands to 3-D and back, and its
 * gradient each operand and product again, some 20 tfjs ops a layer and step
 * (each costing more JavaScript than a Reshape's kernel) where this is 5 —
 * or 4 when x is data: the gradient is registered per input and tfjs asks
 * only for those of inputs that depend on a trained variable. With
 * `residual` [m, n]: x·w + b + residual (a residual branch joining the
 * stream), on wasm added in the product's store (the bits of a separate Add).
 */
export function matMulBias(tf: TF, x: Tensor, w: Tensor, b: Tensor, residual?: Tensor): Tensor {
  if (tf.getKernel(MATMUL_BIAS_KERNEL, tf.getBackend()) === undefined || x.rank !== 2 || w.rank !== 2) {
    const y = tf.fused.matMul({ a: x as Tensor2D, b: w as Tensor2D, bias: b });
    return residual ? tf.add(residual, y) : y;
  }
  registerMatMulBiasGradient(tf);
  return runKernel(tf, MATMUL_BIAS_KERNEL, residual ? { x, w, b, residual } : { x, w, b })[0]!;
}

/** SpecflowMatMulBias's gradient, one function per input (registered once per tfjs; worker threads have their own). */
function registerMatMulBiasGradient(tf: TF): void {
  if (tf.getGradient(MATMUL_BIAS_KERNEL)) return;
  tf.registerGradient({
    kernelName: MATMUL_BIAS_KERNEL,
    inputsToSave: ['x', 'w'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const g = dy as Tensor;
      const [x, w] = saved as [Tensor, Tensor];
      return {
        x: () => runKernel(tf, 'BatchMatMul', { a: g, b: w }, { transposeA: false, transposeB: true })[0]!,
        w: () => runKernel(tf, 'BatchMatMul', { a: x, b: g }, { transposeA: true, transposeB: false })[0]!,
        b: () => runKernel(tf, 'Sum', { x: g }, { axis: [0], keepDims: false })[0]!,
        // a clone (no copy on wasm), as tfjs's Add passes dy on
        residual: () => tf.clone(g),
      };
    },
  });
}

/**
 * relu(x·w + b) for 2-D x [m, k], w [k, n], b [n]: tf.fused.matMul's relu
 * product and gradient (dy·step(y) then as matMulBias's), the same kernels
 * and the same bits. With specflow's wasm kernels called directly on the 2-D
 * tensors (see matMulBias): 6 tfjs ops a layer and step instead of ~25.
 */
export function matMulBiasRelu(tf: TF, x: Tensor, w: Tensor, b: Tensor): Tensor {
  if (tf.getKernel(MATMUL_BIAS_RELU_KERNEL, tf.getBackend()) === undefined || x.rank !== 2 || w.rank !== 2) {
    return tf.fused.matMul({ a: x as Tensor2D, b: w as Tensor2D, bias: b, activation: 'relu' });
  }
  registerMatMulBiasReluGradient(tf);
  return runKernel(tf, MATMUL_BIAS_RELU_KERNEL, { x, w, b })[0]!;
}

/** SpecflowMatMulBiasRelu's gradient: tfjs's dy·step(y) for the relu (one kernel), then SpecflowMatMulBias's per-input products. */
function registerMatMulBiasReluGradient(tf: TF): void {
  if (tf.getGradient(MATMUL_BIAS_RELU_KERNEL)) return;
  tf.registerGradient({
    kernelName: MATMUL_BIAS_RELU_KERNEL,
    inputsToSave: ['x', 'w'],
    outputsToSave: [true],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [x, w, y] = saved as [Tensor, Tensor, Tensor];
      const g = runKernel(tf, RELU_GRAD_KERNEL, { dy: dy as Tensor, y })[0]!;
      return {
        x: () => runKernel(tf, 'BatchMatMul', { a: g, b: w }, { transposeA: false, transposeB: true })[0]!,
        w: () => runKernel(tf, 'BatchMatMul', { a: x, b: g }, { transposeA: true, transposeB: false })[0]!,
        b: () => runKernel(tf, 'Sum', { x: g }, { axis: [0], keepDims: false })[0]!,
      };
    },
  });
}

export function defineLayerNorm(store: ParamStore, name: string, dim: number): void {
  store.create(`${name}.gamma`, [dim], { kind: 'ones' });
  store.create(`${name}.beta`, [dim], { kind: 'zeros' });
}

/** Normalises over the last axis. */
export function layerNorm(tf: TF, store: ParamStore, name: string, x: Tensor, eps = 1e-5): Tensor {
  return layerNormOp(tf, x, store.get(`${name}.gamma`), store.get(`${name}.beta`), eps);
}

/**
 * y = γ·x̂ + β, x̂ = (x − μ)·r, r = 1/√(σ² + eps), with each row's moments over
 * the last axis. With the fused kernels one pass each way, the gradient in
 * closed form (per row, g = dy·γ):
 *   dx = r·(g − mean(g) − x̂·mean(g·x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy
 * (tfjs's autodiff through the moments runs some 25 kernels backwards); x̂ is
 * recomputed from x, μ and r rather than kept.
 */
export function layerNormOp(tf: TF, x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  if (!fusedTransformerOps(tf)) {
    const { mean, variance } = tf.moments(x, x.rank - 1, true);
    const xn = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(xn, gamma), beta);
  }
  const f = tf.customGrad(((xx: Tensor, g: Tensor, b: Tensor, save: (ts: Tensor[]) => void) => {
    const [y, mean, rstd] = runKernel(tf, LAYER_NORM_KERNEL, { x: xx, gamma: g, beta: b }, { eps }) as [Tensor, Tensor, Tensor];
    save([xx, mean, rstd, g]);
    return {
      value: y,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sm, sr, sg] = saved as [Tensor, Tensor, Tensor, Tensor];
        return runKernel(tf, LAYER_NORM_GRAD_KERNEL, { dy, x: sx, mean: sm, rstd: sr, gamma: sg });
      },
    };
  }) as never) as (a: Tensor, b: Tensor, c: Tensor) => Tensor;
  return f(x, gamma, beta);
}

/**
 * A residual branch joining the stream and the layer norm that follows:
 * sum = x + residual, y = layerNorm(sum) (a pre-norm block's Add and its next
 * layer norm). With the fused kernels one pass each way: the forward writes
 * both, and the gradient of sum (what the stream passes back) is added into
 * the layer norm's dx in the same pass instead of by a separate Add.
 * x [rows, d]; residual [rows, d], or [r, d] repeated down x (r dividing
 * rows: the positional encoding added to a batch's tokens).
 */
export function addLayerNorm(
  tf: TF, store: ParamStore, name: string, x: Tensor, residual: Tensor, eps = 1e-5,
): { sum: Tensor; y: Tensor } {
  return addLayerNormOp(tf, x, residual, store.get(`${name}.gamma`), store.get(`${name}.beta`), eps);
}

export function addLayerNormOp(
  tf: TF, x: Tensor, residual: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5,
): { sum: Tensor; y: Tensor } {
  if (!fusedTransformerOps(tf)) {
    const sum = addRepeated(tf, x, residual);
    return { sum, y: layerNormOp(tf, sum, gamma, beta, eps) };
  }
  registerAddLayerNormGradient(tf);
  // the residual's shape for its gradient (an attribute: saving the residual would cost a clone each step)
  const [sum, y] = runKernel(tf, ADD_LAYER_NORM_KERNEL, { x, residual, gamma, beta }, { eps, residualShape: residual.shape }) as [Tensor, Tensor, Tensor, Tensor];
  return { sum, y };
}

/** x [..., d] + r of x's size, or + r [m, d] repeated down x's rows (a broadcast add over copies of r). */
export function addRepeated(tf: TF, x: Tensor, r: Tensor): Tensor {
  if (r.size === x.size) return tf.add(x, r);
  const d = x.shape[x.rank - 1]!;
  const m = r.size / d;
  return tf.reshape(tf.add(tf.reshape(x, [x.size / r.size, m, d]), tf.reshape(r, [m, d])), x.shape);
}

/**
 * The gradient of SpecflowAddLayerNorm's two used outputs (sum, y); tfjs
 * passes zeros for the unused μ and r. A kernel's registered gradient, not
 * tf.customGrad, which takes one output only. Registered once per tfjs
 * (worker threads have their own). Each input's gradient is a function
 * tfjs calls only for inputs that depend on a trained variable (not the
 * positional encoding).
 */
function registerAddLayerNormGradient(tf: TF): void {
  if (tf.getGradient(ADD_LAYER_NORM_KERNEL)) return;
  tf.registerGradient({
    kernelName: ADD_LAYER_NORM_KERNEL,
    inputsToSave: ['gamma'],
    outputsToSave: [true, false, true, true],
    gradFunc: (dys: Tensor | Tensor[], saved: Tensor[], attrs: unknown) => {
      const [dsum, dy] = dys as Tensor[];
      const [gamma, sum, mean, rstd] = saved as [Tensor, Tensor, Tensor, Tensor];
      const [dx, dgamma, dbeta] = runKernel(tf, LAYER_NORM_GRAD_KERNEL, { dy: dy!, x: sum, mean, rstd, gamma, dres: dsum! });
      const residualShape = (attrs as { residualShape: number[] }).residualShape;
      const d = sum.shape[sum.rank - 1]!;
      const repeats = sum.size / residualShape.reduce((a, b) => a * b, 1);
      // both summands get the same gradient (a clone, no copy on wasm, so each input owns its tensor);
      // a repeated residual the sum over its copies
      const dres = () => (repeats === 1 ? tf.clone(dx!) : tf.reshape(tf.sum(tf.reshape(dx!, [repeats, -1, d]), 0), residualShape));
      return { x: () => dx!, residual: dres, gamma: () => dgamma!, beta: () => dbeta! };
    },
  });
}

/**
 * Matrices [m, wᵢ] side by side → [m, Σ wᵢ] (or vectors end to end), as
 * tf.concat on the last axis. With specflow's wasm kernels one copy that
 * skips tfjs-core's shape checks (which V8 kept deoptimising), its gradient
 * each input's column block of dy, computed only for inputs tfjs asks for.
 */
export function concatColumns(tf: TF, parts: Tensor[]): Tensor {
  if (tf.getKernel(CONCAT_COLUMNS_KERNEL, tf.getBackend()) === undefined || parts.some((p) => p.rank > 2)) {
    return tf.concat(parts, parts[0]!.rank - 1);
  }
  registerConcatColumnsGradient(tf);
  const inputs: Record<string, Tensor> = {};
  const widths: number[] = [];
  parts.forEach((p, i) => {
    inputs[`x${i}`] = p;
    widths.push(p.shape[p.rank - 1]!);
  });
  return runKernel(tf, CONCAT_COLUMNS_KERNEL, inputs, { widths })[0]!;
}

/** SpecflowConcatColumns's gradient: input xᵢ gets its columns of dy (registered once per tfjs). */
function registerConcatColumnsGradient(tf: TF): void {
  if (tf.getGradient(CONCAT_COLUMNS_KERNEL)) return;
  tf.registerGradient({
    kernelName: CONCAT_COLUMNS_KERNEL,
    gradFunc: (dy: Tensor | Tensor[], _saved: Tensor[], attrs: unknown) => {
      const g = dy as Tensor;
      const grads: Record<string, () => Tensor> = {};
      let begin = 0;
      (attrs as { widths: number[] }).widths.forEach((size, i) => {
        const at = begin;
        grads[`x${i}`] = () => runKernel(tf, COLUMN_SLICE_KERNEL, { x: g }, { begin: at, size })[0]!;
        begin += size;
      });
      return grads;
    },
  });
}

/** Define the projections of a multi-head self-attention layer: `${name}.q`, `.k`, `.v`, `.o`, each dim × dim. */
export function defineSelfAttention(store: ParamStore, name: string, dim: number): void {
  for (const p of ['q', 'k', 'v', 'o']) defineDense(store, `${name}.${p}`, dim, dim);
}

/**
 * Multi-head self-attention (Q/K/V projections, softmax(QKᵀ/√dh)·V per head,
 * output projection) on h [b·seq, d] → [b·seq, d].
 *
 * With the fused kernels the three projections are one product with the
 * weights side by side ([d, 3d]: one pass over h each way instead of three)
 * and attention reads the heads from that product and writes them merged, in
 * one kernel each way; tfjs's composition transposes heads out and back in
 * both directions and runs a small batched product per head.
 */
export function selfAttention(tf: TF, store: ParamStore, name: string, h: Tensor, seq: number, heads: number): Tensor {
  let merged: Tensor;
  if (fusedTransformerOps(tf)) {
    const w = concatColumns(tf, ['q', 'k', 'v'].map((p) => store.get(`${name}.${p}.w`)));
    const bias = concatColumns(tf, ['q', 'k', 'v'].map((p) => store.get(`${name}.${p}.b`)));
    merged = multiHeadAttention(tf, matMulBias(tf, h, w, bias), seq, heads);
  } else {
    const [q, k, v] = ['q', 'k', 'v'].map((p) => dense(tf, store, `${name}.${p}`, h)) as [Tensor, Tensor, Tensor];
    merged = attendHeads(tf, q, k, v, seq, heads);
  }
  return dense(tf, store, `${name}.o`, merged);
}

/**
 * softmax(Q_h·K_hᵀ/√dh)·V_h for each head h, from qkv [b·seq, 3d] (Q, K, V side
 * by side, head h at columns h·dh of each) to the heads merged, [b·seq, d]:
 * one kernel each way on backends with the fused ops (its gradient from the
 * saved probabilities in closed form), tfjs ops elsewhere.
 */
export function multiHeadAttention(tf: TF, qkv: Tensor, seq: number, heads: number): Tensor {
  const d = qkv.shape[1]! / 3;
  if (!fusedTransformerOps(tf)) {
    const [q, k, v] = tf.split(qkv, 3, 1) as [Tensor, Tensor, Tensor];
    return attendHeads(tf, q, k, v, seq, heads);
  }
  const attrs = { seq, heads, scale: 1 / Math.sqrt(d / heads) };
  const f = tf.customGrad(((x: Tensor, save: (ts: Tensor[]) => void) => {
    const [out, probs] = runKernel(tf, ATTENTION_KERNEL, { qkv: x }, attrs) as [Tensor, Tensor];
    save([x, probs]);
    return {
      value: out,
      gradFunc: (dy: Tensor, saved: Tensor[]) => runKernel(tf, ATTENTION_GRAD_KERNEL, { qkv: saved[0]!, probs: saved[1]!, dy }, attrs)[0]!,
    };
  }) as never) as (a: Tensor) => Tensor;
  return f(qkv);
}

/** Attention composed from tfjs ops: q, k, v [b·seq, d] → [b·seq, d] (heads split out by transposes and merged back). */
function attendHeads(tf: TF, q: Tensor, k: Tensor, v: Tensor, seq: number, heads: number): Tensor {
  const [rows, d] = q.shape as [number, number];
  const b = rows / seq;
  const dh = d / heads;
  const split = (t: Tensor) => tf.reshape(tf.transpose(tf.reshape(t, [b, seq, heads, dh]), [0, 2, 1, 3]), [b * heads, seq, dh]);
  const scores = tf.mul(tf.matMul(split(q), split(k), false, true), 1 / Math.sqrt(dh));
  const att = tf.matMul(tf.softmax(scores), split(v)); // [b·heads, seq, dh]
  return tf.reshape(tf.transpose(tf.reshape(att, [b, heads, seq, dh]), [0, 2, 1, 3]), [rows, d]);
}

type Tensor2D = import('@tensorflow/tfjs').Tensor2D;

export function defineBatchNorm(store: ParamStore, name: string, channels: number): void {
  store.create(`${name}.gamma`, [channels], { kind: 'ones' });
  store.create(`${name}.beta`, [channels], { kind: 'zeros' });
  store.create(`${name}.mean`, [channels], { kind: 'zeros' }, false);
  store.create(`${name}.var`, [channels], { kind: 'ones' }, false);
}

/**
 * batchNorm followed by LeakyReLU(alpha), fused on wasm (α ≥ 0): in training
 * batchNormLeakyTraining, in inference one pass, leaky((x − μ)·s + β) with the
 * running moments (the bits of the composition batchNorm then tf.leakyRelu).
 */
export function batchNormLeaky(tf: TF, store: ParamStore, name: string, x: Tensor, pass: Pass, alpha: number, eps = 1e-3): Tensor {
  return batchNormLeakyMaybePooled(tf, store, name, x, pass, alpha, eps, false);
}

/** downsample2(batchNormLeaky(x)), x [b, L, C]: on wasm the pooling (and in training its gradient) runs inside batch norm's passes. */
export function batchNormLeakyPool(tf: TF, store: ParamStore, name: string, x: Tensor, pass: Pass, alpha: number, eps = 1e-3): Tensor {
  return batchNormLeakyMaybePooled(tf, store, name, x, pass, alpha, eps, true);
}

function batchNormLeakyMaybePooled(tf: TF, store: ParamStore, name: string, x: Tensor, pass: Pass, alpha: number, eps: number, pool: boolean): Tensor {
  const gamma = store.get(`${name}.gamma`);
  const beta = store.get(`${name}.beta`);
  if (pass.training) return batchNormLeakyTraining(tf, x, gamma, beta, eps, alpha, recordMoments(tf, name, pass), pool);
  const poolable = !pool || (x.rank === 3 && x.shape[1]! % 2 === 0);
  if (alpha < 0 || !poolable || tf.getKernel(BN_AFFINE_LEAKY, tf.getBackend()) === undefined) {
    const y = tf.leakyRelu(batchNorm(tf, store, name, x, pass, eps), alpha);
    return pool ? downsample2(tf, y) : y;
  }
  const inputs = { x, mean: store.get(`${name}.mean`), s: inferenceScale(tf, store, name, eps), beta };
  return tf.engine().runKernel(BN_AFFINE_LEAKY, inputs as never, { alpha, pool: pool ? 1 : 0 } as never) as Tensor;
}

/** s = γ/√(running variance + eps): inference's per-channel scale of x − μ. */
function inferenceScale(tf: TF, store: ParamStore, name: string, eps: number): Tensor {
  return tf.mul(store.get(`${name}.gamma`), tf.rsqrt(tf.add(store.get(`${name}.var`), eps)));
}

function recordMoments(tf: TF, name: string, pass: Pass): (mean: Tensor, variance: Tensor) => void {
  return (mean, variance) => {
    if (pass.bnStats) pass.bnStats.set(name, { mean: tf.keep(mean), variance: tf.keep(variance) });
  };
}

/** Batch normalisation over every axis but the last (channels). Training mode uses the batch
 * moments and records them in `pass.bnStats`; inference uses the running averages. */
export function batchNorm(tf: TF, store: ParamStore, name: string, x: Tensor, pass: Pass, eps = 1e-3): Tensor {
  const gamma = store.get(`${name}.gamma`);
  const beta = store.get(`${name}.beta`);
  // (x − μ)·s + β, s = γ/σ: as training's y = d·s + β, and as batchNormLeaky's fused inference pass
  if (!pass.training) return tf.add(tf.mul(tf.sub(x, store.get(`${name}.mean`)), inferenceScale(tf, store, name, eps)), beta);
  return batchNormTraining(tf, x, gamma, beta, eps, recordMoments(tf, name, pass));
}

/**
 * y = γ·(x − μ)/σ + β with the batch's moments μ, σ² over every axis but the
 * last, and its gradient in closed form:
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = (γ/σ)·(dy − mean(dy) − x̂·mean(dy·x̂)),  x̂ = (x − μ)/σ
 * (five passes over the activation backwards, four forwards; tfjs's
 * autodiff through the moments made some twenty, each a full pass over
 * memory; on wasm two and two, fused). `moments` receives μ and σ² (for the
 * running averages).
 */
export function batchNormTraining(
  tf: TF, x: Tensor, gamma: Tensor, beta: Tensor, eps: number,
  moments?: (mean: Tensor, variance: Tensor) => void,
): Tensor {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const count = x.size / x.shape[x.rank - 1]!;
  // On wasm the passes over the activation run fused, with the same bits (./kernels/batch-norm.ts).
  const fused = tf.getKernel(BN_MOMENTS, tf.getBackend()) !== undefined;
  const run = (name: string, inputs: Record<string, Tensor>): Tensor | Tensor[] => tf.engine().runKernel(name, inputs as never) as never;
  const f = tf.customGrad(((xx: Tensor, g: Tensor, b: Tensor, save: (ts: Tensor[]) => void) => {
    let mean: Tensor;
    let d: Tensor;
    let variance: Tensor;
    if (fused) [mean, d, variance] = run(BN_MOMENTS, { x: xx }) as [Tensor, Tensor, Tensor];
    else {
      mean = tf.mean(xx, axes);
      d = tf.sub(xx, mean);
      variance = tf.mean(tf.square(d), axes);
    }
    const r = tf.rsqrt(tf.add(variance, eps));
    const s = tf.mul(g, r);
    moments?.(mean, variance);
    const y = fused ? run(BN_AFFINE, { d, s, beta: b }) as Tensor : tf.add(tf.mul(d, s), b);
    save([d, r, s]);
    return {
      value: y,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sd, sr, ss] = saved as [Tensor, Tensor, Tensor];
        const [dBeta, dyD] = fused ? run(BN_GRAD_SUMS, { dy, d: sd }) as [Tensor, Tensor] : [tf.sum(dy, axes), tf.sum(tf.mul(dy, sd), axes)];
        const { dGamma, k, c } = bnGradCoefficients(tf, dBeta, dyD, sr, ss, count);
        const dx = fused ? run(BN_GRAD_INPUT, { dy, d: sd, s: ss, k, c }) as Tensor : tf.add(tf.add(tf.mul(dy, ss), tf.mul(sd, k)), c);
        return [dx, dGamma, dBeta];
      },
    };
  }) as never) as (a: Tensor, b: Tensor, c: Tensor) => Tensor;
  return f(x, gamma, beta);
}

/**
 * dγ = Σ(dy·d)·r and the per-channel k = −s·r²·Σ(dy·d)/N, c = −s·Σdy/N of
 * dx = dy·s + d·k + c, from the sums Σdy (= dβ) and Σ(dy·d), r = 1/σ, s = γ·r.
 */
function bnGradCoefficients(tf: TF, dBeta: Tensor, dyD: Tensor, r: Tensor, s: Tensor, count: number): { dGamma: Tensor; k: Tensor; c: Tensor } {
  return {
    dGamma: tf.mul(dyD, r),
    k: tf.mul(tf.mul(s, tf.square(r)), tf.mul(dyD, -1 / count)),
    c: tf.mul(s, tf.mul(dBeta, -1 / count)),
  };
}

/**
 * batchNormTraining followed by tf.leakyRelu(·, alpha): the same numbers,
 * and on wasm (alpha ≥ 0) the LeakyReLU and its gradient run inside batch
 * normalisation's passes (./kernels/conv1d-passes.ts), two passes each way
 * instead of three forward and five backward, the same bits. Those passes
 * recompute x − μ and the LeakyReLU's input from x, so the backward pass
 * keeps x and the per-channel vectors only (no centred copy, no output).
 * With `pool`, downsample2 of all that (x [b, L, C], L even): on wasm the
 * pooling and its gradient run inside the same passes, the same bits.
 */
export function batchNormLeakyTraining(
  tf: TF, x: Tensor, gamma: Tensor, beta: Tensor, eps: number, alpha: number,
  moments?: (mean: Tensor, variance: Tensor) => void, pool = false,
): Tensor {
  const poolable = !pool || (x.rank === 3 && x.shape[1]! % 2 === 0);
  if (alpha < 0 || !poolable || tf.getKernel(BN_AFFINE_LEAKY, tf.getBackend()) === undefined) {
    const y = tf.leakyRelu(batchNormTraining(tf, x, gamma, beta, eps, moments), alpha);
    return pool ? downsample2(tf, y) : y;
  }
  const count = x.size / x.shape[x.rank - 1]!;
  const run = (name: string, inputs: Record<string, Tensor>, attrs: Record<string, number> = {}): Tensor | Tensor[] =>
    tf.engine().runKernel(name, inputs as never, attrs as never) as never;
  const leak = { alpha, pool: pool ? 1 : 0 };
  const f = tf.customGrad(((xx: Tensor, g: Tensor, b: Tensor, save: (ts: Tensor[]) => void) => {
    const [mean, variance] = run(BN_MEAN_VARIANCE, { x: xx }) as [Tensor, Tensor];
    const r = tf.rsqrt(tf.add(variance, eps));
    const s = tf.mul(g, r);
    moments?.(mean, variance);
    save([xx, mean, r, s, b]);
    return {
      value: run(BN_AFFINE_LEAKY, { x: xx, mean, s, beta: b }, leak) as Tensor,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sm, sr, ss, sb] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor];
        const v = { x: sx, mean: sm, s: ss, beta: sb };
        // the sums and bnGradCoefficients' per-channel products in one kernel
        const [dBeta, dGamma, k, c] = run(BN_LEAKY_GRAD_SUMS, { dy, ...v, r: sr }, { ...leak, count }) as Tensor[];
        return [run(BN_LEAKY_GRAD_INPUT, { dy, ...v, k: k!, c: c! }, leak) as Tensor, dGamma!, dBeta!];
      },
    };
  }) as never) as (a: Tensor, b: Tensor, c: Tensor) => Tensor;
  return f(x, gamma, beta);
}

/** The running averages' momentum: r ← r·m + x·(1 − m) after every training step. */
export const BN_MOMENTUM = 0.9;

/**
 * updateBatchNorm's update of one running average, r ← r·m + x·(1 − m), on arrays in place, with the
 * bits of its float32 tensor ops (Mul by m, Mul by 1 − m, Add; the scalars float32): a product of two
 * float32 values is exact in a double, so rounding it once gives the float32 product, and the double
 * sum of two float32 values rounded to float32 is the float32 sum (53 ≥ 2·24 + 2 bits).
 */
export function emaFloat32(running: Float32Array, batch: Float32Array, momentum = BN_MOMENTUM): void {
  if (batch.length !== running.length) throw new Error(`emaFloat32: ${batch.length} batch values for ${running.length} running ones`);
  const keep = Math.fround(momentum);
  const take = Math.fround(1 - momentum);
  for (let i = 0; i < running.length; i++) running[i] = Math.fround(running[i]! * keep) + Math.fround(batch[i]! * take);
}

/** Updates the running averages of batch-norm layers from `pass.bnStats` and disposes the stats. */
export function updateBatchNorm(tf: TF, store: ParamStore, pass: Pass, momentum = BN_MOMENTUM): void {
  if (!pass.bnStats) return;
  for (const [name, { mean, variance }] of pass.bnStats) {
    const rm = store.get(`${name}.mean`);
    const rv = store.get(`${name}.var`);
    if (movingAveragesInPlace(tf, [rm, rv], [mean, variance], momentum)) {
      mean.dispose();
      variance.dispose();
      continue;
    }
    tf.tidy(() => {
      rm.assign(tf.add(tf.mul(rm, momentum), tf.mul(mean, 1 - momentum)));
      rv.assign(tf.add(tf.mul(rv, momentum), tf.mul(variance, 1 - momentum)));
    });
    mean.dispose();
    variance.dispose();
  }
  pass.bnStats.clear();
}

/**
 * emaFloat32 of each pair on wasm, over the averages' own memory: updateBatchNorm's bits without its
 * ~10 tfjs ops per average and step (two scalars uploaded, Mul, Mul, Add, an assign), which a Conv-1D
 * step with its batch norms ran outside the gradient. False (nothing written) where that cannot be
 * done: another backend, or an average whose memory another tensor shares.
 */
function movingAveragesInPlace(tf: TF, averages: Variable[], values: Tensor[], momentum: number): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const backend = tf.backend() as unknown as BackendWasm;
  if (!values.every((v, i) => v.dtype === 'float32' && v.size === averages[i]!.size)) return false;
  const own = averages.map((a) => ownedHeapView(backend, a));
  if (own.some((view) => !view)) return false;
  own.forEach((view, i) => emaFloat32(view!, backend.typedArrayFromHeap(values[i]!) as Float32Array, momentum));
  return true;
}

export function defineConv1d(store: ParamStore, name: string, kernel: number, inC: number, outC: number): void {
  store.create(`${name}.w`, [kernel, inC, outC], { kind: 'glorot', fanIn: kernel * inC, fanOut: kernel * outC });
  store.create(`${name}.b`, [outC], { kind: 'zeros' });
}

/**
 * x [b, L, inC] → [b, L, outC], 'same' padding, stride 1. `dataInput`: x is
 * data (the network's input), so its gradient is never needed and is not
 * computed (for the first layer, a full convolution per step).
 */
export function conv1d(tf: TF, store: ParamStore, name: string, x: Tensor, dataInput = false): Tensor {
  return conv1dSame(tf, x, store.get(`${name}.w`), store.get(`${name}.b`), { inputGrad: !dataInput });
}

type T3 = import('@tensorflow/tfjs').Tensor3D;
type T4 = import('@tensorflow/tfjs').Tensor4D;

/**
 * Stride-1 'same' Conv-1D, x [b, L, inC] * w [k, inC, outC] (+ bias [outC]).
 * For odd k its input gradient is computed as a forward convolution of dy
 * with the flipped, channel-swapped kernel (the same numbers as
 * Conv2DBackpropInput, whose col2im scatter costs more than the forward
 * kernel's GEMM on wasm: specflow's Conv-1D GEMM, src/ml/kernels/conv1d.ts),
 * the bias is added inside the convolution (tf.fused.conv2d: on wasm in the
 * GEMM's store, the same bits as a separate add) and its gradient is Σ dy.
 * With `inputGrad: false` the input's gradient is zeros (for data inputs,
 * whose gradient nothing reads).
 */
export function conv1dSame(tf: TF, x: Tensor, w: Tensor, bias?: Tensor, opts: { inputGrad?: boolean } = {}): Tensor {
  const k = w.shape[0]!;
  if (k % 2 === 0) {
    const y = tf.conv1d(x as T3, w as T3, 1, 'same');
    return bias ? tf.add(y, bias) : y;
  }
  const inputGrad = opts.inputGrad ?? true;
  const forward = (xx: Tensor, ww: Tensor, bb?: Tensor): Tensor => {
    if (!bb) return tf.conv1d(xx as T3, ww as T3, 1, 'same');
    const [b, l, ci] = xx.shape as [number, number, number];
    const co = ww.shape[2]!;
    const y = tf.fused.conv2d({
      x: tf.reshape(xx, [b, 1, l, ci]) as T4, filter: tf.reshape(ww, [1, k, ci, co]) as T4, strides: 1, pad: 'same', bias: bb,
    });
    return tf.reshape(y, [b, l, co]);
  };
  // On wasm both gradients are specflow kernels, the bias gradient a by-product
  // of the filter gradient's pass (./kernels/conv1d-grads.ts), with the same bits.
  const fused = tf.getKernel(CONV1D_FILTER_BIAS_GRAD, tf.getBackend()) !== undefined;
  const gradients = (dy: Tensor, sx: Tensor, sw: Tensor, withBias: boolean): Tensor[] => {
    if (fused) {
      const dx = inputGrad ? tf.engine().runKernel(CONV1D_INPUT_GRAD, { dy, w: sw } as never) as Tensor : tf.zerosLike(sx);
      const [dw, db] = tf.engine().runKernel(CONV1D_FILTER_BIAS_GRAD, { x: sx, dy } as never, { k } as never) as Tensor[];
      return withBias ? [dx, dw!, db!] : [dx, dw!];
    }
    const [b, l, ci] = sx.shape as [number, number, number];
    const co = dy.shape[2]!;
    const dx = inputGrad ? tf.conv1d(dy as T3, tf.reverse(tf.transpose(sw, [0, 2, 1]), 0) as T3, 1, 'same') : tf.zerosLike(sx);
    // the backend's own filter-gradient kernel (on wasm specflow's, one GEMM over the
    // overlapping input windows: ./kernels/conv2d-backprop-filter.ts)
    const dw = tf.engine().runKernel(
      'Conv2DBackpropFilter',
      { x: tf.reshape(sx, [b, 1, l, ci]), dy: tf.reshape(dy, [b, 1, l, co]) },
      { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [1, k, ci, co], dilations: [1, 1] } as never,
    ) as Tensor;
    // Σ dy over batch and length: what tf.add's gradient reduces a broadcast bias with
    return withBias ? [dx, tf.reshape(dw, [k, ci, co]), tf.sum(dy, [0, 1])] : [dx, tf.reshape(dw, [k, ci, co])];
  };
  if (!bias) {
    const f = tf.customGrad(((xx: Tensor, ww: Tensor, save: (ts: Tensor[]) => void) => {
      save([xx, ww]);
      return { value: forward(xx, ww), gradFunc: (dy: Tensor, [sx, sw]: Tensor[]) => gradients(dy, sx!, sw!, false) };
    }) as never) as (a: Tensor, b: Tensor) => Tensor;
    return f(x, w);
  }
  const f = tf.customGrad(((xx: Tensor, ww: Tensor, bb: Tensor, save: (ts: Tensor[]) => void) => {
    save([xx, ww]);
    return { value: forward(xx, ww, bb), gradFunc: (dy: Tensor, [sx, sw]: Tensor[]) => gradients(dy, sx!, sw!, true) };
  }) as never) as (a: Tensor, b: Tensor, c: Tensor) => Tensor;
  return f(x, w, bias);
}

/**
 * The decoder's conv1d(upsample2(x)), `${name}.w` [k, inC, outC] odd k: on
 * wasm computed at x's length rather than twice it. Output 2u + p sees x
 * through the taps j with ⌊(p + j − (k−1)/2)/2⌋ = o at x[u + o], so it is a
 * convolution of x with the per-phase sums of those taps, and both phases are
 * one 'same' convolution with the phase kernels side by side as 2·outC
 * channels ([b, L, 2·outC] is [b, 2L, outC] in memory): 2R+1 taps (R =
 * ⌈(k−1)/4⌉) for 2·outC channels on L positions, (2R+1)/k of the products
 * of k taps on 2L positions (0.6 for k = 15, 0.71 for 7), in all three passes
 * (the gradients of the tap sums are sums again). Elsewhere the
 * composition, with its bits.
 */
export function upsampleConv1d(tf: TF, store: ParamStore, name: string, x: Tensor): Tensor {
  const w = store.get(`${name}.w`);
  const bias = store.get(`${name}.b`);
  const [k, ci, co] = w.shape as [number, number, number];
  if (k % 2 === 0 || !pairKernels(tf)) return conv1dSame(tf, upsample2(tf, x), w, bias);
  const [b, l] = x.shape as [number, number, number];
  const { matrix, taps } = phaseTaps(k);
  // [2·taps, k]·w[k, ci·co] → W'[taps, ci, 2·co] with phase p at channels p·co…
  const phases = tf.matMul(tf.tensor2d(matrix, [2 * taps, k]), tf.reshape(w, [k, ci * co]));
  const wp = tf.reshape(tf.transpose(tf.reshape(phases, [2, taps, ci, co]), [1, 2, 0, 3]), [taps, ci, 2 * co]);
  return tf.reshape(conv1dSame(tf, x, wp, tf.concat([bias, bias])), [b, 2 * l, co]);
}

const phaseTapCache = new Map<number, { matrix: Float32Array; taps: number }>();

/** The 0/1 matrix [2·taps, k] that sums a kernel of odd length k's taps into the two phase kernels of upsampleConv1d. */
export function phaseTaps(k: number): { matrix: Float32Array; taps: number } {
  let cached = phaseTapCache.get(k);
  if (cached) return cached;
  const half = (k - 1) / 2;
  const offset = (p: number, j: number) => Math.floor((p + j - half) / 2);
  const r = Math.max(...[0, 1].flatMap((p) => [Math.abs(offset(p, 0)), Math.abs(offset(p, k - 1))]));
  const taps = 2 * r + 1;
  const matrix = new Float32Array(2 * taps * k);
  for (let p = 0; p < 2; p++) for (let j = 0; j < k; j++) matrix[(p * taps + offset(p, j) + r) * k + j] = 1;
  cached = { matrix, taps };
  phaseTapCache.set(k, cached);
  return cached;
}

/** Average pooling by 2 along the length axis: [b, L, C] → [b, L/2, C] (L even). */
export function downsample2(tf: TF, x: Tensor): Tensor {
  const [b, l, c] = x.shape as [number, number, number];
  // Its gradient, dy/2 to both members of each pair, as a broadcast product:
  // tfjs's Mean gradient builds a ones tensor of the input's size in
  // JavaScript each step and multiplies by it (the same bits: dy·1/2 = dy·0.5).
  // On wasm both directions are one pass each, the same bits (./kernels/conv1d-passes.ts).
  const paired = pairKernels(tf);
  const f = tf.customGrad(((xx: Tensor) => ({
    value: paired ? paired.sum(xx, 0.5) : tf.mean(tf.reshape(xx, [b, l / 2, 2, c]), 2),
    gradFunc: (dy: Tensor) => paired
      ? paired.dup(dy, 0.5)
      : tf.reshape(tf.mul(tf.reshape(dy, [b, l / 2, 1, c]), tf.fill([1, 1, 2, 1], 0.5)), [b, l, c]),
  })) as never) as (a: Tensor) => Tensor;
  return f(x);
}

/** Nearest-neighbour upsampling by 2 along the length axis: [b, L, C] → [b, 2L, C]. */
export function upsample2(tf: TF, x: Tensor): Tensor {
  const [b, l, c] = x.shape as [number, number, number];
  // a broadcast product rather than concat([x, x]): its gradient is a sum over
  // the pair instead of a strided split, 2–7× cheaper on wasm
  const paired = pairKernels(tf);
  if (paired) {
    // each element copied twice; its gradient the pair's sum, as tfjs's Sum adds it
    const f = tf.customGrad(((xx: Tensor) => ({ value: paired.dup(xx, 1), gradFunc: (dy: Tensor) => paired.sum(dy, 1) })) as never) as (a: Tensor) => Tensor;
    return f(x);
  }
  const x4 = tf.reshape(x, [b, l, 1, c]);
  return tf.reshape(tf.mul(x4, tf.ones([1, 1, 2, 1])), [b, 2 * l, c]);
}

/** The pair kernels of ./kernels/conv1d-passes.ts where the backend has them. */
function pairKernels(tf: TF): { sum(x: Tensor, scale: number): Tensor; dup(x: Tensor, scale: number): Tensor } | undefined {
  if (tf.getKernel(PAIR_SUM, tf.getBackend()) === undefined) return undefined;
  const run = (name: string, x: Tensor, scale: number): Tensor => tf.engine().runKernel(name, { x } as never, { scale } as never) as never;
  return { sum: (x, scale) => run(PAIR_SUM, x, scale), dup: (x, scale) => run(PAIR_DUP, x, scale) };
}

/** Fixed sinusoidal positional encoding [T, d] (Vaswani et al.). */
export function sinusoidalPositions(t: number, d: number): Float32Array {
  const out = new Float32Array(t * d);
  for (let pos = 0; pos < t; pos++) {
    for (let i = 0; i < d; i++) {
      const freq = Math.pow(10000, -(2 * Math.floor(i / 2)) / d);
      out[pos * d + i] = i % 2 === 0 ? Math.sin(pos * freq) : Math.cos(pos * freq);
    }
  }
  return out;
}
