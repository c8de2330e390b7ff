/**
 * Sum over leading axes (rows) for wasm: the bias gradient of every dense
 * layer, Σ over the batch. tfjs-wasm reduces only innermost axes, so for
 * these it first transposes the whole input (~1.6 ms for 256×1024, more than
 * the Adam update of all weights). Other reductions keep tfjs's kernel.
 */
import type { KernelArgs, TensorInfo } from './common.js';
import { boundTf, run, sizeOf } from './common.js';
import { simdKernels } from './simd.js';

interface SumAttrs {
  axis: number | number[];
  keepDims: boolean;
}

export function sum(args: KernelArgs<SumAttrs>): TensorInfo {
  const { backend, attrs } = args;
  const { x } = args.inputs as { x: TensorInfo };
  const tf = boundTf();
  const axes = tf.util.parseAxisParam(attrs.axis, x.shape).slice().sort((p, q) => p - q);
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
  if (x.dtype !== 'float32' || !leading) return run('Sum', backend, { x }, { axis: attrs.axis, keepDims: attrs.keepDims });
  const rows = sizeOf(x.shape.slice(0, axes.length));
  const kept = x.shape.slice(axes.length);
  const outShape = attrs.keepDims ? [...axes.map(() => 1), ...kept] : kept;
  const out = backend.makeOutput(outShape, 'float32');
  const simd = simdKernels(backend);
  simd.exports.sumRows(simd.ptr(x), simd.ptr(out), rows, sizeOf(kept));
  return out;
}
