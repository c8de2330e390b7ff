/**
 * SpecflowAdam: one Adam update of one variable in a single pass (a kernel
 * specflow adds to the wasm backend; see ../optimizer.ts). tf.train.adam
 * composes the same update from about sixteen elementwise kernels per
 * variable, each a full pass over memory with its own allocation.
 *
 * Inputs x (the variable), g (its gradient), m and v (the moments); attrs
 * lrT and epsT carry the bias corrections. Outputs [x', m', v'], new tensors.
 */
import type { BackendWasm, KernelArgs, TensorInfo } from './common.js';
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

/**
 * One Adam update of x, m and v in place (their memory overwritten; the caller makes sure nothing else
 * holds it: ownedHeapView for x), the gradient being g0 + g1 added in float32 inside the same pass (g1 absent: g0 alone).
 * Not a registered kernel: tfjs tensors are immutable to everything but their owner, here the optimizer.
 */
export function adamInPlace(backend: BackendWasm, x: TensorInfo, m: TensorInfo, v: TensorInfo, g0: TensorInfo, g1: TensorInfo | undefined, attrs: AdamAttrs): void {
  // Checked one operand at a time, without building an array of [name, tensor] pairs a call: called
  // once per tensor and step, this function becomes hot late in a training, and the pairs' iteration
  // made its optimised code several times larger (compiled on V8's helper threads, --trace-opt).
  const size = sizeOf(x.shape);
  if (x.dtype !== 'float32') throw adamOperandError(x, 'x', x);
  if (sizeOf(m.shape) !== size || m.dtype !== 'float32') throw adamOperandError(x, 'm', m);
  if (sizeOf(v.shape) !== size || v.dtype !== 'float32') throw adamOperandError(x, 'v', v);
  if (sizeOf(g0.shape) !== size || g0.dtype !== 'float32') throw adamOperandError(x, 'g0', g0);
  if (g1 && (sizeOf(g1.shape) !== size || g1.dtype !== 'float32')) throw adamOperandError(x, 'g1', g1);
  const simd = simdKernels(backend);
  simd.exports.adamSummedInPlace(
    simd.ptr(x), simd.ptr(m), simd.ptr(v), simd.ptr(g0), g1 ? simd.ptr(g1) : 0, size, attrs.lrT, attrs.beta1, attrs.beta2, attrs.epsT,
  );
}

function adamOperandError(x: TensorInfo, name: string, t: TensorInfo): Error {
  return new Error(`${ADAM_KERNEL}: ${name} has shape ${t.shape} (${t.dtype}), expected ${x.shape} float32`);
}
