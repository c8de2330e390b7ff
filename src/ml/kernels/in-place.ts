/**
 * Overwriting a tensor's values in place on the wasm backend, for the owners that replace their own
 * state every step (the fused Adam's variables, a training team's loaded weights, batch-norm running
 * averages) instead of making a new tensor a step. tfjs treats tensors as immutable, so two things must
 * hold first: the memory is the tensor's own (no other tensor, a clone or a reshape, shares its data
 * id), and nothing remembered of its old values survives (column sums a product kept of it).
 */
import type { BackendWasm, TensorInfo } from './common.js';
import { forgetColumnSums } from './column-sums.js';

/**
 * The wasm memory of float32 tensor t, to be overwritten, with what was remembered of its values
 * forgotten; undefined where it may not be overwritten (its memory shared, or not float32).
 */
export function ownedHeapView(backend: BackendWasm, t: TensorInfo): Float32Array | undefined {
  if (t.dtype !== 'float32' || backend.refCount(t.dataId) !== 1) return undefined;
  forgetColumnSums(t);
  return backend.typedArrayFromHeap(t) as Float32Array;
}
