/**
 * Closed-form gradients that replace tfjs's autodiff in training (the MSE loss,
 * average pooling by 2): the same numbers as the autodiff they replace, to the
 * bit on the backend that trains (and on cpu, the reference).
 */
import { describe, expect, it } from 'vitest';
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import { mseT } from '../../src/ml/autoencoder.js';
import { initBackend } from '../../src/ml/backend.js';
import { getTf } from '../../src/ml/engine.js';
import { downsample2 } from '../../src/ml/nn.js';

const bits = (t: Tensor) => Array.from(t.dataSync());

describe.each(['wasm', 'cpu'] as const)('on %s', (backend) => {
  it('mseT: value and gradient equal mean(squaredDifference) and its autodiff, bitwise', async () => {
    const { tf } = await getTf();
    const before = tf.getBackend();
    await initBackend(backend);
    try {
      tf.tidy(() => {
        for (const shape of [[7, 13], [3, 1], [5, 33]]) {
          const p = tf.randomNormal(shape, 0, 2, 'float32', 1);
          const t = tf.randomNormal(shape, 1, 1, 'float32', 2);
          const ours = tf.valueAndGrad((a: Tensor) => mseT(tf, a, t) as Scalar)(p);
          const ref = tf.valueAndGrad((a: Tensor) => tf.mean(tf.squaredDifference(a, t)) as Scalar)(p);
          // a hand-worked value: mean of (p − t)² in float64, to float precision
          const pv = p.dataSync();
          const tv = t.dataSync();
          let ss = 0;
          for (let i = 0; i < pv.length; i++) ss += (pv[i]! - tv[i]!) ** 2;
          expect(ours.value.dataSync()[0]).toBeCloseTo(ss / pv.length, 4);
          expect(bits(ours.value)).toEqual(bits(ref.value));
          expect(bits(ours.grad)).toEqual(bits(ref.grad));
        }
      });
    } finally {
      await initBackend(before as 'wasm');
    }
  });

  it('downsample2: value and gradient equal the mean over pairs and its autodiff, bitwise', async () => {
    const { tf } = await getTf();
    const before = tf.getBackend();
    await initBackend(backend);
    try {
      tf.tidy(() => {
        for (const [b, l, c] of [[2, 10, 3], [3, 6, 1], [1, 34, 5]]) {
          const x = tf.randomNormal([b!, l!, c!], 0, 1, 'float32', 3);
          const r = tf.randomNormal([b!, l! / 2, c!], 0, 1, 'float32', 4);
          const ours = tf.valueAndGrad((a: Tensor) => tf.sum(tf.mul(downsample2(tf, a), r)) as Scalar)(x);
          const ref = tf.valueAndGrad((a: Tensor) => tf.sum(tf.mul(tf.mean(tf.reshape(a, [b!, l! / 2, 2, c!]), 2), r)) as Scalar)(x);
          expect(bits(ours.value)).toEqual(bits(ref.value));
          expect(bits(ours.grad)).toEqual(bits(ref.grad));
          // by hand: each member of a pair gets half its output's gradient
          const g = ours.grad.dataSync();
          const rv = r.dataSync();
          expect(g[0]).toBe(Math.fround(rv[0]! / 2));
          expect(g[c!]).toBe(Math.fround(rv[0]! / 2));
        }
      });
    } finally {
      await initBackend(before as 'wasm');
    }
  });
});
