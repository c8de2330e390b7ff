/**
 * Batch normalisation in training as four wasm kernels specflow adds (see
 * batchNormTraining in ../nn.ts, which uses them where they are registered
 * and composes tfjs ops elsewhere): the passes over the activation fused,
 * two forward and two backward instead of tfjs's six and seven, each with
 * the bits of the kernels it replaces (wasm/kernels.ts, "batch
 * normalisation"). The activation is [..., C], channels last; the
 * per-channel vectors have C values.
 *
 *   SpecflowBnMoments   x            → [mean, d = x − mean, variance]
 *   SpecflowBnAffine    d, s, beta   → d·s + beta
 *   SpecflowBnGradSums  dy, d        → [Σ dy, Σ dy·d]   (over every axis but the last)
 *   SpecflowBnGradInput dy, d, s, k, c → (dy·s + d·k) + c
 */
import type { KernelArgs, TensorInfo } from './common.js';
import { sizeOf } from './common.js';
import { simdKernels } from './simd.js';

export const BN_MOMENTS = 'SpecflowBnMoments';
export const BN_AFFINE = 'SpecflowBnAffine';
export const BN_GRAD_SUMS = 'SpecflowBnGradSums';
export const BN_GRAD_INPUT = 'SpecflowBnGradInput';

/** rows × channels of an activation, after checking every input is float32 with the channel vectors' length. */
export function layout(kernel: string, x: TensorInfo, big: TensorInfo[], perChannel: TensorInfo[]): { rows: number; c: number } {
  const c = x.shape[x.shape.length - 1] ?? 1;
  const size = sizeOf(x.shape);
  for (const t of [x, ...big]) {
    if (t.dtype !== 'float32' || sizeOf(t.shape) !== size) throw new Error(`${kernel}: expected float32 inputs of shape ${x.shape}, got ${t.shape} (${t.dtype})`);
  }
  for (const t of perChannel) {
    if (t.dtype !== 'float32' || sizeOf(t.shape) !== c) throw new Error(`${kernel}: expected float32 per-channel inputs of ${c} values, got ${t.shape} (${t.dtype})`);
  }
  return { rows: c === 0 ? 0 : size / c, c };
}

export function bnMoments(args: KernelArgs): TensorInfo[] {
  const { backend } = args;
  const { x } = args.inputs as { x: TensorInfo };
  const { rows, c } = layout(BN_MOMENTS, x, [], []);
  const mean = backend.makeOutput([c], 'float32');
  const d = backend.makeOutput(x.shape, 'float32');
  const variance = backend.makeOutput([c], 'float32');
  const k = simdKernels(backend);
  // tfjs's Mean over the rows is specflow's reduceMiddle with scale 1/rows (./reduce.ts)
  k.exports.reduceMiddle(k.ptr(x), k.ptr(mean), 1, rows, c, 1 / rows);
  k.exports.bnCenter(k.ptr(x), k.ptr(mean), k.ptr(d), k.ptr(variance), rows, c, 1 / rows);
  return [mean, d, variance];
}

export function bnAffine(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const { d, s, beta } = args.inputs as { d: TensorInfo; s: TensorInfo; beta: TensorInfo };
  const { rows, c } = layout(BN_AFFINE, d, [], [s, beta]);
  const y = backend.makeOutput(d.shape, 'float32');
  const k = simdKernels(backend);
  k.exports.bnAffine(k.ptr(d), k.ptr(s), k.ptr(beta), k.ptr(y), rows, c);
  return y;
}

export function bnGradSums(args: KernelArgs): TensorInfo[] {
  const { backend } = args;
  const { dy, d } = args.inputs as { dy: TensorInfo; d: TensorInfo };
  const { rows, c } = layout(BN_GRAD_SUMS, dy, [d], []);
  const sumDy = backend.makeOutput([c], 'float32');
  const sumDyD = backend.makeOutput([c], 'float32');
  const k = simdKernels(backend);
  k.exports.bnGradSums(k.ptr(dy), k.ptr(d), k.ptr(sumDy), k.ptr(sumDyD), rows, c);
  return [sumDy, sumDyD];
}

export function bnGradInput(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const { dy, d, s, k: kk, c: cc } = args.inputs as { dy: TensorInfo; d: TensorInfo; s: TensorInfo; k: TensorInfo; c: TensorInfo };
  const { rows, c } = layout(BN_GRAD_INPUT, dy, [d], [s, kk, cc]);
  const dx = backend.makeOutput(dy.shape, 'float32');
  const k = simdKernels(backend);
  k.exports.bnGradInput(k.ptr(dy), k.ptr(d), k.ptr(s), k.ptr(kk), k.ptr(cc), k.ptr(dx), rows, c);
  return dx;
}
