/**
 * The explicit backward pass of the training step (src/ml/spectral/step.ts)
 * against tfjs autograd of the same loss, and JsAdam against tf.train.adam.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import { forwardWith, initialValues, JsAdam, lossAndGrads, parameterShapes, type TF } from '../../src/ml/spectral/index.js';
import { Rng } from '../../src/util/random.js';

let tf: TF;
beforeAll(async () => {
  tf = (await (await import('../../src/ml/backend.js')).initBackend()).tf;
});

function autograd(params: Float32Array[], shapes: number[][], x: Float32Array, m: number, d: number, loss: 'cross_entropy' | 'mae' | 'mse', t: Float32Array, k: number, lam: number, phi: number) {
  return tf.tidy(() => {
    const vars = params.map((v, i) => tf.tensor(v, shapes[i]!));
    const xt = tf.tensor2d(x, [m, d]);
    const yt = tf.tensor2d(t, [m, k]);
    const f = (...p: Tensor[]) => {
      const out = forwardWith(tf, p, xt).out;
      let data: Tensor;
      if (loss === 'cross_entropy') data = tf.neg(tf.mean(tf.sum(tf.mul(yt, tf.logSoftmax(out)), 1)));
      else if (loss === 'mae') data = tf.mean(tf.abs(tf.sub(out, yt)));
      else data = tf.mean(tf.square(tf.sub(out, yt)));
      return tf.add(data, tf.add(tf.mul(lam, tf.sum(tf.square(p[0]!))), tf.mul(phi, tf.sum(tf.square(p[1]!))))) as Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)(vars);
    return { value: value.dataSync()[0]!, grads: grads.map((g) => Float32Array.from(g.dataSync())) };
  });
}

describe('explicit backward pass', () => {
  for (const loss of ['cross_entropy', 'mae', 'mse'] as const) {
    it(`matches tfjs autograd (${loss})`, () => {
      const d = 7;
      const m = 9;
      const k = loss === 'cross_entropy' ? 3 : 1;
      const cfg = { inputDim: d, hidden: [6, 5, 4], outputDim: k };
      const params = initialValues(cfg, 3);
      const rng = new Rng(11);
      params[0] = Float32Array.from(params[0]!, () => 0.5 + rng.uniform()); // λ away from 1 so its gradient is generic
      const shapes = parameterShapes(cfg);
      const x = Float32Array.from({ length: m * d }, () => rng.normal());
      const t = new Float32Array(m * k);
      for (let i = 0; i < m; i++) {
        if (k > 1) t[i * k + rng.int(k)] = 1;
        else t[i] = rng.normal();
      }
      const grads = params.map((p) => new Float32Array(p.length));
      const value = lossAndGrads(tf, params, shapes, x, m, d, { loss, values: t }, { lambdaL2: 0.01, phiL2: 0.001 }, grads);
      const ref = autograd(params, shapes, x, m, d, loss, t, k, 0.01, 0.001);
      expect(value).toBeCloseTo(ref.value, 5);
      grads.forEach((g, i) => {
        const r = ref.grads[i]!;
        const scale = Math.max(1e-3, ...Array.from(r, Math.abs));
        for (let j = 0; j < g.length; j++) expect(Math.abs(g[j]! - r[j]!) / scale).toBeLessThan(1e-4);
      });
    });
  }
});

describe('JsAdam', () => {
  it('follows tf.train.adam step for step', () => {
    const rng = new Rng(5);
    const p0 = Float32Array.from({ length: 20 }, () => rng.normal());
    const target = Float32Array.from({ length: 20 }, () => rng.normal());
    const mine = [Float32Array.from(p0)];
    const adam = new JsAdam([20], 0.05);
    const v = tf.variable(tf.tensor1d(p0));
    const tt = tf.tensor1d(target);
    const opt = tf.train.adam(0.05);
    for (let s = 0; s < 25; s++) {
      const g = new Float32Array(20);
      for (let j = 0; j < 20; j++) g[j] = 2 * (mine[0]![j]! - target[j]!);
      adam.step(mine, [g]);
      opt.minimize(() => tf.sum(tf.square(tf.sub(v, tt))) as Scalar, false, [v]);
    }
    const theirs = v.dataSync();
    for (let j = 0; j < 20; j++) expect(mine[0]![j]!).toBeCloseTo(theirs[j]!, 4);
    opt.dispose();
    v.dispose();
    tt.dispose();
  });
});
