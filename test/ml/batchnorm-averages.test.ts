/**
 * The batch norm's running averages (src/ml/nn.ts updateBatchNorm), which on
 * wasm are updated in place in JavaScript rather than by tfjs ops: the same
 * bits as the Mul, Mul and Add kernels they replace, over values spread
 * across many binades, and the ops' path wherever another tensor shares an
 * average's memory (which must then keep its old values).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type TF } from '../../src/ml/backend.js';
import { defineBatchNorm, ParamStore, updateBatchNorm, type Pass } from '../../src/ml/nn.js';
import { values } from './seeded-values.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
  await tf.setBackend('wasm');
});

/** c floats of both signs whose magnitudes span 2^-30 … 2^30 (where a wrong rounding would show). */
function spread(c: number, seed: number): Float32Array {
  const u = values(c, seed);
  const e = values(c, seed + 1, 30);
  return Float32Array.from(u, (v, i) => v * 2 ** Math.round(e[i]!));
}

/** What the tfjs ops compute: avg·m + x·(1 − m), each op in float32 on the current backend. */
function byOps(avg: Float32Array, x: Float32Array, m: number): Float32Array {
  return tf.tidy(() => tf.add(tf.mul(tf.tensor1d(avg), m), tf.mul(tf.tensor1d(x), 1 - m)).dataSync() as Float32Array);
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));
}

describe('updateBatchNorm on wasm', () => {
  it('updates the running mean and variance with the bits of the Mul, Mul and Add kernels, step after step', () => {
    const c = 257;
    const store = new ParamStore(tf, 1);
    defineBatchNorm(store, 'bn', c);
    const rm = store.get('bn.mean');
    const rv = store.get('bn.var');
    // (in tidy: the variables then own their memory, as in training, and are updated in place)
    tf.tidy(() => {
      rm.assign(tf.tensor1d(spread(c, 11)));
      rv.assign(tf.tensor1d(spread(c, 21)));
    });
    for (const [step, momentum] of [[0, 0.9], [1, 0.9], [2, 0.7]] as const) {
      const mean = tf.keep(tf.tensor1d(spread(c, 31 + step)));
      const variance = tf.keep(tf.tensor1d(spread(c, 41 + step)));
      const wantMean = byOps(rm.dataSync() as Float32Array, mean.dataSync() as Float32Array, momentum);
      const wantVar = byOps(rv.dataSync() as Float32Array, variance.dataSync() as Float32Array, momentum);
      const pass: Pass = { training: true, bnStats: new Map([['bn', { mean, variance }]]) };
      const before = tf.memory().numTensors;
      updateBatchNorm(tf, store, pass, momentum);
      expect(bits(store.get('bn.mean').dataSync() as Float32Array)).toEqual(bits(wantMean));
      expect(bits(store.get('bn.var').dataSync() as Float32Array)).toEqual(bits(wantVar));
      // the batch moments are disposed and nothing is left behind
      expect(mean.isDisposed && variance.isDisposed).toBe(true);
      expect(tf.memory().numTensors).toBe(before - 2);
      expect(pass.bnStats!.size).toBe(0);
    }
  });

  it('leaves a tensor sharing an average\'s memory as it was (and still updates the average)', () => {
    const c = 33;
    const store = new ParamStore(tf, 2);
    defineBatchNorm(store, 'bn', c);
    const rm = store.get('bn.mean');
    tf.tidy(() => rm.assign(tf.tensor1d(spread(c, 5))));
    const old = rm.dataSync().slice() as Float32Array;
    // a clone shares the data on wasm (specflow's Identity): the average's memory is no longer its own
    const shared = tf.clone(rm);
    const mean = tf.keep(tf.tensor1d(spread(c, 6)));
    const variance = tf.keep(tf.tensor1d(spread(c, 7)));
    const want = byOps(old, mean.dataSync() as Float32Array, 0.9);
    updateBatchNorm(tf, store, { training: true, bnStats: new Map([['bn', { mean, variance }]]) });
    expect(bits(shared.dataSync() as Float32Array)).toEqual(bits(old));
    expect(bits(store.get('bn.mean').dataSync() as Float32Array)).toEqual(bits(want));
    shared.dispose();
  });
});
