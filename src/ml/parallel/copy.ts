/**
 * Moving values between tensors and the shared buffers with as few copies as
 * the backend allows: on wasm straight from and into its heap (dataSync would
 * copy the values out first, then the shared buffer copies them again).
 */
import type { Variable } from '@tensorflow/tfjs';
import type { Tensor, TF } from '../engine.js';
import type { BackendWasm } from '../kernels/common.js';
import { ownedHeapView } from '../kernels/in-place.js';

function heap(tf: TF): BackendWasm | undefined {
  return tf.getBackend() === 'wasm' ? (tf.backend() as unknown as BackendWasm) : undefined;
}

/** Copies the values of a float32 tensor into `dst` at `offset`. */
export function copyOut(tf: TF, t: Tensor, dst: Float32Array, offset: number): void {
  const wasm = heap(tf);
  dst.set(wasm ? wasm.typedArrayFromHeap(t) : (t.dataSync() as Float32Array), offset);
}

/** A float32 tensor of `values`: the wasm backend copies them into its heap; others are given a private
 * copy, because the cpu backend keeps the array it is given and shared memory changes under it. */
export function tensorOf(tf: TF, values: Float32Array, shape: number[]): Tensor {
  return tf.tensor(heap(tf) ? values : values.slice(), shape, 'float32');
}

/**
 * Sets a variable to `values`: on wasm copied straight into its memory where that memory is its own (no
 * new tensor a step, and the values land where the kernels read them); otherwise assigned a new tensor.
 */
export function assignFrom(tf: TF, variable: Variable, values: Float32Array): void {
  if (variable.size !== values.length) throw new Error(`assignFrom: ${values.length} values for a variable of ${variable.size}`);
  const wasm = heap(tf);
  const own = wasm && ownedHeapView(wasm, variable);
  if (own) {
    own.set(values);
    return;
  }
  const t = tensorOf(tf, values, variable.shape);
  variable.assign(t);
  t.dispose();
}
