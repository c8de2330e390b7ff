/**
 * The autoencoder's input scaling and mean squared error, one pass each
 * (kernels specflow adds to the wasm backend; see ../autoencoder.ts). tfjs
 * composes them from Sub and RealDiv, and from SquaredDifference and Mean,
 * and the MSE's gradient from Sub and Multiply: six passes over the batch per
 * step become three (SpecflowScaleShift, SpecflowMse, and one Multiply of the
 * difference SpecflowMse leaves for the gradient), with the same bits.
 *
 * SpecflowScaleShift: inputs x [..., d] and center (d values), attr scale;
 * output (x − center) / scale. SpecflowMse: inputs p and t of one shape;
 * outputs [mean((p − t)²) as a scalar, p − t].
 */
import type { KernelArgs, TensorInfo } from './common.js';
import { sizeOf } from './common.js';
import { simdKernels } from './simd.js';

export const SCALE_SHIFT_KERNEL = 'SpecflowScaleShift';
export const MSE_KERNEL = 'SpecflowMse';

export function scaleShift(args: KernelArgs<{ scale: number }>): TensorInfo {
  const { backend, attrs } = args;
  const { x, center } = args.inputs as { x: TensorInfo; center: TensorInfo };
  const period = sizeOf(center.shape);
  const n = sizeOf(x.shape);
  if (x.dtype !== 'float32' || center.dtype !== 'float32' || period === 0 || n % period !== 0 || x.shape[x.shape.length - 1] !== period) {
    throw new Error(`${SCALE_SHIFT_KERNEL}: x ${x.shape} (${x.dtype}) does not end in center's ${period} float32 values`);
  }
  const out = backend.makeOutput(x.shape, 'float32');
  if (n === 0) return out;
  const simd = simdKernels(backend);
  simd.exports.scaleShiftF32(simd.ptr(x), simd.ptr(center), simd.ptr(out), n, period, attrs.scale);
  return out;
}

export function mse(args: KernelArgs<Record<string, never>>): TensorInfo[] {
  const { backend } = args;
  const { p, t } = args.inputs as { p: TensorInfo; t: TensorInfo };
  const n = sizeOf(p.shape);
  if (p.dtype !== 'float32' || t.dtype !== 'float32' || p.shape.length !== t.shape.length || p.shape.some((d, i) => d !== t.shape[i])) {
    throw new Error(`${MSE_KERNEL}: p ${p.shape} (${p.dtype}) and t ${t.shape} (${t.dtype}) must be float32 of one shape`);
  }
  const loss = backend.makeOutput([], 'float32');
  const diff = backend.makeOutput(p.shape, 'float32');
  const simd = simdKernels(backend);
  // 1/n as the Mean kernel scales its sum (a float32 argument: the same rounding)
  const value = n === 0 ? NaN : simd.exports.mseF32(simd.ptr(p), simd.ptr(t), simd.ptr(diff), n, 1 / n);
  backend.typedArrayFromHeap(loss)[0] = value;
  return [loss, diff];
}
