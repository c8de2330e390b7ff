/**
 * specflow's wasm kernels against tfjs's cpu backend (the reference), in one
 * process: each case builds its inputs from the same Float32Arrays on both
 * backends and compares the outputs element by element.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { backendName, initBackend, initStockWasm, type TF } from '../../src/ml/backend.js';
import { FIXED_KERNELS, wasmFixesInstalled } from '../../src/ml/kernels/index.js';
import { takeColumnSums } from '../../src/ml/kernels/column-sums.js';
import { erfExact } from './exact-erf.js';
import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs';

let tf: TF;

/** Deterministic inputs (mulberry32), so a failure reproduces. */
function rand(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

interface Spec {
  shape: number[];
  dtype?: 'float32' | 'int32';
  data?: Float32Array | Int32Array;
}

type Fn = (t: TF, ...xs: Tensor[]) => Tensor | Tensor[];

/** Runs `fn` on `backend` with inputs made from `specs`; returns the outputs' values and shapes. */
async function runOn(backend: 'cpu' | 'wasm', specs: Spec[], fn: Fn, seed: number) {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = specs.map((s, i) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (s.dtype === 'int32') return tf.tensor(s.data ?? new Int32Array(n), s.shape, 'int32');
      return tf.tensor(s.data ?? rand(n, seed * 7919 + i), s.shape, 'float32');
    });
    const out = fn(tf, ...xs);
    const outs = Array.isArray(out) ? out : [out];
    return outs.map((t) => ({ shape: t.shape.slice(), values: Float32Array.from(t.dataSync() as ArrayLike<number>) }));
  });
}

/** Max |wasm − cpu| over all outputs, relative to the largest |cpu| value (the output scale). */
async function compare(specs: Spec[], fn: Fn, seed = 1): Promise<number> {
  const ref = await runOn('cpu', specs, fn, seed);
  const got = await runOn('wasm', specs, fn, seed);
  expect(got.length).toBe(ref.length);
  let worst = 0;
  for (let o = 0; o < ref.length; o++) {
    expect(got[o]!.shape).toEqual(ref[o]!.shape);
    const r = ref[o]!.values;
    const g = got[o]!.values;
    let scale = 1e-6;
    for (const v of r) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < r.length; i++) {
      expect(Number.isFinite(g[i]!)).toBe(true);
      worst = Math.max(worst, Math.abs(g[i]! - r[i]!) / scale);
    }
  }
  return worst;
}

const TOL = 1e-4;

beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

describe('backend selection', () => {
  it('initBackend("wasm") installs the fixes and is idempotent', async () => {
    const again = await initBackend('wasm');
    expect(again.name).toBe('wasm');
    expect(backendName()).toBe('wasm');
    expect(wasmFixesInstalled()).toBe(true);
    for (const k of FIXED_KERNELS) expect(tf.getKernel(k, 'wasm')).toBeDefined();
  });

  it('a forced node backend without @tensorflow/tfjs-node is a clear error', async () => {
    let installed = true;
    try {
      const spec = '@tensorflow/tfjs-node';
      await import(spec);
    } catch {
      installed = false;
    }
    if (installed) return; // nothing to assert where the native backend exists
    await expect(initBackend('node')).rejects.toThrow(/^SPECFLOW_BACKEND=node: /);
    // A failed forced init leaves the working backend in place.
    const { name } = await initBackend('wasm');
    expect(name).toBe('wasm');
  });
});

describe('BatchMatMul', () => {
  const cases: [string, number[], number[], boolean, boolean][] = [
    ['2-D plain', [17, 33], [33, 9], false, false],
    ['2-D transposeA', [33, 17], [33, 9], true, false],
    ['2-D transposeB', [17, 33], [9, 33], false, true],
    ['2-D both', [33, 17], [9, 33], true, true],
    ['dense backward dW', [64, 256], [64, 128], true, false],
    ['dense backward dx', [64, 128], [256, 128], false, true],
    ['batched plain', [3, 5, 7], [3, 7, 4], false, false],
    ['batched transposeB (attention scores)', [6, 12, 8], [6, 12, 8], false, true],
    ['batched transposeA', [4, 7, 5], [4, 7, 6], true, false],
    ['batched both', [2, 7, 5], [2, 6, 7], true, true],
    ['rank-4 heads', [2, 3, 10, 4], [2, 3, 4, 10], false, false],
    ['shared right operand', [4, 6, 8], [8, 5], false, false],
    ['shared right operand, batch-1 rank 3', [4, 6, 8], [1, 5, 8], false, true],
    ['shared left operand', [6, 8], [3, 8, 5], false, false],
    ['vector-like', [1, 40], [40, 1], false, false],
    ['empty inner dimension', [3, 0], [0, 4], false, false],
    ['empty inner dimension, transposed', [0, 3], [4, 0], true, true],
    // the SIMD GEMM's edges: depth in blocks of 256 with a partial last block,
    // rows not a multiple of 4, columns not a multiple of 8
    ['deep, ragged tiles', [70, 600], [600, 21], false, false],
    ['deep, ragged tiles, transposeA', [600, 70], [600, 21], true, false],
    ['deep, ragged tiles, transposeB', [70, 600], [21, 600], false, true],
    ['deep, ragged tiles, both', [600, 70], [21, 600], true, true],
    ['batched, deep, shared right operand', [3, 9, 300], [300, 13], false, false],
    ['batched, deep, shared transposed left operand', [300, 9], [3, 300, 13], true, false],
    ['batch dims broadcast from 1', [2, 1, 5, 7], [2, 3, 7, 4], false, false],
  ];
  for (const [name, sa, sb, ta, tb] of cases) {
    it(name, async () => {
      const d = await compare([{ shape: sa }, { shape: sb }], (t, a, b) => t.matMul(a!, b!, ta, tb));
      expect(d).toBeLessThanOrEqual(TOL);
    });
  }
});

describe('fused matMul (bias + activation)', () => {
  for (const activation of ['linear', 'relu', 'elu', 'leakyrelu', 'sigmoid', 'relu6'] as const) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`${activation} tA=${ta} tB=${tb}, forward and gradients`, async () => {
        const sa = ta ? [24, 16] : [16, 24];
        const sb = tb ? [12, 24] : [24, 12];
        const d = await compare([{ shape: sa }, { shape: sb }, { shape: [12] }], (t, a, b, bias) =>
          t.tidy(() => {
            const f = (x: Tensor, y: Tensor, z: Tensor) =>
              t.fused.matMul({
                a: x as Tensor2D,
                b: y as Tensor2D,
                bias: z,
                transposeA: ta,
                transposeB: tb,
                activation,
                leakyreluAlpha: 0.15,
              });
            const y = f(a!, b!, bias!);
            const w = t.tensor(rand(y.size, 99), y.shape);
            const grads = t.grads((x: Tensor, yy: Tensor, z: Tensor) => f(x, yy, z).mul(w).sum())([a!, b!, bias!]);
            return [y, ...grads];
          }),
        );
        expect(d).toBeLessThanOrEqual(TOL);
      });
    }
  }
  it('empty inner dimension gives bias + activation', async () => {
    const d = await compare([{ shape: [3, 0] }, { shape: [0, 4] }, { shape: [4] }], (t, a, b, bias) =>
      t.fused.matMul({ a: a as Tensor2D, b: b as Tensor2D, bias, activation: 'relu' }),
    );
    expect(d).toBeLessThanOrEqual(TOL);
  });
});

describe('bias gradient summed by the weight gradient\'s product (column-sums.ts)', () => {
  it('a fused dense layer\'s gradients over two depth blocks, odd widths, against cpu', async () => {
    // dW = xᵀ·dy over 300 rows (two depth blocks); 27 outputs: 16-, 4- and single-column sums
    const d = await compare([{ shape: [300, 37] }, { shape: [37, 27] }, { shape: [27] }], (t, x, w, bias) =>
      t.tidy(() => {
        const f = (a: Tensor, b: Tensor, z: Tensor) => t.fused.matMul({ a: a as Tensor2D, b: b as Tensor2D, bias: z, activation: 'relu' });
        const y = f(x!, w!, bias!);
        const g = t.tensor(rand(y.size, 5), y.shape);
        return [y, ...t.grads((a: Tensor, b: Tensor, z: Tensor) => f(a, b, z).mul(g).sum())([x!, w!, bias!])];
      }),
    );
    expect(d).toBeLessThanOrEqual(TOL);
  });

  it('the sums kept by xᵀ·dy are the Sum kernel\'s bits, and are handed out once', async () => {
    await tf.setBackend('wasm');
    const dyValues = rand(600 * 27, 17);
    for (let r = 0; r < 600; r++) dyValues[r * 27 + 26] = -0;
    const x = tf.tensor2d(rand(600 * 37, 18), [600, 37]);
    const dy = tf.tensor3d(dyValues, [1, 600, 27]);
    const bits = (t: Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));
    const before = tf.sum(dy, [0, 1]); // no product yet: reduceMiddle
    const dw = tf.matMul(x, dy.reshape([600, 27]), true, false); // a reshape shares dy's data id
    const kept = takeColumnSums(dy, 600, 27);
    expect(kept).toBeDefined();
    expect(Array.from(new Uint32Array(kept!.buffer))).toEqual(bits(before));
    expect(takeColumnSums(dy, 600, 27)).toBeUndefined();
    tf.matMul(x.reshape([1, 600, 37]), dy, true, false).dispose();
    expect(takeColumnSums(dy, 600, 26)).toBeUndefined(); // asked as another shape: not these sums
    const after = tf.sum(dy.reshape([600, 27]), 0); // from the kept sums
    expect(bits(after)).toEqual(bits(before));
    expect(Object.is(after.dataSync()[26], 0)).toBe(true);
    expect(takeColumnSums(dy, 600, 27)).toBeUndefined(); // the Sum took them
    // an untransposed product keeps nothing
    const w = tf.tensor2d(rand(27 * 5, 19), [27, 5]);
    tf.matMul(dy.reshape([600, 27]), w).dispose();
    expect(takeColumnSums(w, 27, 5)).toBeUndefined();
    tf.dispose([x, dy, before, dw, after, w]);
  });
});

describe('Sum and Mean over adjacent axes', () => {
  const cases: [string, number[], number | number[], boolean][] = [
    ['rows of a matrix', [37, 13], 0, false],
    ['rows, keepDims', [37, 13], [0], true],
    ['negative axis', [9, 6], -2, false],
    ['two leading axes of a 3-D tensor (batch-norm moments)', [3, 5, 9], [1, 0], false],
    ['two leading axes, keepDims', [3, 5, 9], [0, 1], true],
    ['a middle axis (average pooling by 2)', [4, 7, 2, 6], 2, false],
    ['two middle axes, keepDims', [2, 3, 4, 5, 3], [1, 2], true],
    ['a wide middle axis (16-column strips, then 4, then single columns)', [3, 5, 39], 1, false],
    ['inner axis, short rows', [5, 9], 1, false],
    ['inner axis, rows of 16k + 7 (vector body and a scalar tail)', [6, 103], 1, true],
    ['all axes (a loss mean)', [37, 29], [0, 1], false],
    ['two inner axes of a 3-D tensor (layer norm)', [4, 6, 21], [1, 2], true],
    ['scattered axes (tfjs kernel)', [3, 4, 5], [0, 2], false],
  ];
  for (const [name, shape, axis, keepDims] of cases) {
    it(name, async () => {
      const d = await compare([{ shape }], (t, x) => [t.sum(x!, axis, keepDims), t.mean(x!, axis, keepDims)]);
      expect(d).toBeLessThanOrEqual(TOL);
    });
  }
  it('a column sum over several blocks of rows adds row 0, 1, 2, … in float32: exactly those bits', async () => {
    // 101 rows (blocks of 32 and a partial one) × 39 columns (16-column strips, a 4-column group, single columns)
    const [rows, cols] = [101, 39];
    const x = rand(rows * cols, 4242, 1e3);
    const want = new Float32Array(cols);
    for (let j = 0; j < rows; j++) for (let i = 0; i < cols; i++) want[i] = Math.fround(want[i]! + x[j * cols + i]!);
    await tf.setBackend('wasm');
    const got = tf.tidy(() => tf.sum(tf.tensor2d(x, [rows, cols]), 0).dataSync());
    expect(Array.from(got)).toEqual(Array.from(want));
  });
});

describe('Add, Sub, Multiply, RealDiv, SquaredDifference, Relu and Cast as vector loops', () => {
  const OPS = [
    ['Add', (t: TF, a: Tensor, b: Tensor) => t.add(a, b)],
    ['Sub', (t: TF, a: Tensor, b: Tensor) => t.sub(a, b)],
    ['Multiply', (t: TF, a: Tensor, b: Tensor) => t.mul(a, b)],
    ['RealDiv', (t: TF, a: Tensor, b: Tensor) => t.div(a, b)],
    ['SquaredDifference', (t: TF, a: Tensor, b: Tensor) => t.squaredDifference(a, b)],
  ] as const;
  // Special values among the random ones: signed zeros, infinities, NaN, subnormals, ties.
  const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1e-40, -3e-39, 1, -1, 0.5, 3.4e38];
  function data(n: number, seed: number): Float32Array {
    const d = rand(n, seed, 3);
    for (let i = 0; i < n; i += 3) d[i] = SPECIAL[(i / 3 + seed) % SPECIAL.length]!;
    return d;
  }
  /** Bits of `fn`'s output with specflow's kernels and with tfjs-wasm's own kernel `name` on the same inputs. */
  async function bothKernels(name: string, inputs: { shape: number[]; data: Float32Array }[], fn: (t: TF, ...xs: Tensor[]) => Tensor) {
    await tf.setBackend('wasm');
    const { run } = await import('../../src/ml/kernels/common.js');
    const backend = tf.engine().backend as never;
    const xs = inputs.map((i) => tf.tensor(i.data, i.shape, 'float32'));
    const ours = fn(tf, ...xs);
    const names = name === 'Relu' ? ['x'] : ['a', 'b'];
    const info = run(name, backend, Object.fromEntries(xs.map((x, i) => [names[i], { dataId: x.dataId, shape: x.shape, dtype: x.dtype }])));
    const theirs = tf.engine().makeTensorFromTensorInfo(info);
    const result = {
      shapes: [ours.shape, theirs.shape],
      ours: new Uint32Array(Float32Array.from(ours.dataSync() as Float32Array).buffer),
      theirs: new Uint32Array(Float32Array.from(theirs.dataSync() as Float32Array).buffer),
    };
    tf.dispose([...xs, ours, theirs]);
    return result;
  }
  const cases: [string, number[], number[]][] = [
    ['equal shapes, odd size', [7, 19], [7, 19]],
    ['a bias row', [37, 13], [13]],
    ['a row with leading 1s', [5, 3, 11], [1, 1, 11]],
    ['a trailing block', [4, 3, 5], [3, 5]],
    ['a scalar on the right', [6, 7], []],
    ['a scalar on the left', [], [6, 7]],
    ['a [1, 1] scalar', [1, 1], [30, 17]],
    ['a row on the left', [9], [4, 9]],
    ['a column (tfjs kernel)', [6, 1], [6, 5]],
    ['an outer broadcast (tfjs kernel)', [6, 1], [1, 5]],
  ];
  for (const [label, sa, sb] of cases) {
    it(`${label}: the same bits as tfjs-wasm's kernels, and cpu's values`, async () => {
      const n = (s: number[]) => s.reduce((p, q) => p * q, 1);
      const inputs = [{ shape: sa, data: data(n(sa), 1) }, { shape: sb, data: data(n(sb), 2) }];
      for (const [name, op] of OPS) {
        const r = await bothKernels(name, inputs, op);
        expect(r.shapes[0], name).toEqual(r.shapes[1]);
        expect(Array.from(r.ours), name).toEqual(Array.from(r.theirs));
      }
      // finite values against the cpu backend (an independent implementation)
      const finite = inputs.map((i) => ({ shape: i.shape, data: rand(n(i.shape), 5 + i.data.length, 2).map((v) => (Math.abs(v) < 0.05 ? 0.5 : v)) }));
      const d = await compare(finite, (t, a, b) => OPS.map(([, op]) => op(t, a!, b!)));
      expect(d).toBeLessThanOrEqual(1e-6);
    });
  }
  it('Relu: the same bits as tfjs-wasm (NaN, -0), forward and gradient against cpu', async () => {
    const x = data(1003, 3);
    const r = await bothKernels('Relu', [{ shape: [17, 59], data: x }], (t, a) => t.relu(a));
    expect(Array.from(r.ours)).toEqual(Array.from(r.theirs));
    const d = await compare([{ shape: [9, 31] }, { shape: [9, 31] }], (t, a, w) => [t.relu(a!), t.grad((v: Tensor) => t.relu(v).mul(w!).sum())(a!)]);
    expect(d).toBe(0);
  });
  it('Cast to the same dtype shares the data; to another dtype converts', async () => {
    await tf.setBackend('wasm');
    const backend = tf.engine().backend;
    const ids = backend.numDataIds();
    const a = tf.tensor1d([1.5, -2, 3]);
    const b = a.cast('float32');
    expect(backend.numDataIds()).toBe(ids + 1);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1.5, -2, 3]);
    const c = b.cast('int32');
    expect(c.dtype).toBe('int32');
    expect(Array.from(c.dataSync())).toEqual([1, -2, 3]);
    tf.dispose([b, c]);
    expect(backend.numDataIds()).toBe(ids);
  });
});

describe('Exp and Erf as vector loops', () => {
  async function onWasm(xs: Float32Array, op: (t: TF, x: Tensor) => Tensor): Promise<Float32Array> {
    await tf.setBackend('wasm');
    return tf.tidy(() => Float32Array.from(op(tf, tf.tensor1d(xs)).dataSync() as Float32Array));
  }
  const grid = (lo: number, hi: number, n: number) => Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
  it('exp is within 1 ulp of the exact value, subnormal results included; n not a multiple of 4', async () => {
    const xs = grid(-103.5, 88.5, 100_003);
    const got = await onWasm(xs, (t, x) => t.exp(x));
    let worst = 0;
    for (let i = 0; i < xs.length; i++) {
      const exact = Math.exp(xs[i]!);
      // one ulp at the exact value's magnitude (the subnormal spacing below 2^-126)
      const ulp = 2 ** (Math.max(Math.floor(Math.log2(exact)), -126) - 23);
      worst = Math.max(worst, Math.abs(got[i]! - exact) / ulp);
    }
    expect(worst).toBeLessThanOrEqual(1);
  });
  it('exp of NaN, ±∞, overflow and underflow', async () => {
    const got = await onWasm(Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 89, 1000, -1000, -104.5]), (t, x) => t.exp(x));
    expect(Array.from(got)).toEqual([NaN, Infinity, 0, 1, 1, Infinity, Infinity, 0, 0]);
  });
  it('erf: within 2e-7 of the true erf, relatively accurate near 0, odd, saturating', async () => {
    const xs = grid(-6, 6, 60_001);
    const got = await onWasm(xs, (t, x) => t.erf(x));
    let worst = 0;
    let worstRelSmall = 0;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      const exact = erfExact(x);
      worst = Math.max(worst, Math.abs(got[i]! - exact));
      if (Math.abs(x) < 1 && x !== 0) worstRelSmall = Math.max(worstRelSmall, Math.abs(got[i]! - exact) / Math.abs(exact));
    }
    expect(worst).toBeLessThan(2e-7);
    expect(worstRelSmall).toBeLessThan(1e-6);
    const tiny = await onWasm(Float32Array.from([1e-6, -3e-20]), (t, x) => t.erf(x));
    expect(tiny[0]! / (1e-6 * 2 / Math.sqrt(Math.PI))).toBeCloseTo(1, 6);
    expect(tiny[1]! / (-3e-20 * 2 / Math.sqrt(Math.PI))).toBeCloseTo(1, 6);
    for (let i = 0; i < xs.length; i++) expect(got[xs.length - 1 - i] === -got[i]!).toBe(true); // (±0 alike)
    const far = await onWasm(Float32Array.from([4, -4, 10, Infinity, -Infinity, NaN, 0.5]), (t, x) => t.erf(x));
    expect(Array.from(far.subarray(0, 6))).toEqual([1, -1, 1, 1, -1, NaN]);
    expect(far[6]).toBeCloseTo(0.5204998778, 6);
  });
  it('GELU forward and gradient (exp and erf together) against cpu', async () => {
    const gelu = (t: TF, x: Tensor) => t.mul(t.mul(x, 0.5), t.add(1, t.erf(t.mul(x, Math.SQRT1_2))));
    const d = await compare([{ shape: [37, 21] }, { shape: [37, 21] }], (t, x, w) => [gelu(t, x!), t.grad((v: Tensor) => gelu(t, v).mul(w!).sum())(x!)]);
    expect(d).toBeLessThanOrEqual(1e-6);
  });
});

describe('LeakyRelu and its gradient (Greater, Select)', () => {
  it('forward and gradient of a 3-D activation, odd size', async () => {
    const d = await compare([{ shape: [3, 37, 5] }, { shape: [3, 37, 5] }], (t, x, w) => {
      const f = (a: Tensor) => t.leakyRelu(a, 0.15).mul(w!).sum();
      return [t.leakyRelu(x!, 0.15), t.grad(f)(x!)];
    });
    expect(d).toBeLessThanOrEqual(TOL);
  });
  it('greater against a scalar and elementwise, select by the mask', async () => {
    const d = await compare([{ shape: [7, 19] }, { shape: [7, 19] }], (t, a, b) => {
      const m1 = t.greater(a!, t.scalar(0.1));
      const m2 = t.greater(a!, b!);
      return [m1.cast('float32'), m2.cast('float32'), t.where(m2, a!, b!), t.where(m1, b!, a!)];
    });
    expect(d).toBe(0);
  });
  it('ties, zeros and NaN compare as tfjs does (not greater)', async () => {
    const a = Float32Array.from([0, -0, 1, NaN, 2, -1, 3, 3, 0.5, NaN, 7, -7, 0, 1, 2, 3, 4]);
    const b = Float32Array.from([0, 0, 1, 1, NaN, -2, 3, 2, 0.5, NaN, 8, -8, -0, 0, 3, 3, 5]);
    const d = await compare([{ shape: [17], data: a }, { shape: [17], data: b }], (t, x, y) => t.greater(x!, y!).cast('float32'));
    expect(d).toBe(0);
  });
  it('broadcast operands: a row vector (tfjs kernel) and a per-row condition', async () => {
    const d = await compare([{ shape: [4, 6] }, { shape: [6] }], (t, a, b) => [
      t.greater(a!, b!).cast('float32'),
      t.where(t.greater(a!.sum(1, true), 0), a!, a!.neg()),
    ]);
    expect(d).toBe(0);
  });
});

describe('GatherV2 as block copies', () => {
  const idx = (values: number[]) => ({ shape: [values.length], dtype: 'int32' as const, data: Int32Array.from(values) });
  it('rows of a matrix (a shuffled mini-batch), repeated indices', async () => {
    const d = await compare([{ shape: [50, 40] }, idx([7, 0, 49, 7, 13])], (t, x, i) => t.gather(x!, i!));
    expect(d).toBe(0);
  });
  it('axis 1 of a 3-D tensor, 2-D indices', async () => {
    const d = await compare(
      [{ shape: [3, 10, 20] }, { shape: [2, 2], dtype: 'int32', data: Int32Array.from([9, 1, 0, 4]) }],
      (t, x, i) => t.gather(x!, i!, 1),
    );
    expect(d).toBe(0);
  });
  it('batchDims 1', async () => {
    const d = await compare(
      [{ shape: [2, 6, 16] }, { shape: [2, 3], dtype: 'int32', data: Int32Array.from([5, 0, 2, 1, 1, 4]) }],
      (t, x, i) => t.gather(x!, i!, 1, 1),
    );
    expect(d).toBe(0);
  });
  it('int32 rows, and narrow slices (tfjs kernel)', async () => {
    const d = await compare([{ shape: [6, 32] }, idx([3, 1])], (t, x, i) => [
      t.gather(x!.mul(100).cast('int32'), i!).cast('float32'),
      t.gather(x!, i!, 1),
    ]);
    expect(d).toBe(0);
  });
  it('an index out of range is an error, not a read past the tensor', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([4, 32]);
    const i = tf.tensor1d([1, 4], 'int32');
    expect(() => tf.gather(x, i)).toThrow(/index value 4 is not in \[0, 3\]/);
    x.dispose();
    i.dispose();
  });
});

describe('Conv-1D forward as one GEMM per sample (Conv2D of height 1)', () => {
  const cases: [string, number[], number[], number, 'same' | 'valid' | number[][], number][] = [
    ['stride 1, same, odd kernel', [3, 1, 40, 5], [1, 7, 5, 6], 1, 'same', 1],
    ['stride 1, same, even kernel', [2, 1, 33, 4], [1, 4, 4, 3], 1, 'same', 1],
    ['stride 1, valid', [2, 1, 30, 3], [1, 5, 3, 9], 1, 'valid', 1],
    ['stride 2, same', [4, 1, 31, 6], [1, 5, 6, 4], 2, 'same', 1],
    ['stride 3, valid', [2, 1, 29, 2], [1, 4, 2, 5], 3, 'valid', 1],
    ['explicit padding', [2, 1, 20, 3], [1, 3, 3, 2], 1, [[0, 0], [0, 0], [2, 1], [0, 0]], 1],
    ['long filter, many channels (a filter gradient as a convolution)', [5, 1, 80, 32], [1, 64, 32, 7], 1, 'valid', 1],
    ['dilation 2 (tfjs kernel)', [2, 1, 25, 3], [1, 3, 3, 4], 1, 'same', 2],
    ['2-D convolution (tfjs kernel)', [2, 6, 7, 3], [3, 3, 3, 4], 1, 'same', 1],
  ];
  for (const [name, xs, fs, stride, pad, dil] of cases) {
    it(name, async () => {
      const d = await compare([{ shape: xs }, { shape: fs }], (t, x, f) =>
        t.conv2d(x as Tensor4D, f as Tensor4D, stride, pad as 'same', 'NHWC', dil),
      );
      expect(d).toBeLessThanOrEqual(TOL);
    });
  }
});

describe('FusedConv2D as a Conv-1D GEMM with the bias in its store', () => {
  const cases: [string, number[], number[], number, 'same' | 'valid', string][] = [
    ['stride 1, same, odd kernel, bias', [3, 1, 41, 5], [1, 7, 5, 6], 1, 'same', 'linear'],
    ['one output channel (a decoder output layer)', [2, 1, 34, 16], [1, 15, 16, 1], 1, 'same', 'linear'],
    ['stride 2, valid, 9 channels', [2, 1, 30, 3], [1, 5, 3, 9], 2, 'valid', 'linear'],
    ['relu activation (tfjs kernel)', [2, 1, 21, 4], [1, 3, 4, 5], 1, 'same', 'relu'],
  ];
  for (const [name, xs, fs, stride, pad, activation] of cases) {
    it(name, async () => {
      const d = await compare([{ shape: xs }, { shape: fs }, { shape: [fs[3]!] }], (t, x, f, b) =>
        t.fused.conv2d({ x: x as Tensor4D, filter: f as Tensor4D, strides: stride, pad, bias: b, activation: activation as 'relu' }),
      );
      expect(d).toBeLessThanOrEqual(TOL);
    });
  }
  it('no bias', async () => {
    const d = await compare([{ shape: [2, 1, 20, 3] }, { shape: [1, 3, 3, 4] }], (t, x, f) =>
      t.fused.conv2d({ x: x as Tensor4D, filter: f as Tensor4D, strides: 1, pad: 'same' }),
    );
    expect(d).toBeLessThanOrEqual(TOL);
  });
});

describe('Conv2DBackpropFilter', () => {
  type Case = {
    name: string;
    x: number[];
    filter: [number, number, number, number];
    strides: [number, number];
    pad: 'same' | 'valid' | number;
    dilations?: [number, number];
    dataFormat?: 'NHWC' | 'NCHW';
  };
  const cases: Case[] = [
    { name: '1-D same', x: [3, 1, 40, 4], filter: [1, 7, 4, 5], strides: [1, 1], pad: 'same' },
    { name: '1-D valid', x: [3, 1, 40, 4], filter: [1, 7, 4, 5], strides: [1, 1], pad: 'valid' },
    { name: '1-D stride 2 same', x: [2, 1, 41, 3], filter: [1, 5, 3, 6], strides: [1, 2], pad: 'same' },
    { name: '1-D stride 3 valid', x: [2, 1, 50, 3], filter: [1, 4, 3, 2], strides: [1, 3], pad: 'valid' },
    { name: '1-D dilation 2 same', x: [2, 1, 33, 3], filter: [1, 3, 3, 4], strides: [1, 1], pad: 'same', dilations: [1, 2] },
    { name: '1-D dilation 3 valid', x: [2, 1, 33, 2], filter: [1, 5, 2, 4], strides: [1, 1], pad: 'valid', dilations: [1, 3] },
    { name: '1-D explicit pad', x: [2, 1, 20, 2], filter: [1, 3, 2, 3], strides: [1, 2], pad: 2 },
    { name: '1-D long rows (several 256-deep blocks summed over the batch), one output channel', x: [5, 1, 600, 3], filter: [1, 9, 3, 1], strides: [1, 1], pad: 'same' },
    { name: '1-D stride 2, fw·cin not a multiple of 4, many output channels', x: [3, 1, 301, 5], filter: [1, 7, 5, 19], strides: [1, 2], pad: 'same' },
    { name: '2-D same stride 2', x: [2, 9, 11, 3], filter: [3, 3, 3, 4], strides: [2, 2], pad: 'same' },
    { name: '2-D valid dilation', x: [2, 12, 10, 2], filter: [3, 2, 2, 3], strides: [1, 1], pad: 'valid', dilations: [2, 2] },
    { name: 'NCHW', x: [2, 3, 8, 9], filter: [3, 3, 3, 2], strides: [1, 2], pad: 'same', dataFormat: 'NCHW' },
  ];
  /** The definition, summed naively; the reference where cpu's kernel cannot be (it ignores dilations). */
  function naive(c: Case, x: Float32Array, dy: Float32Array, dyShape: number[]): Float32Array {
    const [n, h, w, cin] = c.x as [number, number, number, number];
    const [fh, fw, , cout] = c.filter;
    const [, oh, ow] = dyShape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(
      c.x as [number, number, number, number], c.filter, c.strides, c.dilations ?? 1, c.pad as 'same',
    );
    const out = new Float32Array(fh * fw * cin * cout);
    for (let a = 0; a < fh; a++)
      for (let b = 0; b < fw; b++)
        for (let ci = 0; ci < cin; ci++)
          for (let co = 0; co < cout; co++) {
            let acc = 0;
            for (let s = 0; s < n; s++)
              for (let oy = 0; oy < oh; oy++)
                for (let ox = 0; ox < ow; ox++) {
                  const iy = oy * info.strideHeight + a * info.dilationHeight - info.padInfo.top;
                  const ix = ox * info.strideWidth + b * info.dilationWidth - info.padInfo.left;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  acc += x[((s * h + iy) * w + ix) * cin + ci]! * dy[((s * oh + oy) * ow + ox) * cout + co]!;
                }
            out[((a * fw + b) * cin + ci) * cout + co] = acc;
          }
    return out;
  }

  for (const c of cases) {
    it(c.name, async () => {
      // dy's shape comes from the forward conv's output shape on cpu.
      await tf.setBackend('cpu');
      const dyShape = tf.tidy(() => {
        const xx = c.dataFormat === 'NCHW' ? tf.zeros(c.x).transpose([0, 2, 3, 1]) : tf.zeros(c.x);
        const y = tf.conv2d(xx as Tensor4D, tf.zeros(c.filter) as Tensor4D, c.strides, c.pad, 'NHWC', c.dilations ?? 1);
        return c.dataFormat === 'NCHW' ? [y.shape[0], y.shape[3], y.shape[1], y.shape[2]] : y.shape.slice();
      });
      const kernel: Fn = (t, x, dy) =>
        t.engine().runKernel('Conv2DBackpropFilter', { x: x!, dy: dy! }, {
          strides: c.strides,
          pad: c.pad,
          dataFormat: c.dataFormat ?? 'NHWC',
          dimRoundingMode: undefined,
          filterShape: c.filter,
          dilations: c.dilations ?? [1, 1],
        } as never) as Tensor;
      const specs: Spec[] = [{ shape: c.x }, { shape: dyShape }];
      const dilated = (c.dilations ?? [1, 1]).some((d) => d !== 1);
      if (!dilated) {
        expect(await compare(specs, kernel)).toBeLessThanOrEqual(TOL);
        return;
      }
      const n = (s: number[]) => s.reduce((p, q) => p * q, 1);
      const xv = rand(n(c.x), 7919 + 0);
      const dyv = rand(n(dyShape), 7919 + 1);
      const [got] = await runOn('wasm', specs, kernel, 1);
      const want = naive(c, xv, dyv, dyShape);
      let scale = 1e-6;
      for (const v of want) scale = Math.max(scale, Math.abs(v));
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got!.values[i]! - want[i]!) / scale);
      expect(got!.shape).toEqual(c.filter);
      expect(worst).toBeLessThanOrEqual(TOL);
    });
  }

  it('conv1d gradients through the public op (stride 2, same)', async () => {
    const d = await compare([{ shape: [4, 64, 3] }, { shape: [9, 3, 8] }], (t, x, w) =>
      t.grads((a: Tensor, b: Tensor) => t.conv1d(a as Tensor3D, b as Tensor3D, 2, 'same').square().sum())([x!, w!]),
    );
    expect(d).toBeLessThanOrEqual(TOL);
  });
});

describe('Conv2DBackpropInput', () => {
  type Case = {
    name: string;
    x: [number, number, number, number];
    filter: [number, number, number, number];
    strides: [number, number];
    pad: 'same' | 'valid' | number;
    dilations?: [number, number];
    dataFormat?: 'NHWC' | 'NCHW';
  };
  const cases: Case[] = [
    { name: '1-D same', x: [3, 1, 40, 4], filter: [1, 7, 4, 5], strides: [1, 1], pad: 'same' },
    { name: '1-D valid', x: [3, 1, 40, 4], filter: [1, 7, 4, 5], strides: [1, 1], pad: 'valid' },
    { name: '1-D stride 2 same, odd length', x: [2, 1, 41, 3], filter: [1, 5, 3, 6], strides: [1, 2], pad: 'same' },
    { name: '1-D stride 3 valid', x: [2, 1, 50, 3], filter: [1, 4, 3, 2], strides: [1, 3], pad: 'valid' },
    { name: '1-D explicit pad', x: [2, 1, 20, 2], filter: [1, 3, 2, 3], strides: [1, 2], pad: 2 },
    { name: '1-D long rows (several 256-deep blocks summed over the batch), one output channel', x: [5, 1, 600, 3], filter: [1, 9, 3, 1], strides: [1, 1], pad: 'same' },
    { name: '1-D stride 2, fw·cin not a multiple of 4, many output channels', x: [3, 1, 301, 5], filter: [1, 7, 5, 19], strides: [1, 2], pad: 'same' },
    { name: '1-D dilation 2 same', x: [2, 1, 33, 3], filter: [1, 3, 3, 4], strides: [1, 1], pad: 'same', dilations: [1, 2] },
    { name: '2-D same stride 2', x: [2, 9, 11, 3], filter: [3, 3, 3, 4], strides: [2, 2], pad: 'same' },
    { name: 'NCHW', x: [2, 3, 8, 9], filter: [3, 3, 3, 2], strides: [1, 2], pad: 'same', dataFormat: 'NCHW' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const nchw = c.dataFormat === 'NCHW';
      const xNhwc = nchw ? [c.x[0], c.x[2], c.x[3], c.x[1]] : c.x;
      const info = tf.backend_util.computeConv2DInfo(
        xNhwc as [number, number, number, number], c.filter, c.strides, c.dilations ?? 1, c.pad as 'same',
      );
      const dyNhwc = [c.x[0], info.outHeight, info.outWidth, c.filter[3]];
      const dyShape = nchw ? [dyNhwc[0]!, dyNhwc[3]!, dyNhwc[1]!, dyNhwc[2]!] : dyNhwc;
      const kernel: Fn = (t, dy, w) =>
        t.engine().runKernel('Conv2DBackpropInput', { dy: dy!, filter: w! }, {
          strides: c.strides,
          pad: c.pad,
          dataFormat: c.dataFormat ?? 'NHWC',
          dimRoundingMode: undefined,
          inputShape: c.x,
          dilations: c.dilations ?? [1, 1],
        } as never) as Tensor;
      const specs: Spec[] = [{ shape: dyShape }, { shape: c.filter }];
      if (!(c.dilations ?? [1, 1]).some((d) => d !== 1)) {
        expect(await compare(specs, kernel)).toBeLessThanOrEqual(TOL);
        return;
      }
      // cpu's kernel ignores dilations: the definition, summed naively, is the reference.
      const [n, h, w, cin] = c.x;
      const [fh, fw, , cout] = c.filter;
      const dyv = rand(dyNhwc.reduce((p, q) => p * q, 1), 7919);
      const wv = rand(c.filter.reduce((p, q) => p * q, 1), 7920);
      const want = new Float32Array(n * h * w * cin);
      for (let s = 0; s < n; s++)
        for (let oy = 0; oy < info.outHeight; oy++)
          for (let ox = 0; ox < info.outWidth; ox++)
            for (let a = 0; a < fh; a++)
              for (let b = 0; b < fw; b++) {
                const iy = oy * info.strideHeight + a * info.dilationHeight - info.padInfo.top;
                const ix = ox * info.strideWidth + b * info.dilationWidth - info.padInfo.left;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                for (let ci = 0; ci < cin; ci++)
                  for (let co = 0; co < cout; co++)
                    want[((s * h + iy) * w + ix) * cin + ci]! +=
                      dyv[((s * info.outHeight + oy) * info.outWidth + ox) * cout + co]! * wv[((a * fw + b) * cin + ci) * cout + co]!;
              }
      const [got] = await runOn('wasm', specs, kernel, 1);
      let scale = 1e-6;
      for (const v of want) scale = Math.max(scale, Math.abs(v));
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got!.values[i]! - want[i]!) / scale);
      expect(worst).toBeLessThanOrEqual(TOL);
    });
  }

  it('conv2dTranspose (1-D upsampling by 2) forward and gradients', async () => {
    const d = await compare([{ shape: [2, 1, 16, 4] }, { shape: [1, 4, 3, 4] }], (t, x, w) => {
      const f = (a: Tensor, b: Tensor) => t.conv2dTranspose(a as Tensor4D, b as Tensor4D, [2, 1, 32, 3], [1, 2], 'same');
      return [f(x!, w!), ...t.grads((a: Tensor, b: Tensor) => f(a, b).square().sum())([x!, w!])];
    });
    expect(d).toBeLessThanOrEqual(TOL);
  });
});

describe('UnsortedSegmentSum', () => {
  it('rows into segments, ids out of range dropped', async () => {
    const ids = Int32Array.from([0, 3, 3, 1, 5, 0, 2, 3, -1, 4]);
    const d = await compare([{ shape: [10, 6] }, { shape: [10], dtype: 'int32', data: ids }], (t, x, s) =>
      t.unsortedSegmentSum(x!, s as Tensor1D, 5),
    );
    expect(d).toBeLessThanOrEqual(TOL);
  });

  it('gather gradient (embedding lookup, 2-D indices, axis 0 and 1)', async () => {
    const idx = Int32Array.from([1, 4, 4, 0, 2, 1]);
    const d = await compare([{ shape: [5, 7] }, { shape: [2, 3], dtype: 'int32', data: idx }], (t, table, i) => [
      ...t.grads((p: Tensor) => t.gather(p, i!).square().sum())([table!]),
      ...t.grads((p: Tensor) => t.gather(p.transpose(), i!, 1).square().sum())([table!]),
    ]);
    expect(d).toBeLessThanOrEqual(TOL);
  });
});

describe('MaxPoolGrad', () => {
  const cases: [string, number[], [number, number], [number, number], 'same' | 'valid'][] = [
    ['MaxPooling1D layout (W×1), pool 2', [4, 64, 1, 8], [2, 1], [2, 1], 'valid'],
    ['1×W layout, pool 2', [4, 1, 64, 8], [1, 2], [1, 2], 'valid'],
    ['pool 3 stride 2 same', [3, 33, 1, 5], [3, 1], [2, 1], 'same'],
    ['2-D 2×2', [2, 8, 8, 3], [2, 2], [2, 2], 'valid'],
    ['2-D 3×3 stride 1 same (overlapping windows)', [2, 7, 9, 3], [3, 3], [1, 1], 'same'],
  ];
  for (const [name, shape, filter, strides, pad] of cases) {
    it(name, async () => {
      const d = await compare([{ shape }], (t, x) =>
        t.grads((a: Tensor) => t.maxPool(a as Tensor4D, filter, strides, pad).square().sum())([x!]),
      );
      expect(d).toBeLessThanOrEqual(TOL);
    });
  }
});

describe('resize gradients (upsampling layers)', () => {
  const shapes: [number[], [number, number]][] = [
    [[4, 1, 32, 6], [1, 64]],
    [[4, 32, 1, 6], [64, 1]],
    [[2, 5, 3, 2], [10, 9]],
    [[2, 4, 6, 3], [7, 5]],
  ];
  for (const [shape, size] of shapes) {
    it(`nearest ${shape} → ${size} forward matches cpu`, async () => {
      for (const align of [false, true]) {
        const d = await compare([{ shape }], (t, x) => t.image.resizeNearestNeighbor(x as Tensor4D, size, align));
        expect(d).toBeLessThanOrEqual(TOL);
      }
    });
    // tfjs's own gradients are wrong on both backends (wasm: see pool-resize-grads.ts;
    // cpu: the bilinear one swaps height and width, the nearest one mixes up
    // batches and ignores halfPixelCenters), and specflow replaces both, so the
    // check is independent of any implementation: each backend's gradient must
    // be the adjoint of its own (tfjs) forward, <resize(x), dy> = <x, grad(dy)>.
    for (const kind of ['bilinear', 'nearest'] as const) {
      for (const [align, half] of [
        [false, false],
        [true, false],
        [false, true],
      ] as const) {
        it(`${kind} ${shape} → ${size} align=${align} half=${half} is the forward's adjoint on wasm and cpu`, async () => {
          const outShape = [shape[0]!, size[0], size[1], shape[3]!];
          for (const backend of ['wasm', 'cpu'] as const) {
            const [res] = await runOn(backend, [{ shape }, { shape: outShape }], (t, x, dy) => {
              const f = (a: Tensor) =>
                kind === 'bilinear'
                  ? t.image.resizeBilinear(a as Tensor4D, size, align, half)
                  : t.image.resizeNearestNeighbor(a as Tensor4D, size, align, half);
              const [g] = t.grads((a: Tensor) => f(a).mul(dy!).sum())([x!]);
              expect(g!.shape).toEqual(shape);
              return t.stack([f(x!).mul(dy!).sum(), x!.mul(g!).sum()]);
            }, 5);
            const [lhs, rhs] = res!.values as unknown as [number, number];
            expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(lhs)));
          }
        });
      }
    }
    it(`bilinear ${shape} → ${size} forward matches cpu`, async () => {
      const d = await compare([{ shape }], (t, x) => t.image.resizeBilinear(x as Tensor4D, size));
      expect(d).toBeLessThanOrEqual(TOL);
    });
  }
});

describe('whole gradients, wasm vs cpu', () => {
  it('dense autoencoder (relu, leakyRelu, sigmoid, softplus; fused layers)', async () => {
    const sizes = [48, 32, 16, 4, 16, 32, 48];
    const specs: Spec[] = [{ shape: [20, 48] }];
    for (let i = 0; i + 1 < sizes.length; i++) specs.push({ shape: [sizes[i]!, sizes[i + 1]!] }, { shape: [sizes[i + 1]!] });
    const d = await compare(specs, (t, x, ...params) => {
      const acts = ['relu', 'leakyrelu', 'linear', 'relu', 'sigmoid', 'linear'] as const;
      const loss = (...p: Tensor[]) => {
        let h = x!;
        for (let i = 0; i < acts.length; i++) {
          h = t.fused.matMul({ a: h as Tensor2D, b: p[2 * i] as Tensor2D, bias: p[2 * i + 1], activation: acts[i], leakyreluAlpha: 0.2 });
        }
        return t.softplus(h).sub(x!).square().mean();
      };
      return t.grads(loss)(params);
    });
    expect(d).toBeLessThanOrEqual(TOL);
  });

  it('conv1d autoencoder (strided conv, batch norm, leakyRelu, max pool, upsampling)', async () => {
    const specs: Spec[] = [
      { shape: [4, 64, 1] }, // x
      { shape: [7, 1, 8] }, // conv1
      { shape: [8] }, // gamma
      { shape: [8] }, // beta
      { shape: [5, 8, 12] }, // conv2 (stride 2)
      { shape: [5, 12, 8] }, // conv3 (after upsampling)
      { shape: [3, 8, 1] }, // conv out
    ];
    const d = await compare(specs, (t, x, w1, g, b, w2, w3, w4) =>
      t.grads((c1: Tensor, gamma: Tensor, beta: Tensor, c2: Tensor, c3: Tensor, c4: Tensor) => {
        let h: Tensor = t.conv1d(x as Tensor3D, c1 as Tensor3D, 1, 'same');
        const { mean, variance } = t.moments(h, [0, 1]);
        h = t.batchNorm(h, mean, variance, beta, gamma, 1e-3);
        h = t.leakyRelu(h, 0.2);
        h = t.maxPool(h.reshape([4, 1, 64, 8]) as Tensor4D, [1, 2], [1, 2], 'valid').reshape([4, 32, 8]);
        h = t.leakyRelu(t.conv1d(h as Tensor3D, c2 as Tensor3D, 2, 'same'), 0.2); // [4,16,12]
        // Nearest-neighbour upsampling by 4 (16 → 64).
        // (Upsampling by tile here: resize gradients are specflow's own code on both backends, checked above as adjoints.)
        h = t.tile(h.expandDims(2), [1, 1, 4, 1]).reshape([4, 64, 12]);
        h = t.leakyRelu(t.conv1d(h as Tensor3D, c3 as Tensor3D, 1, 'same'), 0.2);
        h = t.conv1d(h as Tensor3D, c4 as Tensor3D, 1, 'same');
        return h.sub(x!).square().mean();
      })([w1!, g!, b!, w2!, w3!, w4!]),
    );
    expect(d).toBeLessThanOrEqual(TOL);
  });

  it('transformer block (patch embedding, positions by gather, multi-head attention, layer norm, gelu)', async () => {
    const B = 3, L = 8, P = 4, E = 16, H = 2, Dh = E / H;
    const specs: Spec[] = [
      { shape: [B, L * P] }, // spectra
      { shape: [P, E] }, // patch embedding
      { shape: [L, E] }, // position table
      { shape: [E, 3 * E] }, // qkv
      { shape: [E, E] }, // attention out
      { shape: [E, 2 * E] }, // mlp in
      { shape: [2 * E, E] }, // mlp out
      { shape: [E] }, // ln gamma
    ];
    const d = await compare(specs, (t, x, wp, pos, wqkv, wo, w1, w2, gamma) => {
      const layerNorm = (h: Tensor, gm: Tensor) => {
        const { mean, variance } = t.moments(h, -1, true);
        return h.sub(mean).mul(t.rsqrt(variance.add(1e-5))).mul(gm);
      };
      const gelu = (h: Tensor) => h.mul(t.erf(h.div(Math.SQRT2)).add(1)).mul(0.5);
      const positions = t.range(0, L, 1, 'int32');
      return t.grads((...p: Tensor[]) => {
        const [pWp, pPos, pQkv, pWo, pW1, pW2, pG] = p as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
        // (2-D products where weights are shared: tfjs's matMul gradient does not reduce broadcast batch dims.)
        let h = t.matMul(x!.reshape([B * L, P]), pWp).reshape([B, L, E]).add(t.gather(pPos, positions));
        const n = layerNorm(h, pG);
        const qkv = t.matMul(n.reshape([B * L, E]), pQkv).reshape([B, L, 3, H, Dh]).transpose([2, 0, 3, 1, 4]);
        const [q, k, v] = t.unstack(qkv) as [Tensor, Tensor, Tensor]; // [B,H,L,Dh]
        const att = t.softmax(t.matMul(q, k, false, true).div(Math.sqrt(Dh)));
        const ctx = t.matMul(att, v).transpose([0, 2, 1, 3]).reshape([B * L, E]);
        h = h.add(t.matMul(ctx, pWo).reshape([B, L, E]));
        const m = gelu(t.matMul(layerNorm(h, pG).reshape([B * L, E]), pW1));
        h = h.add(t.matMul(m, pW2).reshape([B, L, E]));
        return h.mean(1).square().sum();
      })([wp!, pos!, wqkv!, wo!, w1!, w2!, gamma!]);
    });
    expect(d).toBeLessThanOrEqual(TOL);
  });

  it('tf.layers dense model trained one Adam step gives the same weights', async () => {
    const d = await compare([{ shape: [16, 32] }], (t, x) => {
      const model = t.sequential({
        layers: [
          t.layers.dense({ units: 12, activation: 'relu', inputShape: [32], kernelInitializer: t.initializers.glorotUniform({ seed: 3 }) }),
          t.layers.dense({ units: 32, kernelInitializer: t.initializers.glorotUniform({ seed: 4 }) }),
        ],
      });
      const opt = t.train.adam(0.01);
      for (let i = 0; i < 3; i++) opt.minimize(() => t.losses.meanSquaredError(x!, model.apply(x!) as Tensor) as Scalar);
      const w = model.getWeights().map((v) => v.clone());
      model.dispose();
      opt.dispose();
      return w;
    });
    expect(d).toBeLessThanOrEqual(1e-3);
  });
});

describe('tf.layers models trained on wasm match cpu', () => {
  it('Conv-1D AE layers (conv1d, batch/layer norm, leakyReLU, maxPooling1d, conv2dTranspose, upSampling2d), 2 Adam steps', async () => {
    const d = await compare([{ shape: [6, 64, 1] }], (t, x) => {
      const init = (s: number) => t.initializers.glorotUniform({ seed: s });
      const model = t.sequential({
        layers: [
          // No bias before a norm layer: its true gradient is 0, and Adam would amplify
          // the two backends' rounding noise in it into full-size, opposite steps.
          t.layers.conv1d({ filters: 8, kernelSize: 7, padding: 'same', inputShape: [64, 1], useBias: false, kernelInitializer: init(1) }),
          t.layers.batchNormalization(),
          t.layers.leakyReLU({ alpha: 0.2 }),
          t.layers.maxPooling1d({ poolSize: 2 }),
          t.layers.conv1d({ filters: 12, kernelSize: 5, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(2) }),
          t.layers.layerNormalization(),
          t.layers.reshape({ targetShape: [1, 16, 12] }),
          t.layers.conv2dTranspose({ filters: 12, kernelSize: [1, 2], strides: [1, 2], padding: 'same', kernelInitializer: init(4) }),
          t.layers.upSampling2d({ size: [1, 2] }),
          t.layers.reshape({ targetShape: [64, 12] }),
          t.layers.conv1d({ filters: 1, kernelSize: 3, padding: 'same', kernelInitializer: init(3) }),
        ],
      });
      const opt = t.train.adam(0.01);
      for (let i = 0; i < 2; i++) {
        opt.minimize(() => t.losses.meanSquaredError(x!, model.apply(x!, { training: true }) as Tensor) as Scalar);
      }
      const w = model.getWeights().map((v) => v.clone());
      model.dispose();
      opt.dispose();
      return w;
    });
    expect(d).toBeLessThanOrEqual(1e-3);
  });
});

describe('housekeeping', () => {
  it('the fixed kernels free every intermediate (wasm data ids and tensors balance)', async () => {
    await tf.setBackend('wasm');
    const run = () =>
      tf.tidy(() => {
        const x = tf.randomNormal([4, 32, 3]);
        const w = tf.randomNormal([5, 3, 6]);
        const emb = tf.randomNormal([10, 6]);
        const idx = tf.tensor1d([1, 3, 3, 7], 'int32');
        const q = tf.randomNormal([3, 5, 8]);
        const g = tf.grads((a: Tensor, b: Tensor, e: Tensor, qq: Tensor) => {
          let h: Tensor = tf.leakyRelu(tf.conv1d(a as Tensor3D, b as Tensor3D, 2, 'same'), 0.2); // [4,16,6]
          h = tf.maxPool(h.reshape([4, 16, 1, 6]) as Tensor4D, [2, 1], [2, 1], 'valid');
          h = tf.image.resizeNearestNeighbor(h as Tensor4D, [16, 1]);
          const att = tf.matMul(qq, qq, false, true).sum();
          const d = tf.fused.matMul({ a: h.reshape([64, 6]) as Tensor2D, b: e as Tensor2D, transposeB: true, bias: tf.ones([10]) });
          return d.square().sum().add(tf.gather(e, idx).sum()).add(att);
        })([x, w, emb, q]);
        g.forEach((t) => t.dataSync());
      });
    run();
    const backend = tf.engine().backend;
    const ids = backend.numDataIds();
    const tensors = tf.memory().numTensors;
    run();
    expect(backend.numDataIds()).toBe(ids);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('Identity (clone) shares data by reference count: the copy outlives the original', async () => {
    await tf.setBackend('wasm');
    const backend = tf.engine().backend;
    const ids = backend.numDataIds();
    const a = tf.tensor1d([1, 2, 3]);
    const b = a.clone();
    expect(backend.numDataIds()).toBe(ids + 1);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
    expect(backend.numDataIds()).toBe(ids);
  });

  it('initStockWasm restores tfjs kernels and initBackend re-installs the fixes', async () => {
    const fixed = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    await initStockWasm();
    expect(wasmFixesInstalled()).toBe(false);
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).not.toBe(fixed);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    // The stock kernel still works: the fixes' registration kept its setupFunc binding intact.
    const d = await compare([{ shape: [8, 5] }, { shape: [8, 3] }], (t, a, b) => t.matMul(a!, b!, true, false));
    expect(d).toBeLessThanOrEqual(TOL);
    await initBackend('wasm');
    expect(wasmFixesInstalled()).toBe(true);
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(fixed);
  });
});
