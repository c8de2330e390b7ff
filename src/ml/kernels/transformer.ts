/**
 * Kernels specflow adds to the wasm backend for the Transformer autoencoder
 * (not tfjs kernels; ../nn.ts calls them inside tf.customGrad — the add +
 * layer norm, with two used outputs, through a registered gradient — and
 * composes the same functions from tfjs ops on backends without them):
 * - SpecflowLayerNorm {x, gamma, beta} → [y, μ, r] and its gradient
 *   SpecflowLayerNormGrad {dy, x, mean, rstd, gamma[, dres]} → [dx, dγ, dβ]
 *   (x̂ recomputed from x, μ and r; dres, when given, is added to dx)
 * - SpecflowAddLayerNorm {x, residual, gamma, beta} → [x + residual, y, μ, r]:
 *   a residual branch joining the stream and the next layer norm in one pass
 *   (its gradient is SpecflowLayerNormGrad with dres, ../nn.ts); a residual
 *   of fewer rows than x repeats down it (the positional encoding added to
 *   the embedded tokens, with the first block's layer norm)
 * - SpecflowGelu {x} → [y, Φ(x)] and SpecflowGeluGrad {x, cdf, dy} → dx
 * - SpecflowAttention {qkv} → [out, probs] and SpecflowAttentionGrad
 *   {qkv, probs, dy} → dqkv: multi-head self-attention read from and written
 *   to the fused Q/K/V projection's layout, so heads are never transposed.
 *   probs holds each (sample, head)'s probabilities transposed, [b·heads,
 *   seq, seq rounded up to 4] (see wasm/kernels.ts): only these two kernels read it.
 * Each is one pass (wasm/kernels.ts) where tfjs's composition makes 10–25.
 */
import type { BackendWasm, KernelArgs, TensorInfo } from './common.js';
import { sizeOf } from './common.js';
import { simdKernels } from './simd.js';

export const LAYER_NORM_KERNEL = 'SpecflowLayerNorm';
export const LAYER_NORM_GRAD_KERNEL = 'SpecflowLayerNormGrad';
export const ADD_LAYER_NORM_KERNEL = 'SpecflowAddLayerNorm';
export const GELU_KERNEL = 'SpecflowGelu';
export const GELU_GRAD_KERNEL = 'SpecflowGeluGrad';
export const ATTENTION_KERNEL = 'SpecflowAttention';
export const ATTENTION_GRAD_KERNEL = 'SpecflowAttentionGrad';

function expectFloat(kernel: string, name: string, t: TensorInfo, size: number): void {
  if (t.dtype !== 'float32' || sizeOf(t.shape) !== size) {
    throw new Error(`${kernel}: input ${name} has shape ${t.shape} (${t.dtype}), expected ${size} float32 values`);
  }
}

/** Rows and width of a layer norm's input, its parameters checked. */
function layerNormDims(kernel: string, x: TensorInfo, gamma: TensorInfo, beta?: TensorInfo): { rows: number; d: number } {
  const d = x.shape[x.shape.length - 1]!;
  const rows = sizeOf(x.shape) / d;
  expectFloat(kernel, 'x', x, rows * d);
  expectFloat(kernel, 'gamma', gamma, d);
  if (beta) expectFloat(kernel, 'beta', beta, d);
  return { rows, d };
}

export function layerNorm(args: KernelArgs<{ eps: number }>): TensorInfo[] {
  const { backend, attrs } = args;
  const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { rows, d } = layerNormDims(LAYER_NORM_KERNEL, x, gamma, beta);
  const y = backend.makeOutput(x.shape, 'float32');
  const mean = backend.makeOutput([rows], 'float32');
  const rstd = backend.makeOutput([rows], 'float32');
  const simd = simdKernels(backend);
  simd.exports.layerNormResidual(simd.ptr(x), 0, 0, simd.ptr(gamma), simd.ptr(beta), 0, simd.ptr(y), simd.ptr(mean), simd.ptr(rstd), rows, d, attrs.eps);
  return [y, mean, rstd];
}

export function addLayerNorm(args: KernelArgs<{ eps: number }>): TensorInfo[] {
  const { backend, attrs } = args;
  const { x, residual, gamma, beta } = args.inputs as { x: TensorInfo; residual: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { rows, d } = layerNormDims(ADD_LAYER_NORM_KERNEL, x, gamma, beta);
  // a residual of fewer rows repeats down x (whole copies only)
  const resRows = sizeOf(residual.shape) / d;
  if (residual.shape[residual.shape.length - 1] !== d || !Number.isInteger(resRows) || resRows === 0 || rows % resRows !== 0) {
    throw new Error(`${ADD_LAYER_NORM_KERNEL}: residual has shape ${residual.shape}, expected rows of ${d} repeating whole down ${rows} rows`);
  }
  expectFloat(ADD_LAYER_NORM_KERNEL, 'residual', residual, resRows * d);
  const sum = backend.makeOutput(x.shape, 'float32');
  const y = backend.makeOutput(x.shape, 'float32');
  const mean = backend.makeOutput([rows], 'float32');
  const rstd = backend.makeOutput([rows], 'float32');
  const simd = simdKernels(backend);
  simd.exports.layerNormResidual(
    simd.ptr(x), simd.ptr(residual), resRows, simd.ptr(gamma), simd.ptr(beta), simd.ptr(sum), simd.ptr(y), simd.ptr(mean), simd.ptr(rstd), rows, d, attrs.eps,
  );
  return [sum, y, mean, rstd];
}

export function layerNormGrad(args: KernelArgs<Record<string, never>>): TensorInfo[] {
  const { backend } = args;
  const { dy, x, mean, rstd, gamma, dres } = args.inputs as {
    dy: TensorInfo; x: TensorInfo; mean: TensorInfo; rstd: TensorInfo; gamma: TensorInfo; dres?: TensorInfo;
  };
  const { rows, d } = layerNormDims(LAYER_NORM_GRAD_KERNEL, x, gamma);
  expectFloat(LAYER_NORM_GRAD_KERNEL, 'dy', dy, rows * d);
  expectFloat(LAYER_NORM_GRAD_KERNEL, 'mean', mean, rows);
  expectFloat(LAYER_NORM_GRAD_KERNEL, 'rstd', rstd, rows);
  if (dres) expectFloat(LAYER_NORM_GRAD_KERNEL, 'dres', dres, rows * d);
  const dx = backend.makeOutput(x.shape, 'float32');
  const dgamma = backend.makeOutput(gamma.shape, 'float32');
  const dbeta = backend.makeOutput(gamma.shape, 'float32');
  const simd = simdKernels(backend);
  simd.exports.layerNormResidualGrad(
    simd.ptr(dy), simd.ptr(x), simd.ptr(mean), simd.ptr(rstd), simd.ptr(gamma), dres ? simd.ptr(dres) : 0,
    simd.ptr(dx), simd.ptr(dgamma), simd.ptr(dbeta), rows, d,
  );
  return [dx, dgamma, dbeta];
}

/** GELU and the normal CDF Φ(x) its gradient needs (which saves computing erf again backwards). */
export function gelu(args: KernelArgs<Record<string, never>>): TensorInfo[] {
  const { backend } = args;
  const { x } = args.inputs as { x: TensorInfo };
  const n = sizeOf(x.shape);
  expectFloat(GELU_KERNEL, 'x', x, n);
  const out = backend.makeOutput(x.shape, 'float32');
  const cdf = backend.makeOutput(x.shape, 'float32');
  const simd = simdKernels(backend);
  simd.exports.geluF32(simd.ptr(x), simd.ptr(out), simd.ptr(cdf), n);
  return [out, cdf];
}

export function geluGrad(args: KernelArgs<Record<string, never>>): TensorInfo {
  const { backend } = args;
  const { x, cdf, dy } = args.inputs as { x: TensorInfo; cdf: TensorInfo; dy: TensorInfo };
  const n = sizeOf(x.shape);
  expectFloat(GELU_GRAD_KERNEL, 'x', x, n);
  expectFloat(GELU_GRAD_KERNEL, 'cdf', cdf, n);
  expectFloat(GELU_GRAD_KERNEL, 'dy', dy, n);
  const out = backend.makeOutput(x.shape, 'float32');
  const simd = simdKernels(backend);
  simd.exports.geluGradF32(simd.ptr(x), simd.ptr(cdf), simd.ptr(dy), simd.ptr(out), n);
  return out;
}

export interface AttentionAttrs {
  /** Tokens per sample. */
  seq: number;
  heads: number;
  /** Multiplies the scores before the softmax (1/√dh). */
  scale: number;
}

/** Samples, model width and head width of a qkv [b·seq, 3·d] input. */
function attentionDims(kernel: string, qkv: TensorInfo, attrs: AttentionAttrs): { b: number; d: number; dh: number } {
  const [rows, width] = qkv.shape as [number, number];
  const { seq, heads } = attrs;
  if (qkv.shape.length !== 2 || qkv.dtype !== 'float32' || rows % seq !== 0 || width % (3 * heads) !== 0) {
    throw new Error(`${kernel}: qkv has shape ${qkv.shape} (${qkv.dtype}), expected [b·${seq}, 3·${heads}·dh] float32`);
  }
  return { b: rows / seq, d: width / 3, dh: width / 3 / heads };
}

/** Row length of the saved (transposed) probabilities: whole vectors of 4. */
function paddedSeq(seq: number): number {
  return (seq + 3) & ~3;
}

function attentionScratch(backend: BackendWasm, seq: number, dh: number, heads: number): number {
  const simd = simdKernels(backend);
  return simd.scratch(simd.exports.attentionScratchFloats(seq, dh, heads) * 4);
}

export function attention(args: KernelArgs<AttentionAttrs>): TensorInfo[] {
  const { backend, attrs } = args;
  const { qkv } = args.inputs as { qkv: TensorInfo };
  const { b, d, dh } = attentionDims(ATTENTION_KERNEL, qkv, attrs);
  const { seq, heads } = attrs;
  const out = backend.makeOutput([b * seq, d], 'float32');
  const probs = backend.makeOutput([b * heads, seq, paddedSeq(seq)], 'float32');
  const scratch = attentionScratch(backend, seq, dh, heads);
  const simd = simdKernels(backend);
  simd.exports.attention(simd.ptr(qkv), simd.ptr(out), simd.ptr(probs), b, seq, heads, dh, attrs.scale, scratch);
  return [out, probs];
}

export function attentionGrad(args: KernelArgs<AttentionAttrs>): TensorInfo {
  const { backend, attrs } = args;
  const { qkv, probs, dy } = args.inputs as { qkv: TensorInfo; probs: TensorInfo; dy: TensorInfo };
  const { b, d, dh } = attentionDims(ATTENTION_GRAD_KERNEL, qkv, attrs);
  const { seq, heads } = attrs;
  expectFloat(ATTENTION_GRAD_KERNEL, 'probs', probs, b * heads * seq * paddedSeq(seq));
  expectFloat(ATTENTION_GRAD_KERNEL, 'dy', dy, b * seq * d);
  const dqkv = backend.makeOutput(qkv.shape, 'float32');
  const scratch = attentionScratch(backend, seq, dh, heads);
  const simd = simdKernels(backend);
  simd.exports.attentionGrad(simd.ptr(qkv), simd.ptr(probs), simd.ptr(dy), simd.ptr(dqkv), b, seq, heads, dh, attrs.scale, scratch);
  return dqkv;
}
