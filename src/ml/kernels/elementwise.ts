/**
 * LeakyRelu and the two kernels of its gradient (tfjs: where(x > 0, dy, α·dy))
 * for wasm, as vector loops. tfjs-wasm's own take 2–7 ns per element, ~3 ms
 * each for one 64×512×16 activation of the Conv-1D autoencoder, which applies
 * LeakyReLU after every convolution. Other shapes and dtypes (broadcasting
 * beyond a scalar, a per-row condition) keep tfjs's kernels.
 */
import type { KernelArgs, TensorInfo } from './common.js';
import { run, sizeOf } from './common.js';
import { simdKernels } from './simd.js';

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function leakyRelu(args: KernelArgs<{ alpha: number }>): TensorInfo {
  const { backend, attrs } = args;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype !== 'float32') return run('LeakyRelu', backend, { x }, { alpha: attrs.alpha });
  const out = backend.makeOutput(x.shape, 'float32');
  const simd = simdKernels(backend);
  simd.exports.leakyRelu(simd.ptr(x), simd.ptr(out), sizeOf(x.shape), attrs.alpha);
  return out;
}

/**
 * Not a tfjs kernel: SpecflowReluGrad {dy, y} → dy·step(y), y a ReLU's output
 * of dy's shape: the gradient tfjs gives a fused relu (a Step then a Multiply,
 * the same bits) in one pass and one tfjs op (../nn.ts, matMulBiasRelu).
 */
export const RELU_GRAD_KERNEL = 'SpecflowReluGrad';

export function reluGrad(args: KernelArgs<Record<string, never>>): TensorInfo {
  const { backend } = args;
  const { dy, y } = args.inputs as { dy: TensorInfo; y: TensorInfo };
  if (dy.dtype !== 'float32' || y.dtype !== 'float32' || !sameShape(dy.shape, y.shape)) {
    throw new Error(`${RELU_GRAD_KERNEL}: dy ${dy.shape} (${dy.dtype}) and y ${y.shape} (${y.dtype}) must be float32 of one shape`);
  }
  const out = backend.makeOutput(dy.shape, 'float32');
  const simd = simdKernels(backend);
  simd.exports.reluGrad(simd.ptr(dy), simd.ptr(y), simd.ptr(out), sizeOf(dy.shape));
  return out;
}

export function greater(args: KernelArgs<Record<string, never>>): TensorInfo {
  const { backend } = args;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const bScalar = sizeOf(b.shape) === 1 && b.shape.length <= a.shape.length;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || !(bScalar || sameShape(a.shape, b.shape))) {
    return run('Greater', backend, { a, b });
  }
  // a scalar b of rank ≤ a's broadcasts to a's shape
  const out = backend.makeOutput(a.shape, 'bool');
  const simd = simdKernels(backend);
  simd.exports.greater(simd.ptr(a), simd.ptr(b), simd.ptr(out), sizeOf(a.shape), bScalar ? 1 : 0);
  return out;
}

export function select(args: KernelArgs<Record<string, never>>): TensorInfo {
  const { backend } = args;
  const { condition, t, e } = args.inputs as { condition: TensorInfo; t: TensorInfo; e: TensorInfo };
  if (condition.dtype !== 'bool' || t.dtype !== 'float32' || e.dtype !== 'float32'
    || !sameShape(condition.shape, t.shape) || !sameShape(t.shape, e.shape)) {
    return run('Select', backend, { condition, t, e });
  }
  const out = backend.makeOutput(t.shape, 'float32');
  const simd = simdKernels(backend);
  simd.exports.select(simd.ptr(condition), simd.ptr(t), simd.ptr(e), simd.ptr(out), sizeOf(t.shape));
  return out;
}
