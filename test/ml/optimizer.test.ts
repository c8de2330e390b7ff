/**
 * specflow's Adam (src/ml/optimizer.ts): one fused kernel per variable on
 * wasm, tf.train.adam elsewhere. Checked against Adam's closed form for a
 * constant gradient and against tf.train.adam on the cpu backend.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { initBackend, initStockWasm, type TF } from '../../src/ml/backend.js';
import { createAdam, fusedAdamAvailable } from '../../src/ml/optimizer.js';

let tf: TF;

beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

describe('fused Adam on wasm', () => {
  it('is the optimizer createAdam gives on wasm', async () => {
    await tf.setBackend('wasm');
    expect(fusedAdamAvailable(tf)).toBe(true);
    const opt = createAdam(tf, 0.01);
    expect(opt.getClassName()).toBe('SpecflowFusedAdam');
    opt.dispose();
  });

  it('follows the closed form for a constant gradient: each step moves lr·g/(|g|+ε)', async () => {
    await tf.setBackend('wasm');
    // loss = Σ g·x has the constant gradient g, so the bias-corrected moments
    // are exactly g and g² at every step.
    const g = [0.5, -2, 1e-3, 3, -0.25];
    const x0 = [1, -2, 0.5, 0, 4];
    const lr = 0.01;
    const eps = 1e-7;
    const x = tf.variable(tf.tensor1d(x0));
    const gt = tf.tensor1d(g);
    const opt = createAdam(tf, lr, { epsilon: eps });
    const steps = 7;
    for (let t = 0; t < steps; t++) opt.minimize(() => tf.sum(tf.mul(gt, x)) as Scalar);
    const got = x.dataSync();
    for (let i = 0; i < g.length; i++) {
      const expected = x0[i]! - (steps * lr * g[i]!) / (Math.abs(g[i]!) + eps);
      expect(Math.abs(got[i]! - expected)).toBeLessThan(1e-5);
    }
    opt.dispose();
    x.dispose();
    gt.dispose();
  });

  it('trains a two-layer network like tf.train.adam on the cpu backend', async () => {
    const train = async (backend: 'wasm' | 'cpu', fused: boolean) => {
      await tf.setBackend(backend);
      const w1 = tf.variable(tf.tensor2d(values(24 * 16, 1), [24, 16]), true, `w1_${backend}_${fused}`);
      const b1 = tf.variable(tf.tensor1d(values(16, 2)), true, `b1_${backend}_${fused}`);
      const w2 = tf.variable(tf.tensor2d(values(16 * 24, 3), [16, 24]), true, `w2_${backend}_${fused}`);
      const xb = tf.tensor2d(values(32 * 24, 4), [32, 24]);
      const opt = fused ? createAdam(tf, 0.01) : tf.train.adam(0.01);
      for (let i = 0; i < 5; i++) {
        opt.minimize(() => {
          const h = tf.relu(tf.add(tf.matMul(xb, w1), b1)) as Tensor2D;
          return tf.losses.meanSquaredError(xb, tf.matMul(h, w2)) as Scalar;
        });
      }
      const out = [w1, b1, w2].map((v: Variable) => Float32Array.from(v.dataSync()));
      opt.dispose();
      [w1, b1, w2, xb].forEach((t: Tensor) => t.dispose());
      return out;
    };
    const got = await train('wasm', true);
    const ref = await train('cpu', false);
    for (let k = 0; k < ref.length; k++) {
      let worst = 0;
      for (let i = 0; i < ref[k]!.length; i++) worst = Math.max(worst, Math.abs(got[k]![i]! - ref[k]![i]!));
      expect(worst).toBeLessThan(1e-5);
    }
    // and it did move the weights (5 steps of lr 0.01)
    const start = values(24 * 16, 1);
    expect(Math.abs(got[0]![0]! - start[0]!)).toBeGreaterThan(1e-3);
  });

  it('frees its moments on dispose and leaks nothing per step', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const w = tf.tidy(() => tf.variable(tf.tensor2d(values(64, 5), [8, 8])));
    const x = tf.tensor2d(values(32, 6), [4, 8]);
    const opt = createAdam(tf, 0.01);
    const step = () => opt.minimize(() => tf.sum(tf.square(tf.matMul(x, w))) as Scalar);
    step();
    const during = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(during);
    opt.dispose();
    w.dispose();
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('drives model.fit', async () => {
    await tf.setBackend('wasm');
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 8, activation: 'relu', inputShape: [16], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.dense({ units: 16, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    model.compile({ optimizer: createAdam(tf, 0.01), loss: 'meanSquaredError' });
    const x = tf.tensor2d(values(64 * 16, 7), [64, 16]);
    const h = await model.fit(x, x, { epochs: 20, batchSize: 16, shuffle: false, verbose: 0 });
    const loss = h.history.loss as number[];
    expect(loss[loss.length - 1]!).toBeLessThan(loss[0]! * 0.8);
    model.dispose();
    x.dispose();
  });

  it('is tf.train.adam where the fused kernel is not registered (stock wasm)', async () => {
    const stock = await initStockWasm();
    expect(fusedAdamAvailable(stock.tf)).toBe(false);
    const opt = createAdam(stock.tf, 0.01);
    expect(opt.getClassName()).toBe('Adam');
    opt.dispose();
    await initBackend('wasm');
    expect(fusedAdamAvailable(tf)).toBe(true);
  });
});
