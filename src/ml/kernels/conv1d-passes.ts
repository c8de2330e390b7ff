/**
 * Kernels specflow adds to the wasm backend for the Conv-1D autoencoder's
 * passes around its convolutions (not tfjs kernels: ../nn.ts calls them
 * inside tf.customGrad where they are registered, and composes tfjs ops
 * elsewhere, with the same bits):
 *
 *   SpecflowBnMeanVariance    x                              → [mean, variance]
 *   SpecflowBnAffineLeaky     x, mean, s, beta {alpha}       → leaky((x − mean)·s + beta)
 *   SpecflowBnLeakyGradSums   dy, x, mean, s, beta, r {alpha, count} → [dβ, dγ, k, c]
 *     dβ = Σ dz and, from Σ dz·d, dγ = Σ dz·d · r, k = −s·r²·Σ dz·d/N, c = −s·dβ/N
 *   SpecflowBnLeakyGradInput  dy, x, mean, s, beta, k, c {alpha} → (dz·s + d·k) + c
 *     with d = x − mean and dz = v > 0 ? dy : α·dy, the gradient through the
 *     LeakyReLU whose input is v = d·s + beta: batch normalisation and the
 *     LeakyReLU after it in two passes forward and two backward, where they
 *     took three and five. d and v are recomputed from x in each pass (the
 *     same operations, so the same bits) rather than written out and read back.
 *     With {pool: 1} (x [b, 2l, c]) the output is average-pooled by 2 along the
 *     length as SpecflowPairSum does it ([b, l, c]), and dy is that pooled
 *     output's gradient, spread as SpecflowPairDup(dy, 0.5) would: the
 *     encoder's pooling and its gradient without their own passes.
 *   SpecflowPairSum  x [b, 2l, c] {scale} → [b, l, c], (x[2i] + x[2i+1])·scale
 *   SpecflowPairDup  x [b, l, c] {scale}  → [b, 2l, c], both = x[i]·scale
 *     average pooling and nearest upsampling by 2 along the length and their
 *     gradients, one pass each (tfjs-wasm broadcasts a multiply slowly).
 */
import { layout } from './batch-norm.js';
import type { KernelArgs, TensorInfo } from './common.js';
import { dispose } from './common.js';
import { simdKernels } from './simd.js';

export const BN_MEAN_VARIANCE = 'SpecflowBnMeanVariance';
export const BN_AFFINE_LEAKY = 'SpecflowBnAffineLeaky';
export const BN_LEAKY_GRAD_SUMS = 'SpecflowBnLeakyGradSums';
export const BN_LEAKY_GRAD_INPUT = 'SpecflowBnLeakyGradInput';
export const PAIR_SUM = 'SpecflowPairSum';
export const PAIR_DUP = 'SpecflowPairDup';

export function bnMeanVariance(args: KernelArgs): TensorInfo[] {
  const { backend } = args;
  const { x } = args.inputs as { x: TensorInfo };
  const { rows, c } = layout(BN_MEAN_VARIANCE, x, [], []);
  const mean = backend.makeOutput([c], 'float32');
  const variance = backend.makeOutput([c], 'float32');
  const k = simdKernels(backend);
  // the bits of SpecflowBnMoments (./batch-norm.ts) without its d = x − mean
  k.exports.reduceMiddle(k.ptr(x), k.ptr(mean), 1, rows, c, 1 / rows);
  k.exports.bnVariance(k.ptr(x), k.ptr(mean), k.ptr(variance), rows, c, 1 / rows);
  return [mean, variance];
}

interface LeakyAttrs {
  alpha: number;
  /** 1: the output average-pooled by 2 along the length (x [b, 2l, c], dy [b, l, c]) */
  pool?: number;
}

/** The pooled shape [b, l/2, c] of x [b, l, c] (l even), checked. */
function pooledShape(kernel: string, x: TensorInfo): number[] {
  const [b, l, c] = rank3(kernel, x);
  if (l % 2 !== 0) throw new Error(`${kernel}: pooling by 2 needs an even length, got ${l}`);
  return [b, l / 2, c];
}

/** dy's layout against x's: the same shape, or with `pool` x's pooled shape. */
function gradLayout(kernel: string, dy: TensorInfo, x: TensorInfo, perChannel: TensorInfo[], pool: boolean): { rows: number; c: number } {
  if (!pool) return layout(kernel, dy, [x], perChannel);
  const want = pooledShape(kernel, x);
  if (dy.dtype !== 'float32' || dy.shape.join() !== want.join()) throw new Error(`${kernel}: expected a float32 dy of shape ${want}, got ${dy.shape} (${dy.dtype})`);
  return layout(kernel, x, [], perChannel);
}

export function bnAffineLeaky(args: KernelArgs<LeakyAttrs>): TensorInfo {
  const { backend, attrs } = args;
  const { x, mean, s, beta } = args.inputs as { x: TensorInfo; mean: TensorInfo; s: TensorInfo; beta: TensorInfo };
  const { rows, c } = layout(BN_AFFINE_LEAKY, x, [], [mean, s, beta]);
  const pool = attrs.pool === 1;
  const y = backend.makeOutput(pool ? pooledShape(BN_AFFINE_LEAKY, x) : x.shape, 'float32');
  const k = simdKernels(backend);
  if (pool) k.exports.bnAffineLeakyPool(k.ptr(x), k.ptr(mean), k.ptr(s), k.ptr(beta), k.ptr(y), rows / 2, c, attrs.alpha);
  else k.exports.bnAffineLeaky(k.ptr(x), k.ptr(mean), k.ptr(s), k.ptr(beta), k.ptr(y), rows, c, attrs.alpha);
  return y;
}

/**
 * The gradient's per-channel sums and, from them, the coefficients of dx
 * (../nn.ts bnGradCoefficients: the same products, rounded the same way),
 * so the backward pass's small per-channel ops are not seven tfjs kernels.
 */
export function bnLeakyGradSums(args: KernelArgs<LeakyAttrs & { count: number }>): TensorInfo[] {
  const { backend, attrs } = args;
  const { dy, x, mean, s, beta, r } = args.inputs as { dy: TensorInfo; x: TensorInfo; mean: TensorInfo; s: TensorInfo; beta: TensorInfo; r: TensorInfo };
  const pool = attrs.pool === 1;
  const { rows, c } = gradLayout(BN_LEAKY_GRAD_SUMS, dy, x, [mean, s, beta, r], pool);
  const [dBeta, sumDzD, dGamma, kk, cc] = [0, 1, 2, 3, 4].map(() => backend.makeOutput([c], 'float32'));
  const k = simdKernels(backend);
  k.exports.bnLeakyGradSums(k.ptr(dy), k.ptr(x), k.ptr(mean), k.ptr(s), k.ptr(beta), k.ptr(dBeta!), k.ptr(sumDzD!), rows, c, attrs.alpha, pool ? 1 : 0);
  // −1/N as tfjs makes it: the float32 of the double
  k.exports.bnGradCoefficients(k.ptr(dBeta!), k.ptr(sumDzD!), k.ptr(r), k.ptr(s), k.ptr(dGamma!), k.ptr(kk!), k.ptr(cc!), c, Math.fround(-1 / attrs.count));
  dispose(backend, sumDzD);
  return [dBeta!, dGamma!, kk!, cc!];
}

export function bnLeakyGradInput(args: KernelArgs<LeakyAttrs>): TensorInfo {
  const { backend, attrs } = args;
  const { dy, x, mean, s, beta, k: kk, c: cc } = args.inputs as {
    dy: TensorInfo; x: TensorInfo; mean: TensorInfo; s: TensorInfo; beta: TensorInfo; k: TensorInfo; c: TensorInfo;
  };
  const pool = attrs.pool === 1;
  const { rows, c } = gradLayout(BN_LEAKY_GRAD_INPUT, dy, x, [mean, s, beta, kk, cc], pool);
  const dx = backend.makeOutput(x.shape, 'float32');
  const k = simdKernels(backend);
  k.exports.bnLeakyGradInput(
    k.ptr(dy), k.ptr(x), k.ptr(mean), k.ptr(s), k.ptr(beta), k.ptr(kk), k.ptr(cc), k.ptr(dx), rows, c, attrs.alpha, pool ? 1 : 0,
  );
  return dx;
}

function rank3(kernel: string, x: TensorInfo): [number, number, number] {
  if (x.dtype !== 'float32' || x.shape.length !== 3) throw new Error(`${kernel}: expected a float32 [batch, length, channels] input, got ${x.shape} (${x.dtype})`);
  return x.shape as [number, number, number];
}

export function pairSum(args: KernelArgs<{ scale: number }>): TensorInfo {
  const { backend, attrs } = args;
  const { x } = args.inputs as { x: TensorInfo };
  const [b, l, c] = rank3(PAIR_SUM, x);
  if (l % 2 !== 0) throw new Error(`${PAIR_SUM}: length ${l} is odd`);
  const out = backend.makeOutput([b, l / 2, c], 'float32');
  const k = simdKernels(backend);
  k.exports.pairSum(k.ptr(x), k.ptr(out), (b * l) / 2, c, attrs.scale);
  return out;
}

export function pairDup(args: KernelArgs<{ scale: number }>): TensorInfo {
  const { backend, attrs } = args;
  const { x } = args.inputs as { x: TensorInfo };
  const [b, l, c] = rank3(PAIR_DUP, x);
  const out = backend.makeOutput([b, 2 * l, c], 'float32');
  const k = simdKernels(backend);
  k.exports.pairDup(k.ptr(x), k.ptr(out), b * l, c, attrs.scale);
  return out;
}
