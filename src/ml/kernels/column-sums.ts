/**
 * The bias gradient of a dense layer for free with its weight gradient.
 *
 * tfjs's gradient of a fused matMul (what tfjs-layers' Dense and the
 * Transformer's projections use) computes dW = xᵀ·dy (a BatchMatMul with
 * transposed A) and then the bias gradient Σ_rows dy (a Sum over every row
 * of the same tensor dy). The GEMM already reads dy block by block to pack
 * it, so it adds up dy's columns on the side (wasm gemmColumnSums), in
 * exactly the order the Sum kernel would (reduceMiddle: each column from +0,
 * row 0, 1, 2, …), and they are kept here by dy's data id until the Sum asks.
 * Tensors are immutable, so a data id's sums stay its sums; whether or not
 * the Sum finds them, it returns the same bits.
 */
import type { TensorInfo } from './common.js';

interface Sums {
  rows: number;
  sums: Float32Array;
}

const byDataId = new WeakMap<object, Sums>();

/** Keeps the column sums of b seen as a rows×sums.length matrix. */
export function rememberColumnSums(b: TensorInfo, rows: number, sums: Float32Array): void {
  byDataId.set(b.dataId, { rows, sums });
}

/**
 * The column sums of x seen as a rows×inner matrix (Σ over all but its last
 * `inner` elements), if a product computed them; they are handed out once.
 */
export function takeColumnSums(x: TensorInfo, rows: number, inner: number): Float32Array | undefined {
  const known = byDataId.get(x.dataId);
  if (!known || known.rows !== rows || known.sums.length !== inner) return undefined;
  byDataId.delete(x.dataId);
  return known.sums;
}

/** Forgets any sums kept for t: its memory is about to be overwritten in place (./in-place.ts). */
export function forgetColumnSums(t: TensorInfo): void {
  byDataId.delete(t.dataId);
}
