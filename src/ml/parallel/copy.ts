/**
 * Moving values between tensors and the shared buffers with as few copies as
 * the backend allows: on wasm straight from and into its heap (dataSync would
 * copy the values out first, then the shared buffer copies them again).
 */
import type { Tensor, TF } from '../engine.js';

type WasmBackend = { typedArrayFromHeap(t: Tensor): Float32Array };

function heap(tf: TF): WasmBackend | undefined {
  return tf.getBackend() === 'wasm' ? (tf.backend() as unknown as WasmBackend) : undefined;
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
