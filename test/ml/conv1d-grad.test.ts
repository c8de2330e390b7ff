import { describe, expect, it } from 'vitest';
import { getTf } from '../../src/ml/engine.js';
import { conv1dSame } from '../../src/ml/nn.js';

describe('conv1dSame', () => {
  it.each([[1, 4, 5], [3, 5, 7], [6, 2, 15], [4, 3, 4]])('matches tf.conv1d in value and gradients (inC %i, outC %i, k %i)', async (ci, co, k) => {
    const { tf } = await getTf();
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([3, 33, ci], 0, 1, 'float32', 1);
      const w = tf.randomNormal([k, ci, co], 0, 1, 'float32', 2);
      const r = tf.randomNormal([3, 33, co], 0, 1, 'float32', 3);
      const T3 = (t: import('@tensorflow/tfjs').Tensor) => t as import('@tensorflow/tfjs').Tensor3D;
      const ours = tf.grads((a, b) => tf.sum(tf.mul(conv1dSame(tf, a!, b!), r)));
      const ref = tf.grads((a, b) => tf.sum(tf.mul(tf.conv1d(T3(a!), T3(b!), 1, 'same'), r)));
      const g1 = ours([x, w]);
      const g2 = ref([x, w]);
      const maxDiff = (a: import('@tensorflow/tfjs').Tensor, b: import('@tensorflow/tfjs').Tensor) =>
        (tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!) / Math.max(1, tf.max(tf.abs(b)).dataSync()[0]!);
      expect(maxDiff(conv1dSame(tf, x, w), tf.conv1d(T3(x), T3(w), 1, 'same'))).toBeLessThan(1e-5);
      expect(maxDiff(g1[0]!, g2[0]!)).toBeLessThan(1e-5);
      expect(maxDiff(g1[1]!, g2[1]!)).toBeLessThan(1e-5);
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('conv1dSame with a bias (fused into the convolution)', () => {
  it.each([[1, 16, 15], [5, 3, 7], [6, 1, 11], [3, 9, 4]])('matches tf.conv1d + bias, gradients of x, w and the bias (inC %i, outC %i, k %i)', async (ci, co, k) => {
    const { tf } = await getTf();
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([3, 37, ci], 0, 1, 'float32', 1);
      const w = tf.randomNormal([k, ci, co], 0, 1, 'float32', 2);
      const b = tf.randomNormal([co], 0, 1, 'float32', 4);
      const r = tf.randomNormal([3, 37, co], 0, 1, 'float32', 3);
      const T3 = (t: import('@tensorflow/tfjs').Tensor) => t as import('@tensorflow/tfjs').Tensor3D;
      const ref = (a: import('@tensorflow/tfjs').Tensor, ww: import('@tensorflow/tfjs').Tensor, bb: import('@tensorflow/tfjs').Tensor) =>
        tf.add(tf.conv1d(T3(a), T3(ww), 1, 'same'), bb);
      const g1 = tf.grads((a, ww, bb) => tf.sum(tf.mul(conv1dSame(tf, a!, ww!, bb!), r)))([x, w, b]);
      const g2 = tf.grads((a, ww, bb) => tf.sum(tf.mul(ref(a!, ww!, bb!), r)))([x, w, b]);
      // the bias is added once, after the product, as the separate add: the same bits
      expect(Array.from(conv1dSame(tf, x, w, b).dataSync())).toEqual(Array.from(tf.add(conv1dSame(tf, x, w), b).dataSync()));
      const maxDiff = (a: import('@tensorflow/tfjs').Tensor, c: import('@tensorflow/tfjs').Tensor) =>
        (tf.max(tf.abs(tf.sub(a, c))).dataSync()[0]!) / Math.max(1, tf.max(tf.abs(c)).dataSync()[0]!);
      expect(maxDiff(conv1dSame(tf, x, w, b), ref(x, w, b))).toBeLessThan(1e-5);
      for (let i = 0; i < 3; i++) expect(maxDiff(g1[i]!, g2[i]!)).toBeLessThan(1e-5);
      // a data input: no input gradient computed, the others unchanged (bitwise)
      const g3 = tf.grads((ww, bb) => tf.sum(tf.mul(conv1dSame(tf, x, ww!, bb!, { inputGrad: false }), r)))([w, b]);
      expect(Array.from(g3[0]!.dataSync())).toEqual(Array.from(g1[1]!.dataSync()));
      expect(Array.from(g3[1]!.dataSync())).toEqual(Array.from(g1[2]!.dataSync()));
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});
