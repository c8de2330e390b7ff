/**
 * Each numerical step against an independent computation: hand-worked vectors,
 * closed-form Savitzky–Golay coefficients, dense linear algebra, known baselines.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { alsBaseline, airplsBaseline, loadAirpls, polyBaseline } from '../../src/data/preprocess/baseline.js';
import { solvePenalized } from '../../src/data/preprocess/banded.js';
import { whitakerHayes } from '../../src/data/preprocess/despike.js';
import { cropRange, interpolateLinear, makeGrid } from '../../src/data/preprocess/grid.js';
import { msc, normalize, snv, trapezoid } from '../../src/data/preprocess/normalize.js';
import { savitzkyGolay, whittaker } from '../../src/data/preprocess/smooth.js';
import { anscombe, channelStats, logTransform, standardizeWith } from '../../src/data/preprocess/transform.js';
import { applyStep, type Work } from '../../src/data/preprocess/steps.js';
import { Rng } from '../../src/util/random.js';
import golden from '../golden/savgol-scipy.json' with { type: 'json' };

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-9) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol);
};

describe('normalisation (hand-worked vectors)', () => {
  it('SNV of [1,2,3,4,5]: mean 3, population sd √2', () => {
    const s = Math.SQRT2;
    close(snv([1, 2, 3, 4, 5]), [-2 / s, -1 / s, 0, 1 / s, 2 / s]);
  });
  it('MSC undoes an offset and a multiplicative scatter: y = 2 + 3·ref → ref', () => {
    const ref = [1, 3, 2, 5, 4];
    close(msc([5, 11, 8, 17, 14], ref)!, ref);
    // a spectrum with its own shape, worked by hand: y = [2,4,4,10,8], mean 5.6; ref mean 3;
    // Σ(ref−3)(y−5.6) = 20, Σ(ref−3)² = 10 → b = 2, a = 5.6 − 2·3 = −0.4 → (y + 0.4)/2
    close(msc([2, 4, 4, 10, 8], ref)!, [1.2, 2.2, 2.2, 5.2, 4.2]);
  });
  it('area: trapezoid of [1,3,3,1] on x = 0..3 is 7; the mean level over the span 3 is 7/3', () => {
    expect(trapezoid([0, 1, 2, 3], [1, 3, 3, 1])).toBe(7);
    close(normalize('area', [0, 1, 2, 3], [1, 3, 3, 1])!, [3 / 7, 9 / 7, 9 / 7, 3 / 7]);
    // uneven spacing: x = [0, 2, 3] → (1+3)/2·2 + (3+1)/2·1 = 6, span 3 → divide by 2
    close(normalize('area', [0, 2, 3], [1, 3, 1])!, [0.5, 1.5, 0.5]);
    // the result integrates to the span whatever the input scale
    expect(trapezoid([10, 12, 13], normalize('area', [10, 12, 13], [5, 15, 5])!)).toBeCloseTo(3, 12);
  });
  it('vector, minmax and max', () => {
    close(normalize('vector', [0, 1], [3, 4])!, [0.6, 0.8]);
    close(normalize('minmax', [0, 1, 2], [2, 4, 6])!, [0, 0.5, 1]);
    close(normalize('max', [0, 1, 2], [1, 2, 4])!, [0.25, 0.5, 1]);
    expect(normalize('area', [0, 1, 2, 3], [1, -1, 1, -1])).toBeUndefined();
  });
});

describe('pointwise transforms and standardisation', () => {
  it('Anscombe 2√(y + 3/8)', () => close(anscombe([0, 1, 4.625]), [2 * Math.sqrt(0.375), 2 * Math.sqrt(1.375), 2 * Math.sqrt(5)]));
  it('log base 10 with offset, and the first non-positive value reported', () => {
    close(logTransform([0, 9, 99], 10, 1).y, [0, 1, 2], 1e-12);
    expect(logTransform([1, 0, -1], Math.E, 0).bad).toBe(1);
  });
  it('per-channel stats of [[1,2],[3,6]]: mean [2,4], sd [1,2]', () => {
    const { mean, sd } = channelStats(Float64Array.from([1, 2, 3, 6]), 2, 2);
    close(mean, [2, 4]);
    close(sd, [1, 2]);
    close(standardizeWith(Float64Array.from([1, 2, 3, 6, 5, 0]), 3, 2, mean, sd), [-1, -1, 1, 1, 3, -2]);
  });
});

describe('Savitzky–Golay against closed-form convolution coefficients', () => {
  const rng = new Rng(11);
  const y = Array.from({ length: 40 }, () => rng.normal());
  const conv = (coef: number[], norm: number, i: number) => coef.reduce((s, c, k) => s + c * y[i + k - (coef.length >> 1)]!, 0) / norm;

  it('window 5, quadratic smoothing: (−3, 12, 17, 12, −3)/35', () => {
    const s = savitzkyGolay(y, y.map((_, i) => i), 5, 2, 0);
    for (let i = 2; i < 38; i++) expect(s[i]).toBeCloseTo(conv([-3, 12, 17, 12, -3], 35, i), 10);
  });
  it('window 7, cubic smoothing: (−2, 3, 6, 7, 6, 3, −2)/21', () => {
    const s = savitzkyGolay(y, y.map((_, i) => i), 7, 3, 0);
    for (let i = 3; i < 37; i++) expect(s[i]).toBeCloseTo(conv([-2, 3, 6, 7, 6, 3, -2], 21, i), 10);
  });
  it('window 5, quadratic first derivative: (−2, −1, 0, 1, 2)/(10h), h = 0.5', () => {
    const s = savitzkyGolay(y, y.map((_, i) => 100 + 0.5 * i), 5, 2, 1);
    for (let i = 2; i < 38; i++) expect(s[i]).toBeCloseTo(conv([-2, -1, 0, 1, 2], 10 * 0.5, i), 10);
  });
  it('window 5, quadratic second derivative: (2, −1, −2, −1, 2)/(7h²)', () => {
    const s = savitzkyGolay(y, y.map((_, i) => i), 5, 2, 2);
    for (let i = 2; i < 38; i++) expect(s[i]).toBeCloseTo(conv([2, -1, -2, -1, 2], 7, i), 10);
  });
});

describe('Savitzky–Golay against scipy.signal.savgol_filter (golden values, test/golden/savgol_scipy.py)', () => {
  const y = Array.from({ length: golden.n }, (_, i) => Math.sin(i / 3) + (0.25 * ((i * 7919) % 13)) / 13);
  for (const c of golden.cases) {
    it(`window ${c.window}, polynomial ${c.polynomial}, derivative ${c.derivative}: every point, edges included`, () => {
      const x = y.map((_, i) => 100 + c.delta * i);
      const ours = savitzkyGolay(y, x, c.window, c.polynomial, c.derivative);
      const scale = Math.max(...c.out.map(Math.abs));
      close(ours, c.out, 1e-10 * scale);
    });
  }
});

describe('the snv and area steps on a batch of rows (rows overwritten in place)', () => {
  const work = (rows: number[][], x: number[]): Work => {
    const axis = Float64Array.from(x);
    const flat = Float64Array.from(rows.flat());
    const d = x.length;
    return { ids: rows.map((_, i) => `r${i}`), axis, xs: rows.map(() => axis), spectrum: rows.map((_, i) => flat.subarray(i * d, (i + 1) * d)) };
  };
  const ctx = { where: 'test', log: () => undefined };

  it('area: each row divided by its own trapezoid area over the span, on an uneven axis', () => {
    // x = [0, 2, 3]: areas (1+3)/2·2 + (3+1)/2·1 = 6 and (2+2)/2·2 + (2+8)/2·1 = 9; span 3
    const w = work([[1, 3, 1], [2, 2, 8]], [0, 2, 3]);
    applyStep({ normalize: { method: 'area' } }, w, undefined, ctx);
    close(w.spectrum[0]!, [0.5, 1.5, 0.5]);
    close(w.spectrum[1]!, [2 / 3, 2 / 3, 8 / 3]);
  });

  it('snv: each row by its own mean and population sd; a flat row becomes zeros', () => {
    const w = work([[1, 2, 3, 4, 5], [7, 7, 7, 7, 7], [0, 0, 0, 0, 10]], [0, 1, 2, 3, 4]);
    applyStep({ normalize: { method: 'snv' } }, w, undefined, ctx);
    const s = Math.SQRT2;
    close(w.spectrum[0]!, [-2 / s, -1 / s, 0, 1 / s, 2 / s]);
    close(w.spectrum[1]!, [0, 0, 0, 0, 0]);
    close(w.spectrum[2]!, [-0.5, -0.5, -0.5, -0.5, 2]); // mean 2, sd 4
  });

  it('savgol in place: each row, a view of one shared buffer, becomes savitzkyGolay of its own values', () => {
    const rng = new Rng(5);
    const rows = Array.from({ length: 3 }, () => Array.from({ length: 30 }, () => rng.normal()));
    const x = rows[0]!.map((_, i) => i);
    const expected = rows.map((r) => savitzkyGolay(r, x, 7, 2, 0));
    const w = work(rows, x);
    const input = w.spectrum.map((r) => r);
    applyStep({ smooth: { method: 'savgol', window: 7, polynomial: 2 } }, w, undefined, ctx);
    rows.forEach((_, i) => {
      expect(w.spectrum[i]).toBe(input[i]);
      expect(Array.from(w.spectrum[i]!)).toEqual(Array.from(expected[i]!));
    });
  });
});

describe('penalised least squares (Whittaker, ALS)', () => {
  it('banded Cholesky solves (W + λDᵀD) z = W y, checked by a dense product', () => {
    const rng = new Rng(3);
    const n = 30;
    const y = Array.from({ length: n }, () => rng.normal());
    const w = Array.from({ length: n }, () => 0.1 + rng.uniform());
    const lambda = 7;
    const z = solvePenalized(y, w, lambda, 2);
    // dense D (second differences) and the residual of the normal equations
    const D = Array.from({ length: n - 2 }, (_, r) => Array.from({ length: n }, (_, c) => (c === r ? 1 : c === r + 1 ? -2 : c === r + 2 ? 1 : 0)));
    const Dz = D.map((row) => row.reduce((s: number, v: number, c: number) => s + v * z[c]!, 0));
    for (let i = 0; i < n; i++) {
      const DtDz = D.reduce((s: number, row: number[], r: number) => s + row[i]! * Dz[r]!, 0);
      expect(w[i]! * z[i]! + lambda * DtDz).toBeCloseTo(w[i]! * y[i]!, 9);
    }
  });
  it('Whittaker leaves a straight line unchanged and approaches the data as λ → 0', () => {
    const line = Array.from({ length: 20 }, (_, i) => 3 - 0.25 * i);
    close(whittaker(line, 1e4), line, 1e-8);
    const bumpy = Array.from({ length: 20 }, (_, i) => Math.sin(i));
    close(whittaker(bumpy, 1e-9), bumpy, 1e-6);
  });
});

describe('baselines recover a known smooth baseline under synthetic peaks', () => {
  beforeAll(loadAirpls);
  const n = 500;
  const x = Float64Array.from({ length: n }, (_, i) => i);
  const t = (i: number) => i / (n - 1);
  // cubic baseline (fluorescence-like) and three Gaussian peaks of height 5–10
  const base = Float64Array.from({ length: n }, (_, i) => 2 + 3 * t(i) - 4 * t(i) ** 2 + 2 * t(i) ** 3);
  const peaks = Float64Array.from({ length: n }, (_, i) => 10 * Math.exp(-(((i - 120) / 6) ** 2)) + 6 * Math.exp(-(((i - 260) / 10) ** 2)) + 8 * Math.exp(-(((i - 400) / 5) ** 2)));
  const y = base.map((b, i) => b + peaks[i]!);
  const maxErr = (est: ArrayLike<number>) => Math.max(...Array.from(base, (b, i) => Math.abs(est[i]! - b)));

  it('airPLS (ml-airpls, λ = 10): within 0.1 (1% of the largest peak) everywhere', () => {
    expect(maxErr(airplsBaseline(x, y, 10, 100, 0.001))).toBeLessThan(0.1);
  });
  it('ALS (λ = 1e6, p = 0.001): within 0.1', () => {
    expect(maxErr(alsBaseline(y, 1e6, 0.001, 20))).toBeLessThan(0.1);
  });
  it('iterative polynomial (degree 3): within 0.1', () => {
    expect(maxErr(polyBaseline(x, y, 3, 200, 1e-6))).toBeLessThan(0.1);
  });
});

describe('grids', () => {
  it('crop keeps min ≤ axis ≤ max', () => {
    expect(cropRange([1, 2, 3, 4, 5, 6], 2.5, 5)).toEqual([2, 5]);
  });
  it('makeGrid by step includes the end point despite rounding', () => {
    const g = makeGrid(900, 1700, { step: 2 });
    expect(g.length).toBe(401);
    expect(g[400]).toBe(1700);
    close(makeGrid(0, 1, { n: 5 }), [0, 0.25, 0.5, 0.75, 1]);
  });
  it('resample equals exact linear interpolation of y = x² between knots on an uneven grid', () => {
    const xs = [0, 1, 2.5, 3, 5, 8];
    const ys = xs.map((v) => v * v);
    const grid = makeGrid(0, 8, { step: 0.25 });
    const got = interpolateLinear(xs, ys, grid);
    grid.forEach((g, i) => {
      const k = Math.min(xs.length - 2, xs.findIndex((v, j) => g >= v && g <= xs[j + 1]!));
      const expected = ys[k]! + ((g - xs[k]!) / (xs[k + 1]! - xs[k]!)) * (ys[k + 1]! - ys[k]!);
      expect(got[i]).toBeCloseTo(expected, 12);
    });
    expect(got[2]).toBeCloseTo(0.5 * 1 + 0.5 * 0, 12); // x = 0.5
    expect(got[11]).toBeCloseTo(6.25 + (0.25 / 0.5) * (9 - 6.25), 12); // x = 2.75
  });
});

describe('Whitaker–Hayes despiking', () => {
  it('removes a cosmic-ray spike and leaves the rest of a smooth spectrum alone', () => {
    const rng = new Rng(5);
    const y = Array.from({ length: 200 }, (_, i) => 100 + 20 * Math.sin(i / 15) + rng.normal(0, 0.5));
    const spiked = [...y];
    spiked[80] = y[80]! + 500;
    const { y: out } = whitakerHayes(spiked, 8, 3);
    expect(Math.abs(out[80]! - y[80]!)).toBeLessThan(3);
    for (let i = 0; i < 200; i++) if (Math.abs(i - 80) > 1) expect(out[i]).toBe(y[i]);
    const { spikes } = whitakerHayes(y, 8, 3);
    expect(spikes).toBe(0);
  });
});
