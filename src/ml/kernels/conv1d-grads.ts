/**
 * The gradients of a stride-1 'same' Conv-1D with an odd kernel (conv1dSame
 * in ../nn.ts) as two kernels specflow adds to the wasm backend (not tfjs
 * kernels: nn.ts calls them where they are registered and composes tfjs ops
 * elsewhere, with the same bits):
 *
 *   SpecflowConv1dInputGrad       dy [b, l, co], w [k, ci, co]      → dx [b, l, ci]
 *     the forward convolution of dy with the flipped, channel-swapped
 *     kernel, flipped here while it is copied: tfjs's Reverse and Transpose
 *     of it took three kernels and ~0.4 ms a call on wasm.
 *   SpecflowConv1dFilterBiasGrad  x [b, l, ci], dy [b, l, co] {k}   → [dw [k, ci, co], db [co]]
 *     the filter gradient (./conv2d-backprop-filter.ts) and the bias
 *     gradient Σ dy, summed while the filter gradient's pass splits dy
 *     (tfjs's Sum read all of dy once more).
 */
import type { KernelArgs, TensorInfo } from './common.js';
import { dispose, f32 } from './common.js';
import { conv2D } from './conv1d.js';
import { filterGrad1d } from './conv2d-backprop-filter.js';

export const CONV1D_INPUT_GRAD = 'SpecflowConv1dInputGrad';
export const CONV1D_FILTER_BIAS_GRAD = 'SpecflowConv1dFilterBiasGrad';

function rank3(kernel: string, t: TensorInfo, name: string): [number, number, number] {
  if (t.dtype !== 'float32' || t.shape.length !== 3) throw new Error(`${kernel}: expected a float32 rank-3 ${name}, got ${t.shape} (${t.dtype})`);
  return t.shape as [number, number, number];
}

/** The 'same' padding of an odd kernel of k taps, stride 1. */
function oddKernel(kernel: string, k: number): void {
  if (k % 2 !== 1) throw new Error(`${kernel}: the kernel has ${k} taps; only odd kernels are 'same'-symmetric`);
}

export function conv1dInputGrad(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const { dy, w } = args.inputs as { dy: TensorInfo; w: TensorInfo };
  const [b, l, co] = rank3(CONV1D_INPUT_GRAD, dy, 'dy');
  const [k, ci, wco] = rank3(CONV1D_INPUT_GRAD, w, 'w');
  oddKernel(CONV1D_INPUT_GRAD, k);
  if (wco !== co) throw new Error(`${CONV1D_INPUT_GRAD}: dy has ${co} channels, the kernel ${wco} outputs`);
  // flipped[0, j, o, i] = w[k − 1 − j, i, o]
  const flipped = backend.makeOutput([1, k, co, ci], 'float32');
  const src = f32(backend, w);
  const dst = f32(backend, flipped);
  for (let j = 0; j < k; j++) {
    const from = (k - 1 - j) * ci * co;
    let to = j * co * ci;
    for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) dst[to++] = src[from + i * co + o]!;
  }
  // a literal of its own, not { ...dy }: a spread's object takes its map from dy's (a Tensor, a Variable,
  // a replay's shell), and this function was deoptimised ('wrong map') a dozen times a thread in epoch 1
  const x4: TensorInfo = { dataId: dy.dataId, shape: [b, 1, l, co], dtype: dy.dtype };
  const dx = conv2D({ backend, inputs: { x: x4, filter: flipped }, attrs: { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 } });
  dispose(backend, flipped);
  dx.shape = [b, l, ci];
  return dx;
}

export function conv1dFilterBiasGrad(args: KernelArgs<{ k: number }>): TensorInfo[] {
  const { backend, attrs } = args;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const [b, l, ci] = rank3(CONV1D_FILTER_BIAS_GRAD, x, 'x');
  const [db0, dl, co] = rank3(CONV1D_FILTER_BIAS_GRAD, dy, 'dy');
  const k = attrs.k;
  oddKernel(CONV1D_FILTER_BIAS_GRAD, k);
  if (db0 !== b || dl !== l) throw new Error(`${CONV1D_FILTER_BIAS_GRAD}: dy ${dy.shape} does not match x ${x.shape}`);
  const db = backend.makeOutput([co], 'float32');
  if (b * l * ci * co === 0) {
    const dw = backend.makeOutput([k, ci, co], 'float32');
    f32(backend, dw).fill(0);
    f32(backend, db).fill(0);
    return [dw, db];
  }
  const dw = filterGrad1d(backend, x, dy, { n: b, w: l, cin: ci, cout: co, fw: k, sw: 1, ow: l, left: (k - 1) / 2 }, db);
  dw.shape = [k, ci, co];
  return [dw, db];
}
