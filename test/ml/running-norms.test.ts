/**
 * The batch-norm running averages' update on arrays (emaFloat32, and the training team's
 * updateRunningNorms, which applies it to every layer's variables): bitwise the float32 tensor ops of
 * updateBatchNorm — r·m + x·(1 − m) as Mul, Mul, Add — on the wasm and cpu backends, and against a
 * direct float32 transcription on values where a skipped rounding shows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Autoencoder, withArchDefaults } from '../../src/ml/autoencoder.js';
import { initBackend, type TF } from '../../src/ml/backend.js';
import { BN_MOMENTUM, emaFloat32, updateBatchNorm, type Pass } from '../../src/ml/nn.js';
import { paramLayout, updateRunningNorms } from '../../src/ml/parallel/shard.js';

let tf: TF;

beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

/** Values over many binades, signs, zeros and subnormals (deterministic). */
function awkward(n: number, salt: number): Float32Array {
  const out = new Float32Array(n);
  let s = 12345 + salt;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const mantissa = 1 + s / 2 ** 32;
    const exponent = ((s >>> 7) % 60) - 30;
    out[i] = (s & 1 ? -1 : 1) * mantissa * 2 ** exponent;
  }
  out[0] = 0;
  out[1] = 1e-40; // subnormal
  out[2] = -3.4e38;
  return out;
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe.each(['wasm', 'cpu'] as const)('running batch-norm averages on %s', (backend) => {
  it('emaFloat32 has the bits of tfjs\'s Mul, Mul and Add on float32 tensors', async () => {
    await tf.setBackend(backend);
    const running = awkward(4099, 1);
    const batch = awkward(4099, 2);
    const viaTf = tf.tidy(() => tf.add(tf.mul(tf.tensor1d(running), BN_MOMENTUM), tf.mul(tf.tensor1d(batch), 1 - BN_MOMENTUM)).dataSync() as Float32Array);
    const mine = running.slice();
    emaFloat32(mine, batch);
    expect(bits(mine)).toEqual(bits(viaTf));
    // a hand-worked case: 0.9·10 + 0.1·20 in float32 is 11 (10·f32(0.9) = 8.99999976… rounds to 9, 20·f32(0.1) = 2.0000000298… to 2)
    const one = Float32Array.of(10);
    emaFloat32(one, Float32Array.of(20));
    expect(one[0]).toBe(11);
  });

  it('updateRunningNorms steps every layer\'s running mean and variance as updateBatchNorm does, bit for bit', async () => {
    await tf.setBackend(backend);
    const d = 32;
    const config = withArchDefaults({
      format: 'specflow-model', version: 1, arch: 'conv1d', inputDim: d, latentDim: 3, loss: 'mse',
      scaling: { center: new Array<number>(d).fill(0), scale: 1 },
      conv1d: { filters: [4, 6], kernels: [5, 3], norm: 'batch', leak: 0.2, hidden: [] },
    });
    const [a, b] = [new Autoencoder(tf, config, 4), new Autoencoder(tf, config, 4)];
    const layout = paramLayout(a);
    expect(layout.norms.length).toBeGreaterThan(1);
    // start both from the same non-trivial running statistics
    for (const n of layout.norms) {
      for (const [suffix, salt] of [['mean', 3], ['var', 5]] as const) {
        const start = tf.tensor1d(awkward(n.channels, salt + n.offset).map(Math.abs));
        a.store.get(`${n.name}.${suffix}`).assign(start);
        b.store.get(`${n.name}.${suffix}`).assign(start);
        start.dispose();
      }
    }
    for (let step = 0; step < 3; step++) {
      const pooled = awkward(layout.normFloats, 10 + step).map(Math.abs);
      const pass: Pass = { training: true, bnStats: new Map() };
      for (const n of layout.norms) {
        pass.bnStats!.set(n.name, {
          mean: tf.tensor1d(pooled.subarray(n.offset, n.offset + n.channels)),
          variance: tf.tensor1d(pooled.subarray(n.offset + n.channels, n.offset + 2 * n.channels)),
        });
      }
      updateBatchNorm(tf, a.store, pass);
      updateRunningNorms(tf, b, layout, pooled);
    }
    for (const n of layout.norms) {
      for (const suffix of ['mean', 'var']) {
        const name = `${n.name}.${suffix}`;
        expect(bits(b.store.get(name).dataSync() as Float32Array), name).toEqual(bits(a.store.get(name).dataSync() as Float32Array));
      }
    }
    a.dispose();
    b.dispose();
  });
});
