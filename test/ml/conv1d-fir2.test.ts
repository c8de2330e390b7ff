/**
 * The 2-parallel fast-FIR Conv-1D on wasm (src/ml/kernels/conv1d-fir2.ts,
 * behind Conv2D, FusedConv2D and Conv2DBackpropFilter for stride-1 Conv-1Ds)
 * against the cpu backend: values and the gradients of x, w and the bias,
 * through conv1dSame (what the autoencoder trains) and tfjs's own conv1d
 * ('same' and 'valid'), at odd and even lengths and filter widths, channel
 * counts that are not multiples of 4, and the decoder's phase convolution.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor, Tensor3D } from '@tensorflow/tfjs';
import { initBackend, type TF } from '../../src/ml/backend.js';
import { fir2Pays } from '../../src/ml/kernels/conv1d-fir2.js';
import { conv1dSame } from '../../src/ml/nn.js';
import { relErr } from './rel-err.js';
import { values } from './seeded-values.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

async function onBoth(f: () => Tensor[]): Promise<{ wasm: Float32Array[]; cpu: Float32Array[] }> {
  const run = () => {
    const ts = f();
    const out = ts.map((t) => t.dataSync() as Float32Array);
    tf.dispose(ts);
    return out;
  };
  await tf.setBackend('wasm');
  const wasm = run();
  await tf.setBackend('cpu');
  const cpu = run();
  await tf.setBackend('wasm');
  return { wasm, cpu };
}

describe('Conv-1D as a 2-parallel fast FIR (wasm) against the cpu backend', () => {
  // [batch, length, inC, outC, k]: the autoencoder's layers at small length (16→32 k11,
  // 32→64 k7, the decoder's 64→64 phase convolution of 5 taps, 32→16 input gradient),
  // odd lengths, even k, channel counts off multiples of 4 and 8
  const CASES: [number, number, number, number, number][] = [
    [3, 32, 16, 32, 11], [2, 17, 32, 64, 7], [2, 9, 64, 64, 5], [3, 31, 32, 16, 9],
    [2, 13, 6, 9, 7], [2, 20, 8, 8, 4], [1, 2, 16, 8, 3], [2, 5, 11, 13, 15],
    // samples long enough to go through two per block (~45k floats a sample, blocks of
    // ~128k): a last block of one, and the filter gradient's sums carried between blocks
    [3, 2501, 4, 8, 9],
  ];
  it.each(CASES)('batch %i, length %i, %i → %i channels, k %i: y, Σ y·r, dx, dw, db', async (b, l, ci, co, k) => {
    expect(fir2Pays({ n: b, w: l, cin: ci, cout: co, fw: k, left: 0, ow: l })).toBe(true);
    const { wasm, cpu } = await onBoth(() => tf.tidy(() => {
      const x = tf.tensor(values(b * l * ci, 1), [b, l, ci]);
      const w = tf.tensor(values(k * ci * co, 2), [k, ci, co]);
      const bias = tf.tensor1d(values(co, 3));
      const r = tf.tensor(values(b * l * co, 4), [b, l, co]);
      const f = (a: Tensor, ww: Tensor, bb: Tensor) => conv1dSame(tf, a, ww, bb);
      const { value, grads } = tf.valueAndGrads((a: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(f(a, ww, bb), r)))([x, w, bias]);
      return [f(x, w, bias), value, ...grads];
    }));
    const names = ['y', 'Σ y·r', 'dx', 'dw', 'db'];
    for (let i = 0; i < cpu.length; i++) expect(relErr(wasm[i]!, cpu[i]!), names[i]).toBeLessThan(2e-5);
  });

  it("tf.conv1d 'valid' and 'same' (even k: uneven padding) and their filter gradients", async () => {
    for (const pad of ['valid', 'same'] as const) {
      const { wasm, cpu } = await onBoth(() => tf.tidy(() => {
        const x = tf.tensor(values(2 * 23 * 12, 5), [2, 23, 12]) as Tensor3D;
        const w = tf.tensor(values(6 * 12 * 8, 6), [6, 12, 8]) as Tensor3D;
        const y = tf.conv1d(x, w, 1, pad);
        const r = tf.tensor(values(y.size, 7), y.shape);
        const gw = tf.grad((ww: Tensor) => tf.sum(tf.mul(tf.conv1d(x, ww as Tensor3D, 1, pad), r)))(w);
        return [y, gw];
      }));
      expect(wasm[0]).toHaveLength(2 * (pad === 'valid' ? 18 : 23) * 8);
      for (let i = 0; i < cpu.length; i++) expect(relErr(wasm[i]!, cpu[i]!), `${pad} ${i}`).toBeLessThan(2e-5);
    }
  });

  it('gives the same bits on every call', () => {
    const once = () => tf.tidy(() => {
      const x = tf.tensor(values(4 * 40 * 16, 8), [4, 40, 16]);
      const w = tf.tensor(values(11 * 16 * 32, 9), [11, 16, 32]);
      const r = tf.tensor(values(4 * 40 * 32, 10), [4, 40, 32]);
      const g = tf.grads((a: Tensor, ww: Tensor) => tf.sum(tf.mul(conv1dSame(tf, a, ww), r)))([x, w]);
      return [conv1dSame(tf, x, w), ...g].map((t) => Array.from(t.dataSync()));
    });
    expect(once()).toEqual(once());
  });
});
