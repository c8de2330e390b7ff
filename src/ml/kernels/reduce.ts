/**
 * Sum and Mean over a block of adjacent axes, for wasm.
 * - Not the innermost: bias gradients (Σ over the batch), batch-norm moments,
 *   average pooling. tfjs-wasm reduces only innermost axes, so for these it
 *   first transposes the whole input (~1 ms for 256×1024, several times this
 *   kernel; see `node bench/run.mjs wasm-kernels`).
 * - The innermost (a loss's mean, softmax and layer-norm sums): tfjs-wasm
 *   adds one float at a time; here in several vector lanes.
 * Scattered axes and other dtypes keep tfjs's kernel.
 */
import type { KernelArgs, TensorInfo } from './common.js';
import { takeColumnSums } from './column-sums.js';
import { boundTf, f32, run, sizeOf } from './common.js';
import { simdKernels, type SimdKernels } from './simd.js';

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

function reduceBlock(kernel: 'Sum' | 'Mean', args: KernelArgs<ReduceAttrs>): TensorInfo {
  const { backend, attrs } = args;
  const { x } = args.inputs as { x: TensorInfo };
  const tf = boundTf();
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(attrs.axis, x.shape))].sort((p, q) => p - q);
  const first = axes[0];
  const last = axes[axes.length - 1];
  const adjacent = axes.every((a, i) => a === first! + i);
  const r = sizeOf(axes.map((a) => x.shape[a]!));
  if (x.dtype !== 'float32' || first === undefined || !adjacent || r === 0) {
    return run(kernel, backend, { x }, { axis: attrs.axis, keepDims: attrs.keepDims });
  }
  const outer = sizeOf(x.shape.slice(0, first));
  const inner = sizeOf(x.shape.slice(last! + 1));
  const outShape = attrs.keepDims
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !axes.includes(i));
  const out = backend.makeOutput(outShape, 'float32');
  if (sizeOf(outShape) === 0) return out;
  // a bias gradient that its weight gradient's product has already summed (./column-sums.ts)
  const known = kernel === 'Sum' && outer === 1 ? takeColumnSums(x, r, inner) : undefined;
  if (known) {
    f32(backend, out).set(known);
    return out;
  }
  reduceInto(simdKernels(backend), x, out, outer, r, inner, kernel === 'Mean' ? 1 / r : 1);
  return out;
}

/** out[o][i] = scale · Σ_j x[o][j][i], x viewed as [outer, r, inner]: what Sum and Mean compute here, with their bits. */
export function reduceInto(simd: SimdKernels, x: TensorInfo, out: TensorInfo, outer: number, r: number, inner: number, scale = 1): void {
  if (inner === 1) simd.exports.reduceInner(simd.ptr(x), simd.ptr(out), outer, r, scale);
  else simd.exports.reduceMiddle(simd.ptr(x), simd.ptr(out), outer, r, inner, scale);
}

export function sum(args: KernelArgs<ReduceAttrs>): TensorInfo {
  return reduceBlock('Sum', args);
}

export function mean(args: KernelArgs<ReduceAttrs>): TensorInfo {
  return reduceBlock('Mean', args);
}
