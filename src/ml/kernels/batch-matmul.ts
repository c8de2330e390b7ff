/**
 * BatchMatMul for wasm on specflow's SIMD GEMM (wasm/kernels.ts).
 *
 * tfjs-backend-wasm 4.22 sends a product to XNNPACK only when neither operand
 * is transposed and both batch sizes are 1; anything else runs a scalar
 * triple loop at 1–3 GFLOP/s. Every dense layer's backward pass is transposed
 * (dW = xᵀ·dy, dx = dy·Wᵀ) and attention is batched. Even on its fast path
 * XNNPACK repacks the right operand whenever that tensor is new, which in
 * training is every step. The GEMM here reads transposed operands in place,
 * handles batches and broadcasting of either operand, and packs only small
 * blocks of B (about 2× tfjs's fast path on a training step's products).
 */
import type { BackendWasm, KernelArgs, TensorInfo } from './common.js';
import { boundTf, run, sizeOf } from './common.js';
import { rememberColumnSums } from './column-sums.js';
import { columnSumsApply, gemm, gemmArgs, type GemmArgs } from './simd.js';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * The GEMM arguments of op(a)·op(b) (sizes, batch strides, output shape; no bias, relu or residual yet),
 * or undefined when the batch dimensions broadcast in a way a single stride cannot express (then
 * tfjs's own kernel runs, which also raises tfjs's errors for bad shapes).
 */
export function planProduct(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): GemmArgs | undefined {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} ` +
        `and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  // two matrices (every product of a dense layer and its gradient): nothing to broadcast
  if (ra === 2 && rb === 2) return gemmArgs(a, b, m, n, k, transposeA, transposeB, 1, 0, 0, [m, n]);
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  let outBatchShape: number[];
  try {
    outBatchShape = boundTf().backend_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  } catch {
    return undefined;
  }
  const batch = sizeOf(outBatchShape);
  const batchA = sizeOf(batchShapeA);
  const batchB = sizeOf(batchShapeB);
  // Each operand either spans the whole output batch (same layout) or is a single matrix.
  if ((batchA !== 1 && batchA !== batch) || (batchB !== 1 && batchB !== batch)) return undefined;
  return gemmArgs(a, b, m, n, k, transposeA, transposeB, batch, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n, [...outBatchShape, m, n]);
}

/** [M,N] = a[M,K] · b[K,N] (any ranks with those sizes). */
export function matMulPlain(backend: BackendWasm, a: TensorInfo, b: TensorInfo, m: number, k: number, n: number): TensorInfo {
  return gemm(backend, gemmArgs(a, b, m, n, k, false, false, 1, 0, 0, [m, n]));
}

export function batchMatMul(args: KernelArgs<MatMulAttrs>): TensorInfo {
  const { backend } = args;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs;
  const plan = a.dtype === 'float32' && b.dtype === 'float32' ? planProduct(a, b, transposeA, transposeB) : undefined;
  if (!plan) return run('BatchMatMul', backend, { a, b }, { transposeA, transposeB });
  if (!columnSumsApply(plan)) return gemm(backend, plan);
  // a weight gradient xᵀ·dy: dy's column sums (the bias gradient) come with it (./column-sums.ts)
  const sums = new Float32Array(plan.n);
  plan.columnSumsOfB = sums;
  const out = gemm(backend, plan);
  rememberColumnSums(b, plan.k, sums);
  return out;
}
