import { describe, expect, it } from 'vitest';
import { detectionScores, percentile, rowMse, rowPoissonDeviance } from '../../src/analysis/detection.js';

describe('percentile (numpy linear method)', () => {
  it('matches numpy.percentile values', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBeCloseTo(2.5, 12); // np.percentile([1,2,3,4], 50) = 2.5
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99)).toBeCloseTo(99.01, 10); // 99.01
    expect(percentile([10, 7, 4, 3, 2, 1], 25)).toBeCloseTo(2.25, 12); // sorted 1,2,3,4,7,10; pos 1.25
    expect(percentile([5, 1], 100)).toBe(5);
    expect(percentile([5, 1], 0)).toBe(1);
  });
  it('rejects bad input', () => {
    expect(() => percentile([], 50)).toThrow();
    expect(() => percentile([1], 101)).toThrow();
  });
});

describe('reconstruction errors', () => {
  it('row MSE by hand', () => {
    const e = rowMse([1, 2, 3, 0, 0, 0], [1, 2, 5, 1, 1, 1], 2, 3);
    expect(e[0]).toBeCloseTo(4 / 3, 12);
    expect(e[1]).toBeCloseTo(1, 12);
  });
  it('Poisson deviance closed forms', () => {
    // y = mu → 0; y = 0 → 2 mu; y = 2, mu = 1 → 2(2 ln 2 − 1)
    const e = rowPoissonDeviance([3, 0, 2], [3, 1.5, 1], 3, 1);
    expect(e[0]).toBeCloseTo(0, 12);
    expect(e[1]).toBeCloseTo(3, 12);
    expect(e[2]).toBeCloseTo(2 * (2 * Math.LN2 - 1), 12);
  });
});

describe('precision / recall / F1', () => {
  it('hand case', () => {
    const truth = [true, true, true, false, false, false, false, true];
    const flags = [true, true, false, true, false, false, false, true];
    // tp 3, fn 1, fp 1, tn 3
    const s = detectionScores(truth, flags);
    expect([s.tp, s.fn, s.fp, s.tn]).toEqual([3, 1, 1, 3]);
    expect(s.precision).toBeCloseTo(0.75, 12);
    expect(s.recall).toBeCloseTo(0.75, 12);
    expect(s.f1).toBeCloseTo(0.75, 12);
    const t = detectionScores([true, true, false], [true, false, false]);
    expect(t.precision).toBe(1);
    expect(t.recall).toBe(0.5);
    expect(t.f1).toBeCloseTo(2 / 3, 12);
  });
  it('zero division gives 0', () => {
    const s = detectionScores([false, false], [false, false]);
    expect([s.precision, s.recall, s.f1]).toEqual([0, 0, 0]);
  });
});
