import { describe, expect, it } from 'vitest';
import { findPeaks, gini, pearson, roughness, topEnergyShare } from '../../src/analysis/spectrum-metrics.js';
import { Rng } from '../../src/util/random.js';

describe('pearson', () => {
  it('hand cases', () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    // x = 1,2,3,4; y = 1,3,2,4: cov sum = 4, Σdx² = Σdy² = 5 → r = 0.8
    expect(pearson([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(0.8, 12);
  });
});

describe('roughness (mean squared 2nd difference / variance)', () => {
  it('is 0 for a line and 16 for a ±1 alternation', () => {
    expect(roughness([1, 2, 3, 4, 5, 6])).toBeCloseTo(0, 12);
    expect(roughness([1, -1, 1, -1, 1, -1, 1, -1])).toBeCloseTo(16, 12);
  });
  it('is 16 sin⁴(ω/2) for a sampled sinusoid over whole periods', () => {
    const n = 400;
    const w = (2 * Math.PI * 10) / n;
    const x = Array.from({ length: n }, (_, i) => Math.sin(w * i));
    // Δ²x_i = −4 sin²(ω/2) x_i exactly; interior mean of x² vs overall variance differ by O(1/n)
    expect(roughness(x)).toBeCloseTo(16 * Math.sin(w / 2) ** 4, 4);
  });
  it('is scale invariant', () => {
    const rng = new Rng(1);
    const x = Array.from({ length: 50 }, () => rng.normal());
    expect(roughness(x.map((v) => 7 * v + 3))).toBeCloseTo(roughness(x), 10);
  });
});

describe('Gini of |x|', () => {
  it('hand cases', () => {
    expect(gini([1, 2, 3, 4])).toBeCloseTo(0.25, 12);
    expect(gini([5, 5, 5, 5])).toBeCloseTo(0, 12);
    expect(gini([0, 0, 0, 0, 9])).toBeCloseTo(4 / 5, 12);
    expect(gini([-1, 2, -3, 4])).toBeCloseTo(0.25, 12);
  });
  it('equals the mean-absolute-difference definition Σ|xi − xj| / (2 n² mean)', () => {
    const rng = new Rng(2);
    const x = Array.from({ length: 40 }, () => Math.abs(rng.normal()));
    let s = 0;
    for (const a of x) for (const b of x) s += Math.abs(a - b);
    const mean = x.reduce((p, v) => p + v, 0) / x.length;
    expect(gini(x)).toBeCloseTo(s / (2 * x.length ** 2 * mean), 12);
  });
});

describe('top-5 % energy share', () => {
  it('hand cases', () => {
    // 40 channels → top 2: energies 100, 64 out of 100 + 64 + 38·1
    const x = new Array(40).fill(1);
    x[3] = 10;
    x[20] = -8;
    expect(topEnergyShare(x)).toBeCloseTo(164 / 202, 12);
    expect(topEnergyShare(new Array(100).fill(2))).toBeCloseTo(0.05, 12);
    expect(topEnergyShare([0, 0, 3])).toBeCloseTo(1, 12); // ⌈0.15⌉ = 1 channel
  });
});

describe('findPeaks', () => {
  it('hand case with prominences', () => {
    // peak at 1 (h 2): left min 0, right walk stops at the higher 3, min 1 → prominence 1
    // peak at 3 (h 3): left min 0, right min 0 → prominence 3
    const p = findPeaks([0, 2, 1, 3, 0], { minProminence: 0 });
    expect(p.map((q) => [q.index, q.prominence])).toEqual([[3, 3], [1, 1]]);
  });
  it('finds Gaussian peaks at their centres on an axis and ignores small ripples', () => {
    const axis = Array.from({ length: 300 }, (_, i) => 700 + i * 0.2);
    const centres = [720, 735, 750];
    const y = axis.map((e) => centres.reduce((s, c, k) => s + (k + 1) * Math.exp(-((e - c) ** 2) / 2), 0)
      + 0.01 * Math.sin(e * 20));
    const peaks = findPeaks(y, { axis });
    expect(peaks.map((p) => p.position).sort((a, b) => a - b).map((v) => Math.round(v))).toEqual(centres);
  });
  it('treats a plateau as one peak', () => {
    expect(findPeaks([0, 1, 1, 1, 0], { minProminence: 0 }).map((p) => p.index)).toEqual([2]);
  });
});
