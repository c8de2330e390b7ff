/**
 * The Conv-1D filter and bias gradient as a fast FIR (src/ml/kernels/conv1d-fir2.ts
 * filterGradFir: x's phases from fir2Split or fir4Split, dy's phases written as
 * packed panels by fir2SplitGradPanels or fir4SplitGradPanels, each of the 3
 * (2-parallel) or 9 (4-parallel, filterGradLevels) products summed over a
 * block of samples in registers by fir2GradGemm), in both kernel builds
 * (fused multiply-adds and plain SIMD, whose tiles differ: 5 and 4 rows, 4
 * rows only).
 *
 * fir2GradGemm alone against float64 sums with a rigorous bound: each output
 * is C0 (when accumulating) plus one chain of D = samples·depth multiply-adds
 * in order, so |computed − exact| ≤ γ·(|C0| + Σ|a·b|) with γ = (D + 2)·ε
 * (ε = 2⁻²⁴; Higham, "Accuracy and Stability of Numerical Algorithms", §3.1:
 * D additions, the products rounded once more in the plain build, the final
 * add to C0 once) — any lost, doubled or misplaced term is far outside it.
 * Rows past m that a partial tile reads are NaN here and must never reach C.
 *
 * The whole kernel at every layer shape of the autoencoder with more than one
 * output channel (the fast-FIR ones all 4-parallel, the first layer's one
 * product, filterGradDirect) and at a 2-parallel one against float64 direct sums, argued as
 * in conv1d-fir4.test.ts: dW is a sum of D = batch·length products, whose
 * rounding grows like √D·ε of the largest output for terms of random sign;
 * each level multiplies sums of two inputs by sums of two output gradients
 * (xo + xe′, d0 + d1: partial sums up to 2× larger) and forms the odd taps as
 * differences of such sums, so the bound is 2 · 2^levels · √D · ε (a factor 2
 * of margin; levels 0 for one product). db: the bits of the backend's Sum. Then against the cpu backend
 * at odd shapes through both levels, and the same bits twice.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor, Tensor3D } from '@tensorflow/tfjs';
import { initBackend, type TF } from '../../src/ml/backend.js';
import type { BackendWasm, TensorInfo } from '../../src/ml/kernels/common.js';
import { filterGradLevels, fir2Pays } from '../../src/ml/kernels/conv1d-fir2.js';
import { CONV1D_FILTER_BIAS_GRAD } from '../../src/ml/kernels/conv1d-grads.js';
import { activeBuild, forgetKernelBuild, simdKernels } from '../../src/ml/kernels/simd.js';
import { relErr } from './rel-err.js';
import { values } from './seeded-values.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});
const saved = process.env.SPECFLOW_WASM_FMA;
afterEach(() => {
  if (saved === undefined) delete process.env.SPECFLOW_WASM_FMA;
  else process.env.SPECFLOW_WASM_FMA = saved;
  forgetKernelBuild();
});

const EPS = 2 ** -24;
const BUILDS = [['fused', '1'], ['plain', '0']] as const;

/** [dw, db] of SpecflowConv1dFilterBiasGrad on x [b, l, ci], dy [b, l, co]. */
function kernelGrads(xv: Float32Array, dyv: Float32Array, b: number, l: number, ci: number, co: number, k: number): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor(xv, [b, l, ci]);
    const dy = tf.tensor(dyv, [b, l, co]);
    return tf.engine().runKernel(CONV1D_FILTER_BIAS_GRAD, { x, dy } as never, { k } as never) as unknown as Tensor[];
  }).map((t) => {
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  });
}

/** dW [k, ci, co] = Σ_n Σ_t xp[n, t + j]·dy[n, t] ('same' padding of an odd k) in float64. */
function filterGrad64(x: Float32Array, dy: Float32Array, b: number, l: number, ci: number, co: number, k: number): Float64Array {
  const left = (k - 1) / 2;
  const dw = new Float64Array(k * ci * co);
  const row = new Float64Array(co);
  for (let n = 0; n < b; n++) {
    for (let t = 0; t < l; t++) {
      for (let o = 0; o < co; o++) row[o] = dy[(n * l + t) * co + o]!;
      for (let j = 0; j < k; j++) {
        const i = t + j - left;
        if (i < 0 || i >= l) continue;
        for (let c = 0; c < ci; c++) {
          const xv = x[(n * l + i) * ci + c]!;
          const at = (j * ci + c) * co;
          for (let o = 0; o < co; o++) dw[at + o] += xv * row[o]!;
        }
      }
    }
  }
  return dw;
}

describe('fir2GradGemm: a block of samples summed in registers (both builds)', () => {
  // [m, n, lda, depth, samples]: m in 5- and 4-row tiles (96 = 16·5 + 4·4), in 5-row tiles only (80),
  // a partial last tile (11 = 5 + 5 + 1, 3), a partial last panel (n = 12, 5), rows of A overlapping
  // (lda < m, a convolution's windows) or apart with columns past m (lda > m)
  const CASES: [number, number, number, number, number][] = [
    [96, 32, 16, 7, 5], [80, 16, 16, 9, 3], [11, 12, 11, 9, 3], [3, 5, 7, 4, 2], [22, 8, 4, 13, 4], [128, 64, 32, 3, 2],
  ];
  it.each(BUILDS)('%s build: against float64 sums, C written then added to, rows past m never stored', (_name, flag) => {
    process.env.SPECFLOW_WASM_FMA = flag;
    forgetKernelBuild();
    expect(activeBuild()).toBe(flag === '1' ? 'simd-fma' : 'simd');
    const backend = tf.backend() as unknown as BackendWasm;
    const k = simdKernels(backend);
    for (const [m, n, lda, depth, samples] of CASES) {
      // A_q[t][i] = a[q·aSample + t·lda + i]: rows (depth) lda apart, two spare rows a sample; NaN past
      // the last row a tile can read (3 floats) and in columns past m of every row
      const aSample = (depth + 2) * lda;
      const aLen = samples * aSample + m + 3;
      const av = values(aLen, 3 * m + n);
      for (let q = 0; q < samples; q++) for (let t = 0; t < depth + 2; t++) for (let i = m; i < lda; i++) av[q * aSample + t * lda + i] = NaN;
      for (let i = aLen - 3; i < aLen; i++) av[i] = NaN;
      // B in panels of 8 columns (zeros past n), each panel the samples' rows one after the other
      const panels = Math.ceil(n / 8);
      const panelFloats = samples * depth * 8;
      const bv = new Float32Array(panels * panelFloats);
      const bAt = (q: number, t: number, j: number) => Math.floor(j / 8) * panelFloats + (q * depth + t) * 8 + (j % 8);
      const raw = values(samples * depth * n, 5 * m + n);
      for (let q = 0; q < samples; q++) for (let t = 0; t < depth; t++) for (let j = 0; j < n; j++) bv[bAt(q, t, j)] = raw[(q * depth + t) * n + j]!;
      const c0 = values(m * n, 7 * m + n);
      const [a, bt, c] = [tf.tensor1d(av), tf.tensor1d(bv), tf.tensor1d(c0)];
      const info = (t: Tensor) => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as unknown as TensorInfo;
      const run = (first: number) => {
        k.exports.fir2GradGemm(k.ptr(info(a)), aSample, lda, m, k.ptr(info(bt)), panelFloats * 4, n, depth, samples, k.ptr(info(c)), first);
        return Float32Array.from(c.dataSync());
      };
      const fresh = run(1);
      const added = run(0); // C = fresh + the same sums
      for (const [got, base] of [[fresh, undefined], [added, fresh]] as const) {
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let exact = base ? base[i * n + j]! : 0;
            let mag = Math.abs(exact);
            for (let q = 0; q < samples; q++) {
              for (let t = 0; t < depth; t++) {
                const p = av[q * aSample + t * lda + i]! * bv[bAt(q, t, j)]!;
                exact += p;
                mag += Math.abs(p);
              }
            }
            const err = Math.abs(got[i * n + j]! - exact);
            expect(err, `m ${m} n ${n} lda ${lda} depth ${depth} × ${samples}: C[${i}][${j}] ${base ? 'added' : 'fresh'}`).toBeLessThanOrEqual((samples * depth + 2) * EPS * mag);
          }
        }
      }
      tf.dispose([a, bt, c]);
    }
  });
});

describe('the Conv-1D filter and bias gradient as a fast FIR (wasm)', () => {
  // the autoencoder's fast-FIR layers (defaults, 512 samples) at [length, cin, cout, k], and a 2-parallel
  // one (channels off whole vectors); batch 16 spans several sample blocks, the last one partial
  const AE = { enc1: [256, 16, 32, 11], enc2: [128, 32, 64, 7], dec2: [64, 64, 64, 5], dec1: [128, 32, 32, 7], dec0: [256, 16, 32, 9] } as const;
  // the first layer (one input channel) runs without the fast FIR: filterGradDirect, one product (levels 0)
  const SHAPES = { ...AE, 'two-parallel': [256, 6, 32, 9], enc0: [512, 1, 16, 15] } as const;
  const B = 16;
  const dims = (l: number, ci: number, co: number, k: number) => ({ n: B, w: l, cin: ci, cout: co, fw: k, left: (k - 1) / 2, ow: l });

  it("is 4-parallel at every one of the autoencoder's fast-FIR layers (where it measured faster), else 2-parallel", () => {
    for (const [l, ci, co, k] of Object.values(AE)) expect(filterGradLevels(dims(l, ci, co, k))).toBe(2);
    // a first-level product of one tap, channels off whole vectors (fir4Split's rows)
    expect(filterGradLevels(dims(256, 16, 32, 3))).toBe(1);
    expect(filterGradLevels(dims(256, 6, 32, 9))).toBe(1);
  });

  it.each(Object.entries(SHAPES))('%s at its real shape (batch 16): dw against float64 direct sums, db the bits of Sum', (name, [l, ci, co, k]) => {
    const levels = fir2Pays(dims(l, ci, co, k)) ? filterGradLevels(dims(l, ci, co, k)) : 0;
    expect(levels).toBe(name === 'enc0' ? 0 : name === 'two-parallel' ? 1 : 2);
    const [xv, dyv] = [values(B * l * ci, 11), values(B * l * co, 12)];
    const want = filterGrad64(xv, dyv, B, l, ci, co, k);
    const sum = tf.tidy(() => tf.sum(tf.tensor(dyv, [B * l, co]), 0).dataSync() as Float32Array);
    for (const [build, flag] of BUILDS) {
      process.env.SPECFLOW_WASM_FMA = flag;
      forgetKernelBuild();
      expect(activeBuild()).toBe(flag === '1' ? 'simd-fma' : 'simd');
      const [dw, db] = kernelGrads(xv, dyv, B, l, ci, co, k);
      expect(relErr(dw!, want), `${name} ${build}: dw`).toBeLessThan(2 * 2 ** levels * Math.sqrt(B * l) * EPS);
      expect(Array.from(db!), `${name} ${build}: db`).toEqual(Array.from(sum));
    }
  });

  it("against the cpu backend: both levels, odd lengths and taps, 'same' and 'valid', even k, partial tiles and panels, several blocks", async () => {
    const run = (b: number, l: number, ci: number, co: number, k: number, pad: 'same' | 'valid') => tf.tidy(() => {
      const x = tf.tensor(values(b * l * ci, 31), [b, l, ci]) as Tensor3D;
      const w = tf.tensor(values(k * ci * co, 32), [k, ci, co]) as Tensor3D;
      const r = tf.tensor(values(tf.conv1d(x, w, 1, pad).size, 33), tf.conv1d(x, w, 1, pad).shape);
      const [gw] = tf.grads((ww: Tensor) => tf.sum(tf.mul(tf.conv1d(x, ww as Tensor3D, 1, pad), r)))([w]);
      return gw!.dataSync() as Float32Array;
    });
    // [batch, length, cin, cout, k, padding, levels]
    const cases: [number, number, number, number, number, 'same' | 'valid', number][] = [
      // cout 20 and 12: a partial panel of 4 channels; even k; odd lengths (dy's rows past the end)
      [3, 131, 12, 20, 9, 'same', 2], [3, 133, 8, 8, 5, 'valid', 2], [2, 130, 8, 12, 6, 'same', 2], [3, 131, 6, 20, 9, 'same', 1],
      // cout 10 (channels off whole vectors); m = 11 rows (a partial tile of one row)
      [3, 67, 8, 10, 7, 'same', 2], [3, 37, 11, 10, 3, 'same', 1],
      // samples in blocks of 2 and 1
      [3, 2501, 4, 8, 9, 'same', 2], [3, 2501, 5, 8, 9, 'same', 1],
    ];
    for (const [b, l, ci, co, k, pad, levels] of cases) {
      const d = { n: b, w: l, cin: ci, cout: co, fw: k, left: 0, ow: l - (pad === 'valid' ? k - 1 : 0) };
      expect(fir2Pays(d)).toBe(true);
      expect(filterGradLevels(d)).toBe(levels);
      const wasm = run(b, l, ci, co, k, pad);
      await tf.setBackend('cpu');
      const cpu = run(b, l, ci, co, k, pad);
      await tf.setBackend('wasm');
      expect(relErr(wasm, cpu), `${b} × ${l} ${ci}→${co} k${k} ${pad}: dw`).toBeLessThan(2e-5);
    }
  });

  it('without the fast FIR (one input channel, stride 2, a partial panel, a partial tile): against the cpu backend', async () => {
    const run = (b: number, l: number, ci: number, co: number, k: number, stride: number) => tf.tidy(() => {
      const x = tf.tensor(values(b * l * ci, 51), [b, l, ci]) as Tensor3D;
      const w = tf.tensor(values(k * ci * co, 52), [k, ci, co]) as Tensor3D;
      const y = tf.conv1d(x, w, stride, 'same');
      const r = tf.tensor(values(y.size, 53), y.shape);
      const [gw] = tf.grads((ww: Tensor) => tf.sum(tf.mul(tf.conv1d(x, ww as Tensor3D, stride, 'same'), r)))([w]);
      return gw!.dataSync() as Float32Array;
    });
    // [batch, length, cin, cout, k, stride]: m = k·cin rows 15, 9 (5 + 4), 7 (5 + a partial 4); cout 12 and 3
    for (const [b, l, ci, co, k, stride] of [[3, 515, 1, 16, 15, 1], [3, 64, 3, 12, 3, 2], [2, 40, 1, 3, 7, 1], [5, 200, 1, 8, 9, 1]] as const) {
      const wasm = run(b, l, ci, co, k, stride);
      await tf.setBackend('cpu');
      const cpu = run(b, l, ci, co, k, stride);
      await tf.setBackend('wasm');
      expect(relErr(wasm, cpu), `${b} × ${l} ${ci}→${co} k${k} stride ${stride}: dw`).toBeLessThan(2e-5);
    }
  });

  it('gives the same bits on every call', () => {
    const [xv, dyv] = [values(16 * 128 * 32, 41), values(16 * 128 * 64, 42)];
    const once = () => kernelGrads(xv, dyv, 16, 128, 32, 64, 7).map((a) => Array.from(a));
    expect(once()).toEqual(once());
  });
});
