/**
 * Batch normalisation's closed-form gradient (src/ml/nn.ts batchNormTraining)
 * against tfjs's automatic differentiation of the textbook formula
 * γ·(x − μ)/√(σ² + ε) + β with the batch moments, on cpu and on wasm.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import { initBackend, type TF } from '../../src/ml/backend.js';
import { batchNormTraining } from '../../src/ml/nn.js';
import { values } from './seeded-values.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

const EPS = 1e-3;

describe('batchNormTraining', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: value, dx, dγ, dβ and the moments match autodiff of the formula`, async () => {
      await tf.setBackend(backend);
      const shape = [6, 11, 5];
      const n = 6 * 11 * 5;
      const x = tf.tensor(values(n, 1, 3, 2), shape);
      const dy = tf.tensor(values(n, 2), shape);
      const gamma = tf.tensor1d(values(5, 3, 0.5, 1));
      const beta = tf.tensor1d(values(5, 4));
      const textbook = (a: Tensor, g: Tensor, b: Tensor) => {
        const { mean, variance } = tf.moments(a, [0, 1]);
        return tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, EPS))), g), b);
      };
      let moments: [Float32Array, Float32Array] | undefined;
      const ours = (a: Tensor, g: Tensor, b: Tensor) =>
        batchNormTraining(tf, a, g, b, EPS, (m, v) => { moments = [m.dataSync() as Float32Array, v.dataSync() as Float32Array]; });
      const grads = (f: (a: Tensor, g: Tensor, b: Tensor) => Tensor) => {
        const { value, grads: gs } = tf.valueAndGrads((a: Tensor, g: Tensor, b: Tensor) => tf.sum(tf.mul(f(a, g, b), dy)))([x, gamma, beta]);
        const y = f(x, gamma, beta);
        return [y, value, ...gs].map((t) => Array.from(t.dataSync()));
      };
      const want = grads(textbook);
      const got = grads(ours);
      for (let k = 0; k < want.length; k++) {
        const scale = Math.max(...want[k]!.map(Math.abs), 1e-6);
        const worst = Math.max(...want[k]!.map((w, i) => Math.abs(w - got[k]![i]!)));
        expect(worst / scale, ['y', 'Σ y·dy', 'dx', 'dγ', 'dβ'][k]).toBeLessThan(1e-5);
      }
      const ref = tf.moments(x, [0, 1]);
      const [mean, variance] = [Array.from(ref.mean.dataSync()), Array.from(ref.variance.dataSync())];
      expect(moments![0]).toHaveLength(5);
      moments![0].forEach((v, i) => expect(v).toBeCloseTo(mean[i]!, 5));
      moments![1].forEach((v, i) => expect(v).toBeCloseTo(variance[i]!, 4));
      tf.dispose([x, dy, gamma, beta, ref.mean, ref.variance]);
    });
  }
});

describe('batch normalisation fused on wasm (./kernels/batch-norm.ts)', () => {
  const KERNELS = ['SpecflowBnMoments', 'SpecflowBnAffine', 'SpecflowBnGradSums', 'SpecflowBnGradInput'];
  /** y, Σ y·dy, dx, dγ, dβ, mean, variance of batchNormTraining, as arrays. */
  const run = (shape: number[]) => tf.tidy(() => {
    const n = shape.reduce((a, b) => a * b, 1);
    const c = shape[shape.length - 1]!;
    const x = tf.tensor(values(n, 5, 3, 2), shape);
    const dy = tf.tensor(values(n, 6), shape);
    const gamma = tf.tensor1d(values(c, 7, 0.5, 1));
    const beta = tf.tensor1d(values(c, 8));
    let moments: number[][] = [];
    const f = (a: Tensor, g: Tensor, b: Tensor) =>
      batchNormTraining(tf, a, g, b, EPS, (m, v) => { moments = [Array.from(m.dataSync()), Array.from(v.dataSync())]; });
    const { value, grads } = tf.valueAndGrads((a: Tensor, g: Tensor, b: Tensor) => tf.sum(tf.mul(f(a, g, b), dy)))([x, gamma, beta]);
    const y = f(x, gamma, beta);
    return [...[y, value, ...grads].map((t) => Array.from(t.dataSync())), ...moments];
  });

  for (const shape of [[6, 11, 5], [3, 7, 16], [2, 3, 4, 3], [9, 1]]) {
    it(`${shape.join('×')}: the same bits as the composed tfjs kernels, and values within float tolerance of cpu`, async () => {
      await tf.setBackend('wasm');
      const fused = run(shape);
      // the composed path: the same function with the fused kernels unregistered
      const configs = KERNELS.map((k) => tf.getKernel(k, 'wasm')!);
      expect(configs.every((k) => k !== undefined)).toBe(true);
      for (const k of KERNELS) tf.unregisterKernel(k, 'wasm');
      let composed: number[][];
      try {
        composed = run(shape);
      } finally {
        for (const k of configs) tf.registerKernel(k);
      }
      expect(fused).toEqual(composed);
      await tf.setBackend('cpu');
      const cpu = run(shape);
      await tf.setBackend('wasm');
      for (let k = 0; k < cpu.length; k++) {
        const scale = Math.max(...cpu[k]!.map(Math.abs), 1e-6);
        const worst = Math.max(...cpu[k]!.map((w, i) => Math.abs(w - fused[k]![i]!)));
        expect(worst / scale).toBeLessThan(1e-5);
      }
    });
  }
});
