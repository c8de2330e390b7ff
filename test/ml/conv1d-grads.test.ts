/**
 * The 'same' Conv-1D's gradient kernels on wasm (src/ml/kernels/conv1d-grads.ts:
 * SpecflowConv1dInputGrad flips the kernel itself, SpecflowConv1dFilterBiasGrad
 * sums the bias gradient in the filter gradient's pass): bitwise against the
 * tfjs ops they replace on wasm (Reverse + Transpose + Conv2D; Conv2DBackpropFilter
 * + Sum), and against the cpu backend, through conv1dSame: the autoencoder's
 * channel counts (fast FIR), the one-channel ends (GEMM, dot products), odd
 * lengths, lengths shorter than the kernel, several sample blocks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import { initBackend, type TF } from '../../src/ml/backend.js';
import { CONV1D_FILTER_BIAS_GRAD, CONV1D_INPUT_GRAD } from '../../src/ml/kernels/conv1d-grads.js';
import { conv1dSame } from '../../src/ml/nn.js';
import { relErr } from './rel-err.js';
import { values } from './seeded-values.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

/** y and the gradients of Σ y·r with respect to x, w and the bias, through conv1dSame. */
const grads = (b: number, l: number, ci: number, co: number, k: number, inputGrad = true) => tf.tidy(() => {
  const x = tf.tensor(values(b * l * ci, 31), [b, l, ci]);
  const w = tf.tensor(values(k * ci * co, 32), [k, ci, co]);
  const bias = tf.tensor1d(values(co, 33));
  const r = tf.tensor(values(b * l * co, 34), [b, l, co]);
  const f = (a: Tensor, ww: Tensor, bb: Tensor) => conv1dSame(tf, a, ww, bb, { inputGrad });
  const g = tf.grads((a: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(f(a, ww, bb), r)))([x, w, bias]);
  return [f(x, w, bias), ...g].map((t) => Array.from(t.dataSync()));
});

/** With the two kernels unregistered: conv1dSame's composition of tfjs ops (on wasm, specflow's other kernels). */
function composed<T>(f: () => T): T {
  const configs = [CONV1D_INPUT_GRAD, CONV1D_FILTER_BIAS_GRAD].map((k) => tf.getKernel(k, 'wasm')!);
  expect(configs.every((k) => k !== undefined)).toBe(true);
  for (const k of configs) tf.unregisterKernel(k.kernelName, 'wasm');
  try {
    return f();
  } finally {
    for (const k of configs) tf.registerKernel(k);
  }
}

describe("a 'same' Conv-1D's gradient kernels (wasm)", () => {
  // [batch, length, inC, outC, k]: the fast FIR's (16 → 32 k11, 32 → 16 k9, odd channel
  // counts), the one-channel ends (1 → 16 and 16 → 1, k 15), a length shorter than the
  // kernel, one position, and samples long enough for several fast-FIR blocks
  const CASES: [number, number, number, number, number][] = [
    [3, 33, 16, 32, 11], [2, 31, 32, 16, 9], [2, 13, 6, 9, 7], [3, 37, 1, 16, 15], [3, 37, 16, 1, 15],
    [2, 5, 8, 8, 11], [2, 1, 4, 8, 3], [3, 2501, 4, 8, 9],
    // more one-channel ends: lengths divisible by 4 and 8, k from 5 to 15, few output channels
    [2, 36, 1, 16, 15], [2, 40, 16, 1, 15], [3, 8, 1, 4, 5], [2, 12, 1, 8, 7], [1, 16, 3, 1, 9],
    // one output channel with window floats (k·inC = 40 and 52) in strips of 24, then of 16, then 4s and 1s
    [2, 21, 8, 1, 5], [2, 19, 4, 1, 13],
  ];
  it.each(CASES)('batch %i, length %i, %i → %i channels, k %i: the bits of the composed ops, the cpu backend\'s values', async (b, l, ci, co, k) => {
    await tf.setBackend('wasm');
    const fused = grads(b, l, ci, co, k);
    expect(fused).toEqual(composed(() => grads(b, l, ci, co, k)));
    await tf.setBackend('cpu');
    const cpu = grads(b, l, ci, co, k);
    await tf.setBackend('wasm');
    const names = ['y', 'dx', 'dw', 'db'];
    for (let i = 0; i < cpu.length; i++) expect(relErr(fused[i]!, cpu[i]!), names[i]).toBeLessThan(2e-5);
  });

  it('the bias gradient is Σ dy (hand-checked) and a data input gets a zero gradient', async () => {
    await tf.setBackend('wasm');
    const [b, l, ci, co, k] = [2, 9, 4, 8, 5];
    const [, dx, , db] = grads(b, l, ci, co, k, false);
    expect(dx!.every((v) => v === 0)).toBe(true);
    const r = Array.from(values(b * l * co, 34));
    const want = Array.from({ length: co }, (_, o) => r.filter((_, i) => i % co === o).reduce((a, v) => a + v, 0));
    expect(relErr(db!, want)).toBeLessThan(1e-6);
  });

  it('the same bits on every call', async () => {
    await tf.setBackend('wasm');
    expect(grads(3, 33, 16, 32, 11)).toEqual(grads(3, 33, 16, 32, 11));
  });

  it('rejects an even kernel (not symmetric under the flip)', async () => {
    await tf.setBackend('wasm');
    const dy = tf.zeros([1, 4, 2]);
    const w = tf.zeros([4, 3, 2]);
    expect(() => tf.engine().runKernel(CONV1D_INPUT_GRAD, { dy, w } as never)).toThrow(/only odd kernels/);
    tf.dispose([dy, w]);
  });
});
