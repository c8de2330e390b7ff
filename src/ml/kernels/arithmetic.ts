/**
 * Add, Sub, Multiply, RealDiv and SquaredDifference on float32 for wasm as
 * vector loops, for the broadcasts training uses: equal shapes, a scalar, or
 * a row repeated along the leading axes (a bias). tfjs-wasm runs these one
 * element at a time through its general broadcasting loop, and a dense AE's
 * loss and its gradient alone take five of them over the whole batch. Each
 * element gets the same IEEE operation as in tfjs's loop, so the results are
 * the same bits. Relu likewise; Cast to the tensor's own dtype (the relu
 * gradient casts its mask) shares the data instead of copying it. Exp (within
 * 1 ulp) and Erf (within 2e-7; see wasm/kernels.ts) for GELU and its gradient
 * are vector loops too. Other dtypes and broadcasts keep tfjs's kernels. */
import type { KernelArgs, TensorInfo } from './common.js';
import { boundTf, run, sizeOf } from './common.js';
import { identity } from './identity.js';
import { simdKernels } from './simd.js';

type BinaryExport = 'addF32' | 'subF32' | 'mulF32' | 'divF32' | 'squaredDifferenceF32';

/** How `small` repeats along `out` (its shape padded with leading 1s): a period, or undefined if it does not tile. */
function repeatPeriod(small: readonly number[], out: readonly number[]): number | undefined {
  const pad = out.length - small.length;
  // past its leading 1s, small's dims must be out's trailing dims
  let t = 0;
  while (t < out.length && (t < pad || small[t - pad] === 1)) t++;
  for (let i = t; i < out.length; i++) if (small[i - pad] !== out[i]) return undefined;
  return sizeOf(out.slice(t));
}

function binary(kernel: string, exportName: BinaryExport, args: KernelArgs<Record<string, never>>): TensorInfo {
  const { backend } = args;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return run(kernel, backend, { a, b });
  const outShape = boundTf().backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const n = sizeOf(outShape);
  const na = sizeOf(a.shape);
  const nb = sizeOf(b.shape);
  let mode: number;
  let period = n;
  if (na === n && nb === n) {
    mode = 0;
  } else if (na === n && (period = repeatPeriod(b.shape, outShape) ?? 0) > 0) {
    mode = 1;
  } else if (nb === n && (period = repeatPeriod(a.shape, outShape) ?? 0) > 0) {
    mode = 2;
  } else {
    return run(kernel, backend, { a, b });
  }
  const out = backend.makeOutput(outShape, 'float32');
  if (n === 0) return out;
  const simd = simdKernels(backend);
  simd.exports[exportName](simd.ptr(a), simd.ptr(b), simd.ptr(out), n, mode, period);
  return out;
}

export const add = (args: KernelArgs<Record<string, never>>): TensorInfo => binary('Add', 'addF32', args);
export const sub = (args: KernelArgs<Record<string, never>>): TensorInfo => binary('Sub', 'subF32', args);
export const multiply = (args: KernelArgs<Record<string, never>>): TensorInfo => binary('Multiply', 'mulF32', args);
export const realDiv = (args: KernelArgs<Record<string, never>>): TensorInfo => binary('RealDiv', 'divF32', args);
export const squaredDifference = (args: KernelArgs<Record<string, never>>): TensorInfo =>
  binary('SquaredDifference', 'squaredDifferenceF32', args);

/** A float32 elementwise function as one vector loop (tfjs-wasm: one call per element); other dtypes keep tfjs's kernel. */
function unary(kernel: 'Relu' | 'Exp' | 'Erf', exportName: 'relu' | 'expF32' | 'erfF32', args: KernelArgs<Record<string, never>>): TensorInfo {
  const { backend } = args;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype !== 'float32') return run(kernel, backend, { x });
  const out = backend.makeOutput(x.shape, 'float32');
  const simd = simdKernels(backend);
  simd.exports[exportName](simd.ptr(x), simd.ptr(out), sizeOf(x.shape));
  return out;
}

export const relu = (args: KernelArgs<Record<string, never>>): TensorInfo => unary('Relu', 'relu', args);
export const exp = (args: KernelArgs<Record<string, never>>): TensorInfo => unary('Exp', 'expF32', args);
export const erf = (args: KernelArgs<Record<string, never>>): TensorInfo => unary('Erf', 'erfF32', args);

export function cast(args: KernelArgs<{ dtype: string }>): TensorInfo {
  const { backend, attrs } = args;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype !== attrs.dtype || x.dtype === 'string') return run('Cast', backend, { x }, attrs as never);
  return identity({ backend, inputs: { x }, attrs: {} });
}
