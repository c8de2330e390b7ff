/**
 * The autoencoder's fused input scaling and mean squared error on wasm
 * (src/ml/kernels/loss.ts): the same bits as the tfjs kernels they replace
 * (Sub then RealDiv; SquaredDifference then Mean; the gradient's Sub then
 * Multiply), and the values of the cpu backend, which composes them from
 * tfjs's own kernels.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import { Autoencoder, mseT, withArchDefaults } from '../../src/ml/autoencoder.js';
import { initBackend, type TF } from '../../src/ml/backend.js';
import { MSE_KERNEL, SCALE_SHIFT_KERNEL } from '../../src/ml/kernels/loss.js';

let tf: TF;

beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

/** Deterministic values in (−scale, scale) with a few exact zeros and ties. */
function values(n: number, seed: number, scale = 3): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, (_, i) => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return i % 17 === 0 ? 0 : i % 23 === 0 ? 0.5 : ((a / 2 ** 32) * 2 - 1) * scale;
  });
}

const bits = (t: Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));

/** Shapes with a vector body and a scalar tail (the MSE sums in blocks of 16, the scaling in rows of 4s). */
const SHAPES: [number, number][] = [[5, 37], [64, 1024], [3, 1], [1, 16], [33, 70]];

describe('fused input scaling (SpecflowScaleShift)', () => {
  it('is installed on wasm, not on cpu', async () => {
    await tf.setBackend('wasm');
    expect(tf.getKernel(SCALE_SHIFT_KERNEL, 'wasm')).toBeDefined();
    expect(tf.getKernel(MSE_KERNEL, 'wasm')).toBeDefined();
    expect(tf.getKernel(SCALE_SHIFT_KERNEL, 'cpu')).toBeUndefined();
  });

  for (const [b, d] of SHAPES) {
    it(`${b} × ${d}: the bits of Sub then RealDiv, and cpu's values`, async () => {
      const center = Array.from(values(d, 7 + d, 2));
      const scale = 0.37;
      const cfg = withArchDefaults({
        format: 'specflow-model', version: 1, arch: 'dense', inputDim: d, latentDim: 1, loss: 'mse', scaling: { center, scale },
        dense: { hidden: [2], activation: 'relu' },
      });
      const x = values(b * d, 3 + b);
      const out: Record<string, number[]> = {};
      for (const backend of ['wasm', 'cpu'] as const) {
        await tf.setBackend(backend);
        const model = new Autoencoder(tf, cfg, 1);
        tf.tidy(() => {
          const xt = tf.tensor2d(x, [b, d]);
          out[backend] = bits(model.scaleIn(xt));
          out[`${backend} composed`] = bits(tf.div(tf.sub(xt, tf.tensor2d(center, [1, d])), scale));
        });
        model.dispose();
      }
      expect(out.wasm).toEqual(out['wasm composed']);
      // IEEE sub and div: cpu's JavaScript loop rounds each the same way
      expect(out.wasm).toEqual(out.cpu);
    });
  }
});

describe('fused mean squared error (SpecflowMse)', () => {
  for (const [b, d] of SHAPES) {
    it(`${b} × ${d}: value and gradient, the bits of the composed kernels on wasm, cpu's values`, async () => {
      const p = values(b * d, 11 + d);
      const t = values(b * d, 5 + b);
      const results: Record<string, { value: number[]; grad: number[]; v: number; g: Float32Array }> = {};
      const run = (name: string, loss: (pp: Tensor, tt: Tensor) => Tensor) => tf.tidy(() => {
        const pt = tf.tensor2d(p, [b, d]);
        const tt = tf.tensor2d(t, [b, d]);
        // a scale on the loss, as a shard's share of the batch loss is (dy ≠ 1)
        const { value, grad } = tf.valueAndGrad((q: Tensor) => tf.mul(loss(q, tt), 0.75))(pt) as { value: Tensor; grad: Tensor };
        results[name] = { value: bits(value), grad: bits(grad), v: value.dataSync()[0]!, g: grad.dataSync() as Float32Array };
      });
      await tf.setBackend('wasm');
      run('fused', (q, tt) => mseT(tf, q, tt));
      // the kernels it replaces: Mean of SquaredDifference; (p − t)·((dy/n)·2) for the gradient
      run('composed', (q, tt) => {
        const f = tf.customGrad(((qq: Tensor, save: (ts: Tensor[]) => void) => {
          save([qq, tt]);
          return {
            value: tf.mean(tf.squaredDifference(qq, tt)),
            gradFunc: (dy: Tensor, [sq, st]: Tensor[]) => tf.mul(tf.sub(sq!, st!), tf.mul(tf.div(dy, qq.size), 2)),
          };
        }) as never) as (a: Tensor) => Tensor;
        return f(q);
      });
      await tf.setBackend('cpu');
      // tfjs's own autodiff of mean(squaredDifference) on the cpu backend: an independent implementation
      run('cpu', (q, tt) => tf.mean(tf.squaredDifference(q, tt)));
      expect(results.fused!.value).toEqual(results.composed!.value);
      expect(results.fused!.grad).toEqual(results.composed!.grad);
      // the sum runs in another order on cpu
      expect(Math.abs(results.fused!.v - results.cpu!.v) / results.cpu!.v).toBeLessThan(1e-5);
      let worst = 0;
      let scale = 1e-12;
      results.cpu!.g.forEach((v) => { scale = Math.max(scale, Math.abs(v)); });
      results.cpu!.g.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - results.fused!.g[i]!) / scale); });
      expect(worst).toBeLessThan(1e-6);
      // a closed form for one element: d/dp of 0.75·mean((p − t)²) = 1.5·(p − t)/n
      const i = Math.min(5, b * d - 1);
      expect(results.fused!.g[i]!).toBeCloseTo((1.5 * (p[i]! - t[i]!)) / (b * d), 6);
    });
  }
});
