/**
 * specflow's Adam (src/ml/optimizer.ts): one fused kernel per variable on
 * wasm, tf.train.adam elsewhere. Checked against Adam's closed form for a
 * constant gradient and against tf.train.adam on the cpu backend.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { initBackend, initStockWasm, type TF } from '../../src/ml/backend.js';
import { rememberColumnSums, takeColumnSums } from '../../src/ml/kernels/column-sums.js';
import { adamInPlace } from '../../src/ml/kernels/adam.js';
import type { BackendWasm } from '../../src/ml/kernels/common.js';
import { createAdam, fusedAdamAvailable, sumsGradients } from '../../src/ml/optimizer.js';

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

  it('adds a gradient given in two parts inside its pass: Adam\'s float64 update on the float32 sum, the bits of summing first', async () => {
    await tf.setBackend('wasm');
    const n = 1031; // not a multiple of 4: the kernel's scalar tail too
    const x0 = values(n, 11);
    const parts = [values(n, 12), values(n, 13)].map((g) => g.map((u) => u * 0.1));
    const [lr, b1, b2, eps] = [0.01, 0.9, 0.999, 1e-7];
    const steps = 3;
    const before = tf.memory().numTensors;
    // x: its gradient in two parts; y: the float32 sum added first by tf.add (a clone of y held, so y
    // is stepped out of place by the registered kernel: the two code paths against each other)
    const x = tf.tidy(() => tf.variable(tf.tensor1d(x0), true, 'summed_x'));
    const y = tf.tidy(() => tf.variable(tf.tensor1d(x0), true, 'summed_y'));
    const [g0, g1] = parts.map((g) => tf.tensor1d(g));
    const sum = tf.add(g0!, g1!);
    const optX = createAdam(tf, lr, { epsilon: eps });
    const optY = createAdam(tf, lr, { epsilon: eps });
    expect(sumsGradients(optX)).toBe(true);
    for (let t = 0; t < steps; t++) {
      // either part may be values (a shard's gradient in shared memory), copied in by the optimizer
      const given = [[g0!, g1!], [g0!, parts[1]!], [parts[0]!, g1!]][t]!;
      if (sumsGradients(optX)) optX.applySummedGradients([{ name: 'summed_x', parts: [given[0]!, given[1]!] }]);
      const held = tf.clone(y);
      optY.applyGradients({ summed_y: sum });
      held.dispose();
    }
    const got = x.dataSync();
    expect(Buffer.from(got.buffer).equals(Buffer.from(y.dataSync().buffer))).toBe(true);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const g = Math.fround(parts[0]![i]! + parts[1]![i]!);
      let [xi, m, v] = [x0[i]!, 0, 0];
      for (let t = 1; t <= steps; t++) {
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        xi -= (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
      }
      worst = Math.max(worst, Math.abs(got[i]! - xi));
    }
    expect(worst).toBeLessThan(2e-6);
    // it moved: 3 steps of about lr each
    expect(Math.abs(got[0]! - x0[0]!)).toBeGreaterThan(0.02);
    optX.dispose();
    optY.dispose();
    [x, y, g0!, g1!, sum].forEach((t: Tensor) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('never overwrites memory the variable shares: the tensor a variable was made from keeps its values', async () => {
    await tf.setBackend('wasm');
    const x0 = values(64, 14);
    const init = tf.tensor1d(x0);
    const w = tf.variable(init, true, 'shares_init'); // takes init's memory, as tf.variable does
    const g = tf.tensor1d(values(64, 15));
    const opt = createAdam(tf, 0.01);
    for (let t = 0; t < 2; t++) opt.applyGradients({ shares_init: g });
    expect(Array.from(init.dataSync())).toEqual(Array.from(x0));
    expect(Math.abs(w.dataSync()[0]! - x0[0]!)).toBeGreaterThan(0.01);
    opt.dispose();
    [init, w, g].forEach((t: Tensor) => t.dispose());
  });

  it('forgets the column sums a product kept of a variable it overwrites in place (they would no longer be its sums)', async () => {
    await tf.setBackend('wasm');
    const w = tf.tidy(() => tf.variable(tf.tensor2d(values(8, 16), [2, 4]), true, 'kept_sums'));
    const g = tf.tensor2d(values(8, 17), [2, 4]);
    rememberColumnSums(w, 2, new Float32Array(4));
    const opt = createAdam(tf, 0.01);
    opt.applyGradients({ kept_sums: g });
    expect(takeColumnSums(w, 2, 4)).toBeUndefined();
    opt.dispose();
    [w, g].forEach((t: Tensor) => t.dispose());
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

  it('refuses, in place, an operand of another size or dtype by name, before writing anything', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as BackendWasm;
    const x = tf.tensor1d([1, 2, 3, 4]);
    const ok = tf.zeros([4]);
    const short = tf.zeros([3]);
    const ints = tf.zeros([4], 'int32');
    const attrs = { lrT: 0.1, beta1: 0.9, beta2: 0.999, epsT: 1e-7 };
    expect(() => adamInPlace(backend, x, short, ok, ok, undefined, attrs)).toThrow('SpecflowAdam: m has shape 3 (float32), expected 4 float32');
    expect(() => adamInPlace(backend, x, ok, ints, ok, undefined, attrs)).toThrow('SpecflowAdam: v has shape 4 (int32), expected 4 float32');
    expect(() => adamInPlace(backend, x, ok, ok, short, undefined, attrs)).toThrow(/g0 has shape 3/);
    expect(() => adamInPlace(backend, x, ok, ok, ok, short, attrs)).toThrow(/g1 has shape 3/);
    expect(() => adamInPlace(backend, ints, ok, ok, ok, undefined, attrs)).toThrow(/x has shape 4 \(int32\)/);
    expect(Array.from(x.dataSync())).toEqual([1, 2, 3, 4]);
    adamInPlace(backend, x, ok, tf.zeros([4]), tf.ones([4]), undefined, attrs);
    expect(Array.from(x.dataSync()).every((v, i) => v < i + 1)).toBe(true);
    tf.dispose([x, ok, short, ints]);
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
