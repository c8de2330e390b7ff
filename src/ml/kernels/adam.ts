/**
 * SpecflowAdam: one Adam update of one variable in a single pass (a kernel
 * specflow adds to the wasm backend; see ../optimizer.ts). tf.train.adam
 * composes the same update from about sixteen elementwise kernels per
 * variable, each a full pass over memory with its own allocation.
 *
 * Inputs x (the variable), g (its gradient), m and v (the moments); attrs
 * lrT and epsT carry the bias corrections. Outputs [x', m', v'], new tensors.
 */
import type { KernelArgs, TensorInfo } from './common.js';
import { sizeOf } from './common.js';
import { simdKernels } from './simd.js';

export const ADAM_KERNEL = 'SpecflowAdam';

export interface AdamAttrs {
  lrT: number;
  beta1: number;
  beta2: number;
  epsT: number;
}

export function specflowAdam(args: KernelArgs<AdamAttrs>): TensorInfo[] {
  const { backend, attrs } = args;
  const { x, g, m, v } = args.inputs as { x: TensorInfo; g: TensorInfo; m: TensorInfo; v: TensorInfo };
  const size = sizeOf(x.shape);
  for (const [name, t] of [['g', g], ['m', m], ['v', v]] as const) {
    if (sizeOf(t.shape) !== size || t.dtype !== 'float32') {
      throw new Error(`${ADAM_KERNEL}: input ${name} has shape ${t.shape} (${t.dtype}), expected ${x.shape} float32`);
    }
  }
  const simd = simdKernels(backend);
  const xOut = backend.makeOutput(x.shape, 'float32');
  const mOut = backend.makeOutput(x.shape, 'float32');
  const vOut = backend.makeOutput(x.shape, 'float32');
  simd.exports.adam(
    simd.ptr(x), simd.ptr(g), simd.ptr(m), simd.ptr(v), simd.ptr(xOut), simd.ptr(mOut), simd.ptr(vOut), size,
    attrs.lrT, attrs.beta1, attrs.beta2, attrs.epsT,
  );
  return [xOut, mOut, vOut];
}
