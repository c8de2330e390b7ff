/**
 * The Conv-1D autoencoder's fused passes on wasm (src/ml/kernels/conv1d-passes.ts,
 * and the one-output-channel convolution of src/ml/kernels/conv1d.ts and
 * conv2d-backprop-filter.ts) against the cpu backend's composition of tfjs
 * kernels: values and gradients, odd shapes; where the fused kernels promise
 * the bits of the wasm kernels they replace, bitwise against those.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import { initBackend, type TF } from '../../src/ml/backend.js';
import {
  batchNorm, batchNormLeaky, batchNormLeakyPool, batchNormLeakyTraining, batchNormTraining, conv1dSame, downsample2, ParamStore, phaseTaps, upsample2, upsampleConv1d,
} from '../../src/ml/nn.js';
import { relErr } from './rel-err.js';
import { values } from './seeded-values.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

/** Runs f on both backends (wasm first), returning each one's arrays. */
async function onBoth(f: () => number[][]): Promise<{ wasm: number[][]; cpu: number[][] }> {
  await tf.setBackend('wasm');
  const wasm = f();
  await tf.setBackend('cpu');
  const cpu = f();
  await tf.setBackend('wasm');
  return { wasm, cpu };
}

/** f with the named wasm kernels unregistered (the composed tfjs path), then restored. */
function without(kernels: string[], f: () => number[][]): number[][] {
  const configs = kernels.map((k) => tf.getKernel(k, 'wasm')!);
  expect(configs.every((k) => k !== undefined)).toBe(true);
  for (const k of kernels) tf.unregisterKernel(k, 'wasm');
  try {
    return f();
  } finally {
    for (const k of configs) tf.registerKernel(k);
  }
}

const arrays = (ts: Tensor[]) => ts.map((t) => Array.from(t.dataSync()));

describe('Conv-1D to one output channel (dot products, not the GEMM)', () => {
  // kk = k·inC: 240 (16-float strips), 35 (strips, a 4-float block and a scalar tail), 3 (scalars only)
  it.each([[16, 15, 37], [5, 7, 29], [1, 3, 6], [3, 4, 9]])('inC %i, k %i, length %i: value, dx, dw, db match the cpu backend', async (ci, k, l) => {
    const { wasm, cpu } = await onBoth(() => tf.tidy(() => {
      const x = tf.tensor(values(3 * l * ci, 1), [3, l, ci]);
      const w = tf.tensor(values(k * ci, 2), [k, ci, 1]);
      const b = tf.tensor1d(values(1, 3));
      const r = tf.tensor(values(3 * l, 4), [3, l, 1]);
      const f = (a: Tensor, ww: Tensor, bb: Tensor) => conv1dSame(tf, a, ww, bb);
      const { value, grads } = tf.valueAndGrads((a: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(f(a, ww, bb), r)))([x, w, b]);
      return arrays([f(x, w, b), value, ...grads]);
    }));
    for (let i = 0; i < cpu.length; i++) expect(relErr(wasm[i]!, cpu[i]!), ['y', 'Σ y·r', 'dx', 'dw', 'db'][i]).toBeLessThan(1e-5);
  });

  it('strided and valid (tf.conv1d, stride 2) and its filter gradient match the cpu backend', async () => {
    const { wasm, cpu } = await onBoth(() => tf.tidy(() => {
      const x = tf.tensor(values(2 * 23 * 6, 5), [2, 23, 6]) as import('@tensorflow/tfjs').Tensor3D;
      const w = tf.tensor(values(5 * 6, 6), [5, 6, 1]) as import('@tensorflow/tfjs').Tensor3D;
      const y = tf.conv1d(x, w, 2, 'valid');
      const r = tf.tensor(values(y.size, 7), y.shape);
      const gw = tf.grad((ww: Tensor) => tf.sum(tf.mul(tf.conv1d(x, ww as typeof w, 2, 'valid'), r)))(w);
      return arrays([y, gw]);
    }));
    expect(wasm[0]).toHaveLength(2 * 10);
    for (let i = 0; i < cpu.length; i++) expect(relErr(wasm[i]!, cpu[i]!)).toBeLessThan(1e-5);
  });
});

describe('batch normalisation + LeakyReLU, fused on wasm (batchNormLeakyTraining)', () => {
  const KERNELS = ['SpecflowBnMeanVariance', 'SpecflowBnAffineLeaky', 'SpecflowBnLeakyGradSums', 'SpecflowBnLeakyGradInput'];
  const EPS = 1e-3;
  /**
   * y, Σ y·dy, dx, dγ, dβ, mean, variance, as arrays; `composed`: batchNormTraining then tf.leakyRelu;
   * `pool`: then downsample2 (fused into the same kernels on wasm).
   */
  const run = (shape: number[], alpha: number, composed = false, pool = false) => tf.tidy(() => {
    const n = shape.reduce((a, b) => a * b, 1);
    const c = shape[shape.length - 1]!;
    const x = tf.tensor(values(n, 5, 3, 0.5), shape);
    const dy = tf.tensor(values(pool ? n / 2 : n, 6), pool ? [shape[0]!, shape[1]! / 2, c] : shape);
    const gamma = tf.tensor1d(values(c, 7, 0.5, 1));
    const beta = tf.tensor1d(values(c, 8));
    let moments: number[][] = [];
    const record = (m: Tensor, v: Tensor) => { moments = [Array.from(m.dataSync()), Array.from(v.dataSync())]; };
    const pooled = (t: Tensor) => (pool ? downsample2(tf, t) : t);
    const f = composed
      ? (a: Tensor, g: Tensor, b: Tensor) => pooled(tf.leakyRelu(batchNormTraining(tf, a, g, b, EPS, record), alpha))
      : (a: Tensor, g: Tensor, b: Tensor) => batchNormLeakyTraining(tf, a, g, b, EPS, alpha, record, pool);
    const { value, grads } = tf.valueAndGrads((a: Tensor, g: Tensor, b: Tensor) => tf.sum(tf.mul(f(a, g, b), dy)))([x, gamma, beta]);
    const y = f(x, gamma, beta);
    return [...arrays([y, value, ...grads]), ...moments];
  });

  // the wasm passes run strips of 16/8/4 channels and single ones down blocks of
  // rows (4 KiB of a stream): 23 and 37 channels take every kind of strip, and
  // 95 and 68 rows are several blocks, the last one short; 37 unpooled
  // channels take the gradient sums' row-at-a-time path
  for (const [shape, alpha] of [[[6, 11, 5], 0.2], [[3, 7, 16], 0.2], [[2, 3, 4, 3], 0.01], [[9, 1], 0], [[5, 19, 23], 0.2], [[4, 17, 37], 0.1]] as [number[], number][]) {
    it(`${shape.join('×')}, α ${alpha}: the bits of batch norm then the LeakyReLU kernels, within float tolerance of cpu`, async () => {
      await tf.setBackend('wasm');
      const fused = run(shape, alpha);
      // some activations on each side of zero, so both branches of the mask are tested
      expect(fused[0]!.some((v) => v > 0)).toBe(true);
      expect(fused[0]!.some((v) => (alpha > 0 ? v < 0 : v === 0))).toBe(true);
      expect(fused).toEqual(without(KERNELS, () => run(shape, alpha)));
      expect(run(shape, alpha)).toEqual(fused); // the same bits on every call
      expect(fused).toEqual(run(shape, alpha, true));
      await tf.setBackend('cpu');
      const cpu = run(shape, alpha);
      // on cpu it is the composition itself
      expect(cpu).toEqual(run(shape, alpha, true));
      await tf.setBackend('wasm');
      for (let k = 0; k < cpu.length; k++) expect(relErr(fused[k]!, cpu[k]!)).toBeLessThan(1e-5);
    });
  }

  // several blocks of rows, each an even number (pairs), the last one short
  for (const [shape, alpha] of [[[3, 10, 5], 0.2], [[2, 16, 16], 0.2], [[4, 2, 3], 0], [[3, 34, 23], 0.2], [[6, 40, 9], 0.1], [[2, 30, 37], 0.2]] as [number[], number][]) {
    it(`${shape.join('×')}, α ${alpha}, average-pooled by 2: the bits of batch norm, LeakyReLU and pooling composed, within float tolerance of cpu`, async () => {
      await tf.setBackend('wasm');
      const fused = run(shape, alpha, false, true);
      expect(fused[0]).toHaveLength(shape.reduce((a, b) => a * b, 1) / 2);
      expect(fused[2]).toHaveLength(shape.reduce((a, b) => a * b, 1));
      expect(fused).toEqual(without([...KERNELS, 'SpecflowPairSum', 'SpecflowPairDup'], () => run(shape, alpha, false, true)));
      expect(run(shape, alpha, false, true)).toEqual(fused);
      expect(fused).toEqual(run(shape, alpha, true, true));
      await tf.setBackend('cpu');
      const cpu = run(shape, alpha, false, true);
      expect(cpu).toEqual(run(shape, alpha, true, true));
      await tf.setBackend('wasm');
      for (let k = 0; k < cpu.length; k++) expect(relErr(fused[k]!, cpu[k]!)).toBeLessThan(1e-5);
    });
  }

  it('the fused kernels refuse to pool an odd length', async () => {
    await tf.setBackend('wasm');
    const [x, v] = [tf.zeros([2, 5, 4]), tf.zeros([4])];
    expect(() => tf.engine().runKernel('SpecflowBnAffineLeaky', { x, mean: v, s: v, beta: v } as never, { alpha: 0.2, pool: 1 } as never))
      .toThrow(/even length, got 5/);
    tf.dispose([x, v]);
  });

  it('a negative α (where the output no longer shows the input\'s sign) takes the composed path', async () => {
    await tf.setBackend('wasm');
    expect(run([4, 5, 3], -0.5)).toEqual(run([4, 5, 3], -0.5, true));
  });
});

describe('batch normalisation + LeakyReLU in inference (batchNormLeaky, running moments)', () => {
  const EPS = 1e-3;
  /** batchNormLeaky and batchNorm then tf.leakyRelu with training: false, on seeded running moments. */
  const run = (shape: number[], alpha: number) => tf.tidy(() => {
    const c = shape[shape.length - 1]!;
    const store = new ParamStore(tf, 1);
    const set = (name: string, v: Float32Array) => store.create(name, [c], { kind: 'zeros' }, false).assign(tf.tensor1d(v));
    set('bn.gamma', values(c, 21, 0.5, 1));
    set('bn.beta', values(c, 22));
    set('bn.mean', values(c, 23));
    set('bn.var', values(c, 24, 0.5, 1));
    const x = tf.tensor(values(shape.reduce((a, b) => a * b, 1), 25, 3, 0.5), shape);
    const pass = { training: false };
    const composed = tf.leakyRelu(batchNorm(tf, store, 'bn', x, pass, EPS), alpha);
    const out = arrays([batchNormLeaky(tf, store, 'bn', x, pass, alpha), composed]);
    const vs = [...store.vars.values()].map((v) => Array.from(v.dataSync()));
    // and average-pooled by 2 (the encoder's blocks), where the length is even
    const pooled = shape.length === 3 && shape[1]! % 2 === 0
      ? arrays([batchNormLeakyPool(tf, store, 'bn', x, pass, alpha), downsample2(tf, composed)])
      : [];
    store.vars.forEach((v) => v.dispose());
    return [...out, ...vs, ...pooled];
  });

  for (const [shape, alpha] of [[[4, 10, 16], 0.2], [[3, 7, 5], 0.01], [[3, 6, 5], 0.01], [[5, 1], 0]] as [number[], number][]) {
    it(`${shape.join('×')}, α ${alpha}: one fused pass with the composition's bits, the closed form on cpu`, async () => {
      await tf.setBackend('wasm');
      const [fused, composed, gamma, beta, mean, variance, pooled, pooledComposed] = run(shape, alpha) as number[][];
      expect(fused).toEqual(composed);
      expect(pooled).toEqual(pooledComposed);
      expect(fused!.some((v) => v > 0) && fused!.some((v) => (alpha > 0 ? v < 0 : v === 0))).toBe(true);
      await tf.setBackend('cpu');
      const [cpu, cpuComposed] = run(shape, alpha);
      await tf.setBackend('wasm');
      expect(cpu).toEqual(cpuComposed);
      // leaky(γ·(x − μ)/√(σ² + ε) + β) in double precision
      const c = shape[shape.length - 1]!;
      const x = Array.from(values(fused!.length, 25, 3, 0.5));
      const ref = x.map((v, i) => {
        const ch = i % c;
        const z = (gamma![ch]! * (v - mean![ch]!)) / Math.sqrt(variance![ch]! + EPS) + beta![ch]!;
        return z > 0 ? z : alpha * z;
      });
      expect(relErr(fused!, ref)).toBeLessThan(1e-6);
      expect(relErr(cpu!, ref)).toBeLessThan(1e-6);
    });
  }
});

describe('pair pooling and upsampling on wasm (SpecflowPairSum, SpecflowPairDup)', () => {
  const KERNELS = ['SpecflowPairSum', 'SpecflowPairDup'];
  /** downsample2 and upsample2 of x [b, l, c], and their gradients against r. */
  const run = (b: number, l: number, c: number) => tf.tidy(() => {
    const x = tf.tensor(values(b * l * c, 9), [b, l, c]);
    const rd = tf.tensor(values((b * l * c) / 2, 10), [b, l / 2, c]);
    const ru = tf.tensor(values(2 * b * l * c, 11), [b, 2 * l, c]);
    const gd = tf.grad((a: Tensor) => tf.sum(tf.mul(downsample2(tf, a), rd)))(x);
    const gu = tf.grad((a: Tensor) => tf.sum(tf.mul(upsample2(tf, a), ru)))(x);
    return arrays([downsample2(tf, x), gd, upsample2(tf, x), gu]);
  });

  it.each([[3, 10, 5], [2, 8, 16], [1, 2, 1], [4, 6, 7]])('%i×%i×%i: the bits of the composed kernels and of the cpu backend', async (b, l, c) => {
    await tf.setBackend('wasm');
    const fused = run(b, l, c);
    expect(fused).toEqual(without(KERNELS, () => run(b, l, c)));
    // hand-worked: the mean of each pair, both copies, the pair's sum
    const x = Array.from(values(b * l * c, 9));
    expect(fused[0]![0]).toBeCloseTo((x[0]! + x[c]!) / 2, 6);
    expect(fused[2]![0]).toBe(x[0]);
    expect(fused[2]![c]).toBe(x[0]);
    const { cpu } = await onBoth(() => run(b, l, c));
    expect(fused).toEqual(cpu);
  });
});

describe('upsampleConv1d: the decoder\'s conv1d(upsample2(x)) as one convolution at x\'s length', () => {
  it.each([[1, 4, 3], [5, 3, 2], [7, 6, 5], [11, 3, 4], [15, 16, 16], [1, 2, 3]])(
    'k %i, inC %i, outC %i: value and the gradients of x, w, b match the composition on the cpu backend',
    async (k, ci, co) => {
      const run = () => tf.tidy(() => {
        const store = new ParamStore(tf, 3);
        store.create('c.w', [k, ci, co], { kind: 'zeros' }).assign(tf.tensor(values(k * ci * co, 15), [k, ci, co]));
        store.create('c.b', [co], { kind: 'zeros' }).assign(tf.tensor1d(values(co, 12)));
        const x = tf.tensor(values(3 * 13 * ci, 13), [3, 13, ci]);
        const r = tf.tensor(values(3 * 26 * co, 14), [3, 26, co]);
        const f = (a: Tensor) => upsampleConv1d(tf, store, 'c', a);
        const w = store.get('c.w');
        const b = store.get('c.b');
        const { value, grads } = tf.valueAndGrads((a: Tensor, ww: Tensor, bb: Tensor) => {
          void ww;
          void bb;
          return tf.sum(tf.mul(f(a), r));
        })([x, w, b]);
        const out = arrays([f(x), value, ...grads]);
        store.vars.forEach((v) => v.dispose());
        return out;
      });
      const { wasm, cpu } = await onBoth(run);
      expect(wasm[0]).toHaveLength(3 * 26 * co);
      // on cpu it is the composition itself: bitwise
      await tf.setBackend('cpu');
      const composed = tf.tidy(() => {
        const w = tf.tensor(values(k * ci * co, 15), [k, ci, co]);
        return arrays([conv1dSame(tf, upsample2(tf, tf.tensor(values(3 * 13 * ci, 13), [3, 13, ci])), w, tf.tensor1d(values(co, 12)))]);
      });
      await tf.setBackend('wasm');
      expect(cpu[0]).toEqual(composed[0]);
      for (let i = 0; i < cpu.length; i++) expect(relErr(wasm[i]!, cpu[i]!), ['y', 'Σ y·r', 'dx', 'dw', 'db'][i]).toBeLessThan(2e-5);
    },
  );

  it('sums each tap into the phase that reads it (hand-worked for k = 5)', () => {
    // taps j = 0..4 read x at u + ⌊(p + j − 2)/2⌋: phase 0 at offsets −1, −1, 0, 0, 1; phase 1 at −1, 0, 0, 1, 1
    const { matrix, taps } = phaseTaps(5);
    expect(taps).toBe(3);
    const rows = Array.from({ length: 6 }, (_, i) => Array.from(matrix.slice(i * 5, i * 5 + 5)));
    expect(rows).toEqual([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 1, 1]]);
    expect([7, 11, 15].map((k) => phaseTaps(k).taps)).toEqual([5, 7, 9]);
  });
});
