/**
 * The Transformer's fused ops (src/ml/nn.ts on specflow's wasm kernels,
 * src/ml/kernels/transformer.ts): forward values and gradients against the
 * same functions composed from tfjs ops on the cpu backend, on small random
 * shapes whose sizes are not multiples of 4 (the SIMD loops' tails), and
 * against hand-worked tiny cases.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import { initBackend, type TF } from '../../src/ml/backend.js';
import { addLayerNormOp, concatColumns, fusedTransformerOps, gelu, layerNormOp, matMulBias, matMulBiasRelu, multiHeadAttention } from '../../src/ml/nn.js';
import { trainAutoencoder } from '../../src/ml/train.js';
import { erfExact } from './exact-erf.js';
import { Rng } from '../../src/util/random.js';

let tf: TF;

beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

function rand(n: number, seed: number, sd = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal(0, sd));
}

type Op = (t: TF, ...xs: Tensor[]) => Tensor;

/** Values of op(inputs) and of the gradients of Σ op(inputs)·w, w a fixed random weighting. */
async function valueAndGrads(backend: 'cpu' | 'wasm', shapes: number[][], op: Op, seed: number) {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = shapes.map((s, i) => tf.tensor(rand(s.reduce((a, b) => a * b, 1), seed + i), s));
    const y = op(tf, ...xs);
    const w = tf.tensor(rand(y.size, seed + 99), y.shape);
    const grads = tf.grads((...p: Tensor[]) => tf.sum(tf.mul(op(tf, ...p), w)))(xs);
    return { fused: fusedTransformerOps(tf), outs: [y, ...grads].map((t) => Float32Array.from(t.dataSync())) };
  });
}

/** Max |wasm − cpu| of each output relative to its largest |cpu| value. */
async function wasmVsCpu(shapes: number[][], op: Op, seed = 1): Promise<number> {
  const ref = await valueAndGrads('cpu', shapes, op, seed);
  const got = await valueAndGrads('wasm', shapes, op, seed);
  expect(ref.fused).toBe(false);
  expect(got.fused).toBe(true);
  let worst = 0;
  got.outs.forEach((g, o) => {
    const r = ref.outs[o]!;
    expect(g.length).toBe(r.length);
    const scale = Math.max(1e-6, ...Array.from(r, Math.abs));
    for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(g[i]! - r[i]!) / scale);
  });
  return worst;
}

const TOL = 2e-5;

describe('layer norm', () => {
  it.each([[[3, 5, 7]], [[2, 4, 16]], [[6, 64]], [[7, 12]], [[9, 24]], [[2, 3]], [[4, 1]]])('%j: forward and gradients (x, γ, β) match cpu', async (shape) => {
    const d = shape[shape.length - 1]!;
    const diff = await wasmVsCpu([shape, [d], [d]], (t, x, g, b) => layerNormOp(t, t.add(t.mul(x!, 3), 1.5), g!, b!));
    expect(diff).toBeLessThan(TOL);
  });

  it('a hand-worked row: x = 1, 2, 3, 4 (eps 0)', async () => {
    await tf.setBackend('wasm');
    const { y, dx, dg, db } = tf.tidy(() => {
      const x = tf.tensor2d([[1, 2, 3, 4]]);
      const g = tf.tensor1d([1, 1, 1, 1]);
      const b = tf.tensor1d([0, 0, 0, 0]);
      const dy = tf.tensor2d([[1, 0, 0, 0]]);
      const [gx, gg, gb] = tf.grads((a: Tensor, c: Tensor, e: Tensor) => tf.sum(tf.mul(layerNormOp(tf, a, c, e, 0), dy)))([x, g, b]);
      return { y: layerNormOp(tf, x, g, b, 0).dataSync(), dx: gx!.dataSync(), dg: gg!.dataSync(), db: gb!.dataSync() };
    });
    // μ = 2.5, σ² = 1.25, r = 2/√5: x̂ = (−3, −1, 1, 3)/√5;
    // dx = r·(dy − mean(dy) − x̂·mean(dy·x̂)) = r·(0.75 − 0.45, −0.25 − 0.15, −0.25 + 0.15, −0.25 + 0.45)
    const s5 = Math.sqrt(5);
    [-3 / s5, -1 / s5, 1 / s5, 3 / s5].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 6));
    [0.3, -0.4, -0.1, 0.2].forEach((v, i) => expect(dx[i]).toBeCloseTo((2 / s5) * v, 6));
    [-3 / s5, 0, 0, 0].forEach((v, i) => expect(dg[i]).toBeCloseTo(v, 6));
    [1, 0, 0, 0].forEach((v, i) => expect(db[i]).toBeCloseTo(v, 6));
  });
});

describe('residual add joined with layer norm', () => {
  // both outputs feed the loss (the stream and the normalised branch), and x also feeds it
  // directly, so its gradient is summed by tfjs with the kernel's (the clone of dx)
  it.each([[[3, 5, 7]], [[2, 4, 16]], [[6, 64]], [[4, 1]]])('%j: sum, y and the gradients (x, residual, γ, β) match cpu', async (shape) => {
    const d = shape[shape.length - 1]!;
    const diff = await wasmVsCpu([shape, shape, [d], [d]], (t, x, r, g, b) => {
      const { sum, y } = addLayerNormOp(t, t.add(t.mul(x!, 3), 1.5), r!, g!, b!);
      return t.concat([t.mul(sum, 0.7), y, t.mul(x!, 0.3)], -1);
    });
    expect(diff).toBeLessThan(TOL);
  });

  it.each([[[7, 12]], [[9, 24]]])('%j (rows in blocks of four and alone, width no multiple of 16): sum, y and the gradients match cpu', async (shape) => {
    const d = shape[shape.length - 1]!;
    const diff = await wasmVsCpu([shape, shape, [d], [d]], (t, x, r, g, b) => {
      const { sum, y } = addLayerNormOp(t, t.add(t.mul(x!, 3), 1.5), r!, g!, b!);
      return t.concat([t.mul(sum, 0.7), y], -1);
    });
    expect(diff).toBeLessThan(TOL);
  });

  // the kernel takes rows four at a time (their μ and 1/σ in one vector) where d is whole vectors,
  // and the last rows one at a time: a row must come out the same either way
  it.each([12, 64])('d = %i: a row among four and the same row alone give the same bits, with and without a residual, forward and gradient', async (d) => {
    await tf.setBackend('wasm');
    const rows = 5;
    const withRow0Again = (seed: number) => {
      const v = rand(rows * d, seed, 2);
      v.copyWithin((rows - 1) * d, 0, d);
      return tf.tensor2d(v, [rows, d]);
    };
    const out = tf.tidy(() => {
      const [x, r, dy] = [withRow0Again(61), withRow0Again(62), withRow0Again(63)];
      const [g, b] = [tf.tensor1d(rand(d, 64)), tf.tensor1d(rand(d, 65))];
      const plain = (a: Tensor) => layerNormOp(tf, a, g, b);
      const joined = (a: Tensor) => addLayerNormOp(tf, a, r, g, b).y;
      return [plain(x), tf.grad((a: Tensor) => tf.sum(tf.mul(plain(a), dy)))(x), joined(x), tf.grad((a: Tensor) => tf.sum(tf.mul(joined(a), dy)))(x)]
        .map((t) => Float32Array.from(t.dataSync()));
    });
    for (const bits of out.map((v) => new Uint32Array(v.buffer))) expect(Array.from(bits.subarray((rows - 1) * d))).toEqual(Array.from(bits.subarray(0, d)));
  });

  it('only y used: the unused sum gets a zero gradient', async () => {
    const diff = await wasmVsCpu([[5, 12], [5, 12], [12], [12]], (t, x, r, g, b) => addLayerNormOp(t, x!, r!, g!, b!).y);
    expect(diff).toBeLessThan(TOL);
  });

  it.each([[[12, 7], [4, 7]], [[18, 64], [3, 64]], [[10, 3], [1, 3]]])('x %j, a residual %j repeated down x: sum, y and the gradients (x, residual, γ, β) match cpu', async (xs, rs) => {
    const d = xs[1]!;
    const diff = await wasmVsCpu([xs, rs, [d], [d]], (t, x, r, g, b) => {
      const { sum, y } = addLayerNormOp(t, t.add(t.mul(x!, 3), 1.5), r!, g!, b!);
      return t.concat([t.mul(sum, 0.7), y], -1);
    });
    expect(diff).toBeLessThan(TOL);
  });

  it('a repeated residual: the bits of tfjs\'s broadcast Add, layer norm and its summing of the stream\'s two gradients', async () => {
    await tf.setBackend('wasm');
    const bits = (fused: boolean) =>
      tf.tidy(() => {
        const [x, pos, g, b] = [tf.tensor2d(rand(24 * 20, 41), [24, 20]), tf.tensor2d(rand(6 * 20, 42), [6, 20]), tf.tensor1d(rand(20, 43)), tf.tensor1d(rand(20, 44))];
        const [r1, r2] = [tf.tensor2d(rand(24 * 20, 45), [24, 20]), tf.tensor2d(rand(24 * 20, 46), [24, 20])];
        const op = (a: Tensor, c: Tensor, e: Tensor) => {
          let sum: Tensor;
          let y: Tensor;
          if (fused) ({ sum, y } = addLayerNormOp(tf, a, pos, c, e));
          else {
            sum = tf.reshape(tf.add(tf.reshape(a, [4, 6, 20]), pos), [24, 20]);
            y = layerNormOp(tf, sum, c, e);
          }
          return tf.add(tf.sum(tf.mul(sum, r1)), tf.sum(tf.mul(y, r2)));
        };
        const grads = tf.grads(op)([x, g, b]);
        return [op(x, g, b), ...grads].map((t) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer)));
      });
    expect(bits(true)).toEqual(bits(false));
  });

  it('a residual whose rows do not repeat whole down x is refused', async () => {
    await tf.setBackend('wasm');
    const [x, r, g] = [tf.zeros([10, 4]), tf.zeros([4, 4]), tf.ones([4])];
    expect(() => addLayerNormOp(tf, x, r, g, g)).toThrow(/residual has shape 4,4, expected rows of 4 repeating whole down 10 rows/);
    [x, r, g].forEach((t) => t.dispose());
  });

  it('a hand-worked row: x = (0, 2, 2, 4), residual (1, 0, 1, 0): sum (1, 2, 3, 4), eps 0', async () => {
    await tf.setBackend('wasm');
    const { sum, y, dx, dr } = tf.tidy(() => {
      const x = tf.tensor2d([[0, 2, 2, 4]]);
      const r = tf.tensor2d([[1, 0, 1, 0]]);
      const g = tf.ones([4]);
      const b = tf.zeros([4]);
      const loss = (a: Tensor, c: Tensor) => {
        const o = addLayerNormOp(tf, a, c, g, b, 0);
        return tf.add(tf.sum(tf.mul(o.y, tf.tensor2d([[1, 0, 0, 0]]))), tf.sum(o.sum));
      };
      const out = addLayerNormOp(tf, x, r, g, b, 0);
      const [gx, gr] = tf.grads(loss)([x, r]);
      return { sum: out.sum.dataSync(), y: out.y.dataSync(), dx: gx!.dataSync(), dr: gr!.dataSync() };
    });
    // as the layer norm case above, plus 1 everywhere from Σ sum
    const s5 = Math.sqrt(5);
    [1, 2, 3, 4].forEach((v, i) => expect(sum[i]).toBe(v));
    [-3 / s5, -1 / s5, 1 / s5, 3 / s5].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 6));
    [0.3, -0.4, -0.1, 0.2].forEach((v, i) => {
      expect(dx[i]).toBeCloseTo(1 + (2 / s5) * v, 6);
      expect(dr[i]).toBeCloseTo(1 + (2 / s5) * v, 6);
    });
  });
});

describe('GELU', () => {
  it.each([[[7, 13]], [[3, 128]], [[1]], [[2, 9]]])('%j: forward and gradient match cpu', async (shape) => {
    const diff = await wasmVsCpu([shape], (t, x) => gelu(t, t.mul(x!, 2.5)));
    expect(diff).toBeLessThan(TOL);
  });

  it('forward within 3e-7·max(1, |x|) of the exact GELU on −8…8 (its erf is a rational approximation)', async () => {
    await tf.setBackend('wasm');
    const xs = Float32Array.from({ length: 16001 }, (_, i) => (i - 8000) / 1000);
    const y = tf.tidy(() => gelu(tf, tf.tensor1d(xs)).dataSync());
    let worst = 0;
    xs.forEach((x, i) => {
      const exact = (x / 2) * (1 + erfExact(x / Math.SQRT2));
      worst = Math.max(worst, Math.abs(y[i]! - exact) / Math.max(1, Math.abs(x)));
    });
    expect(worst).toBeLessThan(3e-7);
  });

  it('hand values: gelu(0) = 0, gelu(±1) = ±Φ(±1), slopes Φ(x) + x·φ(x)', async () => {
    await tf.setBackend('wasm');
    const { y, g } = tf.tidy(() => {
      const x = tf.tensor1d([0, 1, -1]);
      return { y: gelu(tf, x).dataSync(), g: tf.grad((a: Tensor) => tf.sum(gelu(tf, a)))(x).dataSync() };
    });
    const phi1 = Math.exp(-0.5) / Math.sqrt(2 * Math.PI); // φ(1) = 0.241971
    const cdf1 = 0.8413447460685429; // Φ(1)
    [0, cdf1, -(1 - cdf1)].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 6));
    [0.5, cdf1 + phi1, 1 - cdf1 - phi1].forEach((v, i) => expect(g[i]).toBeCloseTo(v, 6));
  });
});

describe('x·w + b with the kernels called on 2-D tensors', () => {
  it('the same bits as tf.fused.matMul, forward and all three gradients', async () => {
    await tf.setBackend('wasm');
    expect(fusedTransformerOps(tf)).toBe(true);
    const bits = (direct: boolean) =>
      tf.tidy(() => {
        const [x, w, b] = [tf.tensor2d(rand(37 * 13, 31), [37, 13]), tf.tensor2d(rand(13 * 9, 32), [13, 9]), tf.tensor1d(rand(9, 33))];
        const r = tf.tensor2d(rand(37 * 9, 34), [37, 9]);
        const op = (a: Tensor, c: Tensor, e: Tensor) => (direct ? matMulBias(tf, a, c, e) : tf.fused.matMul({ a: a as never, b: c as never, bias: e }));
        const grads = tf.grads((a: Tensor, c: Tensor, e: Tensor) => tf.sum(tf.mul(op(a, c, e), r)))([x, w, b]);
        return [op(x, w, b), ...grads].map((t) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer)));
      });
    const [got, want] = [bits(true), bits(false)];
    expect(got.map((g) => g.length)).toEqual([37 * 9, 37 * 13, 13 * 9, 9]);
    expect(got).toEqual(want);
  });

  it.each([[37, 13, 9], [21, 16, 64], [9, 5, 1]])(
    'relu(x [%i, %i] · w [·, %i] + b): the bits of tf.fused.matMul with relu, forward and all three gradients',
    async (m, k, n) => {
      await tf.setBackend('wasm');
      const bits = (direct: boolean) =>
        tf.tidy(() => {
          // the bias shifted so that about half the units are off (the relu's gradient zeroes them)
          const [x, w, b] = [tf.tensor2d(rand(m * k, 41), [m, k]), tf.tensor2d(rand(k * n, 42), [k, n]), tf.tensor1d(rand(n, 43))];
          const r = tf.tensor2d(rand(m * n, 44), [m, n]);
          const op = (a: Tensor, c: Tensor, e: Tensor) =>
            direct ? matMulBiasRelu(tf, a, c, e) : tf.fused.matMul({ a: a as never, b: c as never, bias: e, activation: 'relu' });
          const grads = tf.grads((a: Tensor, c: Tensor, e: Tensor) => tf.sum(tf.mul(op(a, c, e), r)))([x, w, b]);
          return [op(x, w, b), ...grads].map((t) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer)));
        });
      const [got, want] = [bits(true), bits(false)];
      expect(got.map((g) => g.length)).toEqual([m * n, m * k, k * n, n]);
      const zeros = got[0]!.filter((v) => v === 0).length;
      expect(zeros).toBeGreaterThan(0); // the relu is exercised
      expect(zeros).toBeLessThan(m * n);
      expect(got).toEqual(want);
    },
  );

  it('SpecflowReluGrad gives the bits of dy·step(y) on the cpu backend, NaN, ±0 and ±∞ included, over the vector loop and its tail', async () => {
    const n = 4 * 9 + 3;
    const y = Float32Array.from(rand(n, 61), (v, i) => [NaN, 0, -0, Infinity, -Infinity][i % 7] ?? v);
    const dy = Float32Array.from(rand(n, 62), (v, i) => [NaN, Infinity, -Infinity, 0, -0][i % 11] ?? v);
    const bits = async (backend: 'cpu' | 'wasm') => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const [d, v] = [tf.tensor1d(dy), tf.tensor1d(y)];
        const out = backend === 'wasm' ? (tf.engine().runKernel('SpecflowReluGrad', { dy: d, y: v } as never) as Tensor) : tf.mul(d, tf.step(v));
        // NaN's payload is not specified: every NaN compared as one
        return Array.from(out.dataSync(), (f) => (Number.isNaN(f) ? 'NaN' : new Uint32Array(Float32Array.of(f).buffer)[0]));
      });
    };
    const [got, want] = [await bits('wasm'), await bits('cpu')];
    expect(got.filter((b) => b === 0x80000000).length).toBeGreaterThan(0); // −0 from a negative dy where the unit is off
    expect(got.filter((b) => b === 'NaN').length).toBeGreaterThan(2);
    expect(got).toEqual(want);
  });

  it('relu(x·w + b) runs 4 kernels and saves 3 tensors, where tf.fused.matMul runs more', async () => {
    await tf.setBackend('wasm');
    const kernels = async (direct: boolean) => {
      const [x, w, b] = [tf.tensor2d(rand(37 * 13, 41), [37, 13]), tf.tensor2d(rand(13 * 9, 42), [13, 9]), tf.tensor1d(rand(9, 43))];
      const info = await tf.profile(() => {
        const op = (a: Tensor, c: Tensor, e: Tensor) =>
          direct ? matMulBiasRelu(tf, a, c, e) : tf.fused.matMul({ a: a as never, b: c as never, bias: e, activation: 'relu' });
        // the gradient of the output's sum: tf.grads' own ops (Sum, the ones filled in as dy) are the same for both
        tf.grads((a: Tensor, c: Tensor, e: Tensor) => tf.sum(op(a, c, e)))([x, w, b]).forEach((g) => g.dispose());
      });
      [x, w, b].forEach((t) => t.dispose());
      return info.kernels.map((k) => k.name);
    };
    const [direct, fused] = [await kernels(true), await kernels(false)];
    // the sum's own gradient is a Reshape and a Multiply (by ones), the same for both; Identity: the saved tensors
    expect(direct.filter((k) => k !== 'Sum' && k !== 'Identity' && k !== 'Fill').sort()).toEqual(
      ['BatchMatMul', 'BatchMatMul', 'Multiply', 'Reshape', 'SpecflowMatMulBiasRelu', 'SpecflowReluGrad'],
    );
    expect(direct.length).toBeLessThan(fused.length);
  });

  it.each([[37, 13, 9], [21, 16, 64], [9, 5, 1], [6, 70, 3]])(
    'x [%i, %i] · w [·, %i] + b + a residual: the bits of tf.fused.matMul then an Add, forward and all four gradients',
    async (m, k, n) => {
      await tf.setBackend('wasm');
      const bits = (inStore: boolean) =>
        tf.tidy(() => {
          const [x, w, b, res] = [tf.tensor2d(rand(m * k, 51), [m, k]), tf.tensor2d(rand(k * n, 52), [k, n]), tf.tensor1d(rand(n, 53)), tf.tensor2d(rand(m * n, 54), [m, n])];
          const r = tf.tensor2d(rand(m * n, 55), [m, n]);
          const op = (a: Tensor, c: Tensor, e: Tensor, f: Tensor) =>
            inStore ? matMulBias(tf, a, c, e, f) : tf.add(f, tf.fused.matMul({ a: a as never, b: c as never, bias: e }));
          const grads = tf.grads((a: Tensor, c: Tensor, e: Tensor, f: Tensor) => tf.sum(tf.mul(op(a, c, e, f), r)))([x, w, b, res]);
          return [op(x, w, b, res), ...grads].map((t) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer)));
        });
      const [got, want] = [bits(true), bits(false)];
      expect(got.map((g) => g.length)).toEqual([m * n, m * k, k * n, n, m * n]);
      expect(got).toEqual(want);
    },
  );

  it('computes the input\'s gradient only when the input depends on a trained variable (data does not)', async () => {
    await tf.setBackend('wasm');
    /** BatchMatMul kernels run by the gradient of Σ matMulBias(x, w, b)·r over the trained tensors. */
    const productsInGradient = async (trainX: boolean) => {
      const xv = tf.tensor2d(rand(37 * 13, 31), [37, 13]);
      const x = trainX ? tf.variable(xv) : xv;
      const [w, b] = [tf.variable(tf.tensor2d(rand(13 * 9, 32), [13, 9])), tf.variable(tf.tensor1d(rand(9, 33)))];
      const r = tf.tensor2d(rand(37 * 9, 34), [37, 9]);
      const info = await tf.profile(() => {
        const { grads } = tf.variableGrads(() => tf.sum(tf.mul(matMulBias(tf, x, w, b), r)) as never);
        expect(Object.keys(grads).length).toBe(trainX ? 3 : 2);
        Object.values(grads).forEach((g) => g.dispose());
      });
      [xv, x, w, b, r].forEach((t) => t.dispose());
      return info.kernels.filter((k) => k.name === 'BatchMatMul').length;
    };
    expect(await productsInGradient(false)).toBe(1); // dw
    expect(await productsInGradient(true)).toBe(2); // dx and dw
  });
});

describe('concatColumns (the Q/K/V weights side by side)', () => {
  const bitsOf = (t: Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));

  // odd widths and row counts, 1-D biases, one input
  it.each([[[[5, 3], [5, 7], [5, 1]]], [[[1, 4], [1, 4]]], [[[17, 6], [17, 6], [17, 6]]], [[[3], [5], [2]]], [[[4, 9]]], [[[9], [9], [9]]]])(
    '%j: value and each input\'s gradient equal tf.concat\'s on cpu exactly',
    async (shapes) => {
      expect(await wasmVsCpu(shapes, (t, ...xs) => concatColumns(t, xs))).toBe(0);
    },
  );

  it('on wasm: the bits of tf.concat and its gradient, through SpecflowConcatColumns with no Concat or SplitV', async () => {
    await tf.setBackend('wasm');
    const shapes = [[7, 5], [7, 5], [7, 5]];
    const bits = (own: boolean) =>
      tf.tidy(() => {
        const xs = shapes.map((s, i) => tf.tensor2d(rand(s[0]! * s[1]!, 61 + i), s as [number, number]));
        const r = tf.tensor2d(rand(7 * 15, 64), [7, 15]);
        const op = (...p: Tensor[]) => (own ? concatColumns(tf, p) : tf.concat(p, 1));
        const grads = tf.grads((...p: Tensor[]) => tf.sum(tf.mul(op(...p), r)))(xs);
        return [op(...xs), ...grads].map(bitsOf);
      });
    expect(bits(true)).toEqual(bits(false));
    const x = shapes.map((s, i) => tf.variable(tf.tensor2d(rand(s[0]! * s[1]!, 71 + i), s as [number, number])));
    const info = await tf.profile(() => {
      const { grads } = tf.variableGrads(() => tf.sum(concatColumns(tf, x)) as never);
      Object.values(grads).forEach((g) => g.dispose());
    });
    const names = info.kernels.map((k) => k.name);
    expect(names.filter((n) => n === 'SpecflowConcatColumns').length).toBe(1);
    expect(names.filter((n) => n === 'SpecflowColumnSlice').length).toBe(3);
    expect(names.filter((n) => n === 'Concat' || n === 'SplitV' || n === 'Slice')).toEqual([]);
    x.forEach((v) => v.dispose());
  });

  it('hands out only the gradients asked for: a constant input gets no column slice', async () => {
    await tf.setBackend('wasm');
    const [a, c] = [tf.variable(tf.tensor2d([[1, 2], [3, 4]])), tf.tensor2d([[5], [6]])];
    let dA: number[] = [];
    const info = await tf.profile(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(concatColumns(tf, [c, a]), tf.tensor2d([[1, 2, 3], [4, 5, 6]]))) as never);
      expect(Object.keys(grads)).toEqual([a.name]);
      dA = Array.from(grads[a.name]!.dataSync());
      Object.values(grads).forEach((g) => g.dispose());
    });
    expect(dA).toEqual([2, 3, 5, 6]); // a sits in columns 1..2
    expect(info.kernels.filter((k) => k.name === 'SpecflowColumnSlice').length).toBe(1);
    [a, c].forEach((t) => t.dispose());
  });

  it('refuses inputs of different row counts or ranks, naming the kernel', async () => {
    await tf.setBackend('wasm');
    expect(() => tf.tidy(() => concatColumns(tf, [tf.zeros([2, 3]), tf.zeros([3, 3])]))).toThrow(/SpecflowConcatColumns: .* differ in rank or rows/);
    expect(() => tf.tidy(() => concatColumns(tf, [tf.zeros([2, 3]), tf.zeros([3])]))).toThrow(/SpecflowConcatColumns/);
  });
});

describe('multi-head attention on the fused Q/K/V product', () => {
  // [samples, tokens, heads, head width]: the default shape; tokens no multiple of 4; head widths that
  // are multiples of 8 (the operands packed once per sample for every head) and not (packed head by head)
  it.each([[2, 5, 3, 3], [1, 9, 2, 8], [3, 32, 4, 16], [2, 1, 2, 5], [1, 13, 1, 7], [2, 11, 8, 24], [3, 6, 5, 8], [2, 30, 1, 24], [2, 7, 7, 12]])(
    'b %i, seq %i, heads %i, dh %i: forward and gradient match cpu',
    async (b, seq, heads, dh) => {
      const diff = await wasmVsCpu([[b * seq, 3 * heads * dh]], (t, qkv) => multiHeadAttention(t, qkv!, seq, heads));
      expect(diff).toBeLessThan(TOL);
    },
  );

  it('scores up to 228 apart (probabilities far below the exponential\'s clamp at e^-86.6): forward and gradient match cpu', async () => {
    const diff = await wasmVsCpu([[2 * 11, 3 * 2 * 8]], (t, qkv) => multiHeadAttention(t, t.mul(qkv!, 6), 11, 2));
    expect(diff).toBeLessThan(TOL);
  });

  it('every score far below 0 (−160 ± a few), seq 7: the column maxima are the scores\', not the padding rows\' zeros', async () => {
    // Q = −20 + 0.3·x, K = 4 + 0.3·x per entry, dh 4 (scale 1/2): scores ≈ −160 a few apart; a maximum of 0
    // would clamp every exponential to 2^−125 and make the probabilities uniform
    const [seq, heads, dh] = [7, 2, 4];
    const d = heads * dh;
    const shift = Array.from({ length: 3 * d }, (_, c) => (c < d ? -20 : c < 2 * d ? 4 : 0));
    const diff = await wasmVsCpu([[2 * seq, 3 * d]], (t, qkv) => multiHeadAttention(t, t.add(t.mul(qkv!, 0.3), t.tensor1d(shift)), seq, heads));
    expect(diff).toBeLessThan(TOL);
  });

  it('keeps P transposed with rows padded to 4, the padding exactly 0 whatever the memory held before', async () => {
    await tf.setBackend('wasm');
    const [seq, heads, dh, b] = [5, 2, 3, 3];
    // freed NaNs, likely to be handed out again for the kernel's outputs
    tf.fill([4096], NaN).dispose();
    const { probs, out, ref } = tf.tidy(() => {
      const qkv = tf.tensor2d(rand(b * seq * 3 * heads * dh, 11), [b * seq, 3 * heads * dh]);
      const [o, p] = tf.engine().runKernel('SpecflowAttention', { qkv }, { seq, heads, scale: 1 / Math.sqrt(dh) } as never) as Tensor[];
      return { probs: p!.arraySync() as number[][][], out: o!.dataSync(), ref: multiHeadAttention(tf, qkv, seq, heads).dataSync() };
    });
    expect(probs.length).toBe(b * heads);
    for (const block of probs) {
      expect(block.length).toBe(seq);
      for (const row of block) {
        expect(row.length).toBe(8);
        expect(row.slice(seq)).toEqual([0, 0, 0]);
      }
      // column i of Pᵀ is row i of P: sums to 1
      for (let i = 0; i < seq; i++) expect(block.reduce((a, row) => a + row[i]!, 0)).toBeCloseTo(1, 6);
    }
    expect(Array.from(out)).toEqual(Array.from(ref));
  });

  it('the same bits call after call, forward and gradient (default shapes, batch 3)', async () => {
    await tf.setBackend('wasm');
    const [b, seq, heads, dh] = [3, 32, 4, 16];
    const qkv = tf.tensor2d(rand(b * seq * 3 * heads * dh, 12), [b * seq, 3 * heads * dh]);
    const dout = tf.tensor2d(rand(b * seq * heads * dh, 13), [b * seq, heads * dh]);
    const run = () => tf.tidy(() => {
      const out = multiHeadAttention(tf, qkv, seq, heads);
      const grad = tf.grad((x: Tensor) => tf.sum(tf.mul(multiHeadAttention(tf, x, seq, heads), dout)))(qkv);
      return [...out.dataSync(), ...grad.dataSync()];
    });
    const first = run();
    // other tensors allocated in between, so the second run's outputs and scratch sit elsewhere
    const filler = tf.fill([5000], 3);
    const second = run();
    filler.dispose();
    [qkv, dout].forEach((t) => t.dispose());
    expect(first.length).toBe(b * seq * heads * dh * 4);
    expect(first.every((v, i) => Object.is(v, second[i]))).toBe(true);
  });

  it('a hand-worked case: two tokens, one head of width 1', async () => {
    await tf.setBackend('wasm');
    // rows (q, k, v): token 0 (1, 0, 1), token 1 (0, ln 3, 5). Scores row 0: (0, ln 3) → P = (1/4, 3/4),
    // out0 = 1/4 + 15/4 = 4; row 1: (0, 0) → (1/2, 1/2), out1 = 3. With dout = (1, 0):
    // dV = Pᵀ·dO = (1/4, 3/4); dS row 0 = P ⊙ (dO·Vᵀ − 4) = (−3/4, 3/4), row 1 = 0;
    // dQ = dS·K = (3/4·ln 3, 0); dK = dSᵀ·Q = (−3/4, 3/4).
    const { out, grad } = tf.tidy(() => {
      const qkv = tf.tensor2d([[1, 0, 1], [0, Math.log(3), 5]]);
      const dout = tf.tensor2d([[1], [0]]);
      return {
        out: multiHeadAttention(tf, qkv, 2, 1).dataSync(),
        grad: tf.grad((x: Tensor) => tf.sum(tf.mul(multiHeadAttention(tf, x, 2, 1), dout)))(qkv).dataSync(),
      };
    });
    [4, 3].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 5));
    [0.75 * Math.log(3), -0.75, 0.25, 0, 0.75, 0.75].forEach((v, i) => expect(grad[i]).toBeCloseTo(v, 5));
  });
});

describe('a Transformer autoencoder on the fused ops', () => {
  it('on two threads: bitwise the same weights run after run, close to one thread (odd token count: 17)', async () => {
    await tf.setBackend('wasm');
    const n = 96, d = 100;
    const x = rand(n * d, 21);
    const weights = async (threads: number) => {
      const r = await trainAutoencoder({ n, d, x }, {
        arch: 'transformer', latentDim: 3, epochs: 2, batchSize: 48, validation: 0, seed: 5, threads,
        transformer: { patch: 6, d_model: 12, heads: 3, layers: 2, mlp: 20 },
      });
      const all = [...r.model.store.snapshot().values()].flatMap((v) => Array.from(v));
      r.model.dispose();
      return all;
    };
    const [a, b, one] = [await weights(2), await weights(2), await weights(1)];
    expect(a.every((v, i) => Object.is(v, b[i]))).toBe(true);
    expect(a.some((v, i) => v !== one[i])).toBe(true); // the shards' sums round differently
    expect(Math.max(...a.map((v, i) => Math.abs(v - one[i]!)))).toBeLessThan(1e-3);
  });

  it('trains on wasm: the loss falls', async () => {
    await tf.setBackend('wasm');
    expect(fusedTransformerOps(tf)).toBe(true);
    // 64 spectra × 48 channels: one Gaussian band at a random place, so the code has something to learn
    const rng = new Rng(4);
    const n = 64, d = 48;
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const c = 10 + 28 * rng.uniform();
      for (let j = 0; j < d; j++) x[i * d + j] = 2 + 10 * Math.exp(-(((j - c) / 3) ** 2)) + rng.normal(0, 0.1);
    }
    const r = await trainAutoencoder({ n, d, x }, {
      arch: 'transformer', latentDim: 2, epochs: 12, batchSize: 16, validation: 0, seed: 3, learningRate: 3e-3,
      transformer: { patch: 6, d_model: 12, heads: 3, layers: 1, mlp: 20 },
    });
    r.model.dispose();
    expect(r.backend).toMatch(/^wasm/);
    const losses = r.history.map((h) => h.loss);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
  });
});
