/**
 * Kernels specflow adds to the wasm backend for the Conv-1D autoencoder's
 * passes around its convolutions (not tfjs kernels: ../nn.ts calls them
 * inside tf.customGrad where they are registered, and composes tfjs ops
 * elsewhere, with the same bits):
 *
 *   SpecflowBnMeanVariance    x                              → [mean, variance]
 *   SpecflowBnAffineLeaky     x, mean, s, beta {alpha}       → leaky((x − mean)·s + beta)
 *   SpecflowBnLeakyGradSums   dy, x, mean, s, beta {alpha}   → [Σ dz, Σ dz·d]
 *   SpecflowBnLeakyGradInput  dy, x, mean, s, beta, k, c {alpha} → (dz·s + d·k) + c
 *     with d = x − mean and dz = v > 0 ? dy : α·dy, the gradient through the
 *     LeakyReLU whose input is v = d·s + beta: batch normalisation and the
 *     LeakyReLU after it in two passes forward and two backward, where they
 *     took three and five. d and v are recomputed from x in each pass (the
 *     same operations, so the same bits) rather than written out and read back.
 *   SpecflowPairSum  x [b, 2l, c] {scale} → [b, l, c], (x[2i] + x[2i+1])·scale
 *   SpecflowPairDup  x [b, l, c] {scale}  → [b, 2l, c], both = x[i]·scale
 *     average pooling and nearest upsampling by 2 along the length and their
 *     gradients, one pass each (tfjs-wasm broadcasts a multiply slowly).
 */
import { layout } from './batch-norm.js';
import type { KernelArgs, TensorInfo } from './common.js';
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

export function bnAffineLeaky(args: KernelArgs<{ alpha: number }>): TensorInfo {
  const { backend, attrs } = args;
  const { x, mean, s, beta } = args.inputs as { x: TensorInfo; mean: TensorInfo; s: TensorInfo; beta: TensorInfo };
  const { rows, c } = layout(BN_AFFINE_LEAKY, x, [], [mean, s, beta]);
  const y = backend.makeOutput(x.shape, 'float32');
  const k = simdKernels(backend);
  k.exports.bnAffineLeaky(k.ptr(x), k.ptr(mean), k.ptr(s), k.ptr(beta), k.ptr(y), rows, c, attrs.alpha);
  return y;
}

export function bnLeakyGradSums(args: KernelArgs<{ alpha: number }>): TensorInfo[] {
  const { backend, attrs } = args;
  const { dy, x, mean, s, beta } = args.inputs as { dy: TensorInfo; x: TensorInfo; mean: TensorInfo; s: TensorInfo; beta: TensorInfo };
  const { rows, c } = layout(BN_LEAKY_GRAD_SUMS, dy, [x], [mean, s, beta]);
  const sumDz = backend.makeOutput([c], 'float32');
  const sumDzD = backend.makeOutput([c], 'float32');
  const k = simdKernels(backend);
  k.exports.bnLeakyGradSums(k.ptr(dy), k.ptr(x), k.ptr(mean), k.ptr(s), k.ptr(beta), k.ptr(sumDz), k.ptr(sumDzD), rows, c, attrs.alpha);
  return [sumDz, sumDzD];
}

export function bnLeakyGradInput(args: KernelArgs<{ alpha: number }>): TensorInfo {
  const { backend, attrs } = args;
  const { dy, x, mean, s, beta, k: kk, c: cc } = args.inputs as {
    dy: TensorInfo; x: TensorInfo; mean: TensorInfo; s: TensorInfo; beta: TensorInfo; k: TensorInfo; c: TensorInfo;
  };
  const { rows, c } = layout(BN_LEAKY_GRAD_INPUT, dy, [x], [mean, s, beta, kk, cc]);
  const dx = backend.makeOutput(dy.shape, 'float32');
  const k = simdKernels(backend);
  k.exports.bnLeakyGradInput(k.ptr(dy), k.ptr(x), k.ptr(mean), k.ptr(s), k.ptr(beta), k.ptr(kk), k.ptr(cc), k.ptr(dx), rows, c, attrs.alpha);
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
