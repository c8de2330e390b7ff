/**
 * The 4-parallel fast FIR (src/ml/kernels/conv1d-fir2.ts, two levels with
 * fused passes) behind the wasm forward convolution where fir4Pays: against
 * an independent float64 direct convolution at the autoencoder's own layer
 * shapes (forward with bias, input gradient, filter and bias gradients), and
 * against the cpu backend at small odd shapes that take the same path.
 *
 * Tolerance: each output is a float32 sum of D = k·cin products, whose
 * rounding grows like √D·ε (ε = 2⁻²⁴) of the largest output for terms of
 * random sign; each level of the fast FIR sums pairs of inputs and of taps
 * before multiplying (xo + xe′, we + wo) and forms the odd outputs as
 * differences of such products, so its partial sums are up to 2× larger per
 * level: 4× at two levels. Bound: 2 · 4 · √D · ε (a factor 2 of margin).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor, Tensor3D } from '@tensorflow/tfjs';
import { initBackend, type TF } from '../../src/ml/backend.js';
import { fir4Pays, measureFirLevels } from '../../src/ml/kernels/conv1d-fir2.js';
import type { BackendWasm } from '../../src/ml/kernels/common.js';
import { simdKernels } from '../../src/ml/kernels/simd.js';
import { conv1dSame } from '../../src/ml/nn.js';
import { relErr } from './rel-err.js';
import { values } from './seeded-values.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

const EPS = 2 ** -24;

/** y, dx, dw, db of Σ conv1dSame(x, w, b)·r in float64, 'same' padding of an odd k, direct sums. */
function direct64(x: Float32Array, w: Float32Array, bias: Float32Array, r: Float32Array, b: number, l: number, ci: number, co: number, k: number) {
  const left = (k - 1) / 2;
  const y = new Float64Array(b * l * co);
  const dx = new Float64Array(b * l * ci);
  const dw = new Float64Array(k * ci * co);
  const db = new Float64Array(co);
  for (let n = 0; n < b; n++) {
    for (let t = 0; t < l; t++) {
      for (let o = 0; o < co; o++) {
        const g = r[(n * l + t) * co + o]!;
        let s = bias[o]!;
        db[o] += g;
        for (let j = 0; j < k; j++) {
          const i = t + j - left;
          if (i < 0 || i >= l) continue;
          for (let c = 0; c < ci; c++) {
            const xv = x[(n * l + i) * ci + c]!;
            const wv = w[(j * ci + c) * co + o]!;
            s += xv * wv;
            dx[(n * l + i) * ci + c] += g * wv;
            dw[(j * ci + c) * co + o] += g * xv;
          }
        }
        y[(n * l + t) * co + o] = s;
      }
    }
  }
  return [y, dx, dw, db];
}

function onWasm(b: number, l: number, ci: number, co: number, k: number, seed: number): { got: Float32Array[]; want: Float64Array[] } {
  const [xv, wv, bv, rv] = [values(b * l * ci, seed), values(k * ci * co, seed + 1), values(co, seed + 2), values(b * l * co, seed + 3)];
  const got = tf.tidy(() => {
    const x = tf.tensor(xv, [b, l, ci]);
    const w = tf.tensor(wv, [k, ci, co]);
    const bias = tf.tensor1d(bv);
    const r = tf.tensor(rv, [b, l, co]);
    const f = (a: Tensor, ww: Tensor, bb: Tensor) => conv1dSame(tf, a, ww, bb);
    const { grads } = tf.valueAndGrads((a: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(f(a, ww, bb), r)))([x, w, bias]);
    return [f(x, w, bias), ...grads].map((t) => t.dataSync() as Float32Array);
  });
  return { got, want: direct64(xv, wv, bv, rv, b, l, ci, co, k) };
}

describe('Conv-1D as a 4-parallel fast FIR (wasm)', () => {
  // the autoencoder's convolutions (defaults, 512 samples) at [length, cin, cout, k]; the
  // input gradients are forward convolutions cout → cin (the decoder's are upsampleConv1d's
  // phase convolutions: x's length, 2·outC channels)
  const AE = { enc1: [256, 16, 32, 11], enc2: [128, 32, 64, 7], dec2: [64, 64, 64, 5], dec1: [128, 32, 32, 7], dec0: [256, 16, 32, 9] } as const;
  const dims = (l: number, cin: number, cout: number, fw: number) => ({ n: 256, w: l, cin, cout, fw, left: (fw - 1) / 2, ow: l });

  it("is chosen for every one of the autoencoder's forward and input-gradient convolutions (where it measured faster)", () => {
    for (const [l, ci, co, k] of Object.values(AE)) {
      expect(fir4Pays(dims(l, ci, co, k))).toBe(true);
      expect(fir4Pays(dims(l, co, ci, k))).toBe(true);
    }
    // rows shorter than measured
    expect(fir4Pays(dims(63, 16, 32, 9))).toBe(false);
    // channels off whole vectors, or a phase of one tap, keep the 2-parallel FIR
    expect(fir4Pays(dims(256, 6, 32, 9))).toBe(false);
    expect(fir4Pays(dims(256, 16, 30, 9))).toBe(false);
    expect(fir4Pays(dims(256, 16, 32, 3))).toBe(false);
  });

  it.each(Object.entries(AE))('%s at its real shape (batch 2): y, dx, dw, db against float64 direct sums', (_name, [l, ci, co, k]) => {
    const { got, want } = onWasm(2, l, ci, co, k, 11);
    const bound = (d: number) => 2 * 4 * Math.sqrt(d) * EPS;
    // y: D = k·ci terms; dx: k·co; dw and db: every position of the batch
    const terms = [k * ci, k * co, 2 * l, 2 * l];
    ['y', 'dx', 'dw', 'db'].forEach((name, i) => expect(relErr(got[i]!, want[i]!), name).toBeLessThan(bound(terms[i]!)));
  });

  it('through the unfused recursion too (channels off whole vectors, levels forced): against float64', () => {
    measureFirLevels(2);
    try {
      const { got, want } = onWasm(2, 37, 6, 10, 9, 21);
      ['y', 'dx', 'dw', 'db'].forEach((name, i) => expect(relErr(got[i]!, want[i]!), name).toBeLessThan(2 * 4 * Math.sqrt(9 * 10) * EPS));
    } finally {
      measureFirLevels(undefined);
    }
  });

  // the filter gradient's split of dy (fir4SplitGradPanels, which also sums the bias
  // gradient) at output channels off whole vectors and panels (13 = 8 + 4 + 1, 22 = 16 + 4 + 2)
  // and lengths whose last group of four positions is short (37, 38)
  it.each([[37, 8, 13, 7], [38, 12, 22, 5]])('filter and bias gradients at length %i, %i → %i channels, k %i: against float64', (l, ci, co, k) => {
    const { got, want } = onWasm(2, l, ci, co, k, 51);
    const bound = (d: number) => 2 * 4 * Math.sqrt(d) * EPS;
    expect(relErr(got[2]!, want[2]!), 'dw').toBeLessThan(bound(2 * l));
    expect(relErr(got[3]!, want[3]!), 'db').toBeLessThan(bound(2 * l));
  });

  it('refuses to force a level the passes were not written for', () => {
    expect(() => measureFirLevels(3)).toThrow(/0, 1 or 2, not 3/);
    expect(() => measureFirLevels(-1)).toThrow(RangeError);
  });

  it("against the cpu backend: odd lengths and taps, 'same' and 'valid', even k, 64+ channels", async () => {
    const run = (l: number, ci: number, co: number, k: number, pad: 'same' | 'valid') => tf.tidy(() => {
      const x = tf.tensor(values(3 * l * ci, 31), [3, l, ci]) as Tensor3D;
      const w = tf.tensor(values(k * ci * co, 32), [k, ci, co]) as Tensor3D;
      const y = tf.conv1d(x, w, 1, pad);
      const r = tf.tensor(values(y.size, 33), y.shape);
      const [gx, gw] = tf.grads((a: Tensor, ww: Tensor) => tf.sum(tf.mul(tf.conv1d(a as Tensor3D, ww as Tensor3D, 1, pad), r)))([x, w]);
      return [y, gx!, gw!].map((t) => t.dataSync() as Float32Array);
    });
    const cases: [number, number, number, number, 'same' | 'valid'][] = [
      [131, 12, 20, 9, 'same'], [133, 8, 8, 5, 'valid'], [130, 8, 12, 6, 'same'], [141, 16, 8, 11, 'same'],
      // > 32 output channels (the block's products as one GEMM), samples in blocks of 2 and 1
      [420, 8, 40, 5, 'same'], [71, 12, 36, 7, 'valid'],
    ];
    for (const [l, ci, co, k, pad] of cases) {
      expect(fir4Pays({ n: 3, w: l, cin: ci, cout: co, fw: k, left: 0, ow: l - (pad === 'valid' ? k - 1 : 0) })).toBe(true);
      const wasm = run(l, ci, co, k, pad);
      await tf.setBackend('cpu');
      const cpu = run(l, ci, co, k, pad);
      await tf.setBackend('wasm');
      for (let i = 0; i < 3; i++) expect(relErr(wasm[i]!, cpu[i]!), `${l} ${ci}→${co} k${k} ${pad}: ${['y', 'dx', 'dw'][i]}`).toBeLessThan(2e-5);
    }
  });

  it('gives the same bits on every call', () => {
    const once = () => onWasm(3, 256, 16, 32, 11, 41).got.map((a) => Array.from(a));
    expect(once()).toEqual(once());
  });

  it("fir4Split writes the nine phases as their definition gives them, bit for bit, at every layer's shape", () => {
    // The phases of the padded input xp (x shifted by `left`, zeros outside): first level X0[r] = xp[2r],
    // X1[r] = xp[2r+1], X2[r] = xp[2r+1] + xp[2r+2] (r < v1, else 0); array 3a + b row t is Xa[2t], Xa[2t+1],
    // Xa[2t+1] + Xa[2t+2] — float32 sums, X2's pair summed first. v1 and v2: the rows conv1d-fir2.ts's tree
    // asks for (the longest window of the parts), here from the same arithmetic written out.
    const k = simdKernels(tf.backend() as unknown as BackendWasm);
    const rowsFor = (taps: number, outputs: number) => {
      const [kE, kO, ue, uo] = [Math.ceil(taps / 2), Math.floor(taps / 2), Math.ceil(outputs / 2), Math.floor(outputs / 2)];
      const parts: [number, number][] = [[kE, uo + 1], [kO, ue], [kE, uo]];
      return { v: Math.max(...parts.map(([t, o]) => t + o)) - 1, parts };
    };
    const cases: [number, number, number, number][] = [];
    for (const [l, ci, co, fw] of Object.values(AE)) cases.push([l, ci, fw, (fw - 1) / 2], [l, co, fw, (fw - 1) / 2]);
    cases.push([133, 8, 5, 0], [130, 12, 6, 3]); // 'valid', and an even k's 'same'
    // rows of 20 and 4 floats: the copies' and sums' whole-line (64-byte) and 32-byte steps with tails, and tails only
    cases.push([101, 20, 7, 3], [67, 4, 5, 2]);
    for (const [w, c, fw, left] of cases) {
      const ow = w + (left === 0 ? 1 - fw : 0);
      const { v: v1, parts } = rowsFor(fw, ow);
      const v2 = Math.max(...parts.map(([t, o]) => rowsFor(t, o).v));
      const q = 2;
      const xv = values(q * w * c, 51);
      const want = new Float32Array(9 * q * v2 * c);
      const xp = (n: number, i: number, ch: number) => (i - left >= 0 && i - left < w ? xv[(n * w + i - left) * c + ch]! : 0);
      const first = (a: number, n: number, r: number, ch: number) => {
        if (r >= v1) return 0;
        return a === 0 ? xp(n, 2 * r, ch) : a === 1 ? xp(n, 2 * r + 1, ch) : Math.fround(xp(n, 2 * r + 1, ch) + xp(n, 2 * r + 2, ch));
      };
      for (let a = 0; a < 3; a++) {
        for (let b = 0; b < 3; b++) {
          for (let n = 0; n < q; n++) {
            for (let t = 0; t < v2; t++) {
              for (let ch = 0; ch < c; ch++) {
                const value = b === 0 ? first(a, n, 2 * t, ch) : b === 1 ? first(a, n, 2 * t + 1, ch) : Math.fround(first(a, n, 2 * t + 1, ch) + first(a, n, 2 * t + 2, ch));
                want[(((3 * a + b) * q + n) * v2 + t) * c + ch] = value;
              }
            }
          }
        }
      }
      const got = tf.tidy(() => {
        const x = tf.tensor(xv, [q, w, c]);
        const out = tf.fill([want.length], Number.NaN); // every element must be written
        k.exports.fir4Split(k.ptr(x), k.ptr(out), q * v2 * c * 4, q, w, c, left, v1, v2);
        return out.dataSync() as Float32Array;
      });
      expect(new Uint32Array(got.buffer), `w ${w} c ${c} k ${fw} left ${left}`).toEqual(new Uint32Array(want.buffer));
    }
  });
});

