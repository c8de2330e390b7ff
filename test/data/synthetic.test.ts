import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runStageForTest } from '../../src/runner/testing.js';
import { readSpectra, type SpectraTable } from '../../src/data/arrow-io.js';
import { syntheticCorrelated, syntheticEels, syntheticRaman, syntheticRelevance } from '../../src/stages/synthetic.js';
import type { StageDef } from '../../src/core/stage-api.js';

async function generate(def: StageDef, params: Record<string, unknown>, seed: number): Promise<{ bytes: Buffer; table: SpectraTable }> {
  const r = await runStageForTest(def, { params, seed });
  return { bytes: readFileSync(r.outputs.spectra!), table: await readSpectra(r.outputs.spectra!) };
}

function classStats(t: SpectraTable, j: number, label: string): { mean: number; variance: number; n: number } {
  const v: number[] = [];
  for (let i = 0; i < t.n; i++) if (t.labels![i] === label) v.push(t.spectra[i * t.d + j]!);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1);
  return { mean, variance, n: v.length };
}

/** Adjusted Rand index (Hubert & Arabie 1985) from the contingency table. */
function adjustedRand(a: string[], b: number[]): number {
  const pair = (x: number) => (x * (x - 1)) / 2;
  const cells = new Map<string, number>();
  const rows = new Map<string, number>();
  const cols = new Map<number, number>();
  a.forEach((x, i) => {
    cells.set(`${x}|${b[i]}`, (cells.get(`${x}|${b[i]}`) ?? 0) + 1);
    rows.set(x, (rows.get(x) ?? 0) + 1);
    cols.set(b[i]!, (cols.get(b[i]!) ?? 0) + 1);
  });
  const sum = (m: Map<unknown, number>) => [...m.values()].reduce((s, v) => s + pair(v), 0);
  const index = sum(cells);
  const expected = (sum(rows) * sum(cols)) / pair(a.length);
  const max = (sum(rows) + sum(cols)) / 2;
  return (index - expected) / (max - expected);
}

describe('determinism: same seed → identical bytes, another seed → different data', () => {
  const cases: [StageDef, Record<string, unknown>][] = [
    [syntheticEels, { per_class: 5, channels: 64 }],
    [syntheticRaman, { per_class: 3, channels: 128, classes: 2 }],
    [syntheticRelevance, { per_class: 20 }],
    [syntheticCorrelated, { per_class: 20 }],
  ];
  for (const [def, params] of cases) {
    it(def.type, async () => {
      const a = await generate(def, params, 7);
      const b = await generate(def, params, 7);
      const c = await generate(def, params, 8);
      expect(a.bytes.equals(b.bytes)).toBe(true);
      expect(a.bytes.equals(c.bytes)).toBe(false);
      expect(a.table.spectra).not.toEqual(c.table.spectra);
    });
  }
});

describe('synthetic.eels', () => {
  it('has Poisson noise: (counts − mean)/√mean has mean 0 and variance 1 in every channel', async () => {
    const { table: t } = await generate(syntheticEels, { per_class: 150, channels: 48, dose: 50 }, 1);
    expect(t.n).toBe(600);
    // Each spectrum has its own expectation (`clean`); for Poisson counts the standardised
    // residual has unit variance whatever the mean. With n = 600 the sample variance has
    // sd ≈ √(2/n) ≈ 0.06; 0.25 is 4 sd; the mean has sd ≈ 0.04, 0.17 is 4 sd.
    const means: number[] = [];
    const variances: number[] = [];
    for (let j = 0; j < t.d; j++) {
      let s = 0;
      let ss = 0;
      for (let i = 0; i < t.n; i++) {
        const mu = t.clean![i * t.d + j]!;
        const z = (t.spectra[i * t.d + j]! - mu) / Math.sqrt(mu);
        s += z;
        ss += z * z;
      }
      const m = s / t.n;
      means.push(m);
      variances.push(ss / t.n - m * m);
    }
    for (let j = 0; j < t.d; j++) {
      expect(Math.abs(means[j]!), `channel ${j} mean`).toBeLessThan(0.17);
      expect(Math.abs(variances[j]! - 1), `channel ${j} variance`).toBeLessThan(0.25);
    }
    // pooled over all channels (n·d = 28 800 values): variance within 0.03 of 1
    const pooled = variances.reduce((a, b) => a + b, 0) / t.d;
    expect(Math.abs(pooled - 1)).toBeLessThan(0.03);
    // counts are integers; mean count per channel is the dose
    expect(t.spectra.every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
    const meanCount = t.spectra.reduce((a, b) => a + b, 0) / t.spectra.length;
    expect(Math.abs(meanCount - 50)).toBeLessThan(2);
  });

  it('puts the L₃ maximum of each phase where the physics says (FeO < Fe3O4 < Fe2O3)', async () => {
    const { table: t } = await generate(syntheticEels, { per_class: 20, channels: 501, shift_jitter: 0 }, 2);
    expect(t.axisUnit).toBe('eV');
    expect(t.axis[0]).toBe(690);
    expect(t.axis[500]).toBe(740);
    const peakOf = (phase: string) => {
      const i = t.labels!.indexOf(phase);
      const c = t.clean!.subarray(i * t.d, (i + 1) * t.d);
      let best = 0;
      for (let j = 0; j < t.d; j++) if (t.axis[j]! > 700 && t.axis[j]! < 715 && c[j]! > c[best]!) best = j;
      return t.axis[best]!;
    };
    // Literature L₃ maxima: FeO ≈ 707.7, Fe₃O₄ ≈ 709, Fe₂O₃ ≈ 709.5–709.8 eV (shoulders pull the maxima slightly).
    expect(Math.abs(peakOf('FeO') - 707.8)).toBeLessThan(0.5);
    expect(Math.abs(peakOf('Fe2O3') - 709.6)).toBeLessThan(0.5);
    expect(peakOf('FeO')).toBeLessThan(peakOf('Fe3O4'));
    expect(peakOf('Fe3O4')).toBeLessThan(peakOf('Fe2O3'));
    expect(new Set(t.labels)).toEqual(new Set(['Fe2O3', 'FeO', 'Fe3O4', 'amorphous']));
  });

  it('phases are separable but not trivially: PCA(8) + k-means on area-normalised counts at dose 50', async () => {
    const { PCA } = await import('ml-pca');
    const { kmeans } = await import('ml-kmeans');
    const { table: t } = await generate(syntheticEels, { per_class: 100, dose: 50 }, 7);
    const X = Array.from({ length: t.n }, (_, i) => {
      const r = Array.from(t.spectra.subarray(i * t.d, (i + 1) * t.d));
      const s = r.reduce((a, b) => a + b, 0);
      return r.map((v) => (v / s) * t.d);
    });
    const Z = new PCA(X).predict(X, { nComponents: 8 }).to2DArray();
    // best of 5 k-means++ starts by inertia (scikit-learn's n_init): single starts land in a 3+1 split
    let best = { inertia: Infinity, clusters: [] as number[] };
    for (let seed = 1; seed <= 5; seed++) {
      const r = kmeans(Z, 4, { seed, initialization: 'kmeans++' });
      const inertia = Z.reduce((s, z, i) => s + z.reduce((a, v, j) => a + (v - r.centroids[r.clusters[i]!]![j]!) ** 2, 0), 0);
      if (inertia < best.inertia) best = { inertia, clusters: r.clusters };
    }
    const ari = adjustedRand(t.labels!.map(String), best.clusters);
    // The linear baseline already reaches ~0.98; a denoising autoencoder should do at least as well.
    // Not trivially identical: the noisy spectra of different phases are not perfectly separated.
    expect(ari).toBeGreaterThan(0.85);
    expect(ari).toBeLessThan(0.999);
  });

  it('marks a held-out anomaly phase, and can leave it out without changing the normal spectra', async () => {
    const all = await generate(syntheticEels, { per_class: 4, channels: 32, phases: 3, anomaly: 'Fe', anomaly_count: 2 }, 3);
    expect(all.table.n).toBe(14);
    const anomalyCol = all.table.columns.anomaly!;
    all.table.labels!.forEach((l, i) => expect(anomalyCol[i]).toBe(l === 'Fe'));
    const normal = await generate(syntheticEels, { per_class: 4, channels: 32, phases: 3, anomaly: 'Fe', include_anomaly: false }, 3);
    expect(normal.table.n).toBe(12);
    expect(normal.table.columns.anomaly!.every((v) => v === false)).toBe(true);
    expect(Array.from(normal.table.spectra)).toEqual(Array.from(all.table.spectra.subarray(0, 12 * 32)));
    const inside = await generate(syntheticEels, { per_class: 3, channels: 32, anomaly: 1 }, 3);
    expect(inside.table.n).toBe(12);
    expect(inside.table.columns.anomaly!.filter((v) => v).length).toBe(3);
  });
});

describe('synthetic.raman', () => {
  it('has each class\'s strongest band at its documented shift and shot noise of the stated size', async () => {
    const { table: t } = await generate(syntheticRaman, { per_class: 30, classes: 3, channels: 701, noise: 0.05, fluorescence: 0, shift_jitter: 0 }, 4);
    expect(t.axisUnit).toBe('cm-1');
    expect(t.axis[0]).toBe(400);
    expect(t.axis[700]).toBe(1800);
    const meanClean = (label: string) => {
      const m = new Float64Array(t.d);
      let k = 0;
      for (let i = 0; i < t.n; i++) {
        if (t.labels![i] !== label) continue;
        k++;
        for (let j = 0; j < t.d; j++) m[j]! += t.clean![i * t.d + j]!;
      }
      return m.map((v) => v / k);
    };
    const argmax = (m: Float64Array) => t.axis[m.indexOf(Math.max(...m))]!;
    expect(Math.abs(argmax(meanClean('adenine')) - 735)).toBeLessThanOrEqual(2);
    expect(Math.abs(argmax(meanClean('glucose')) - 1125)).toBeLessThanOrEqual(2);
    expect(Math.abs(argmax(meanClean('lactate')) - 855)).toBeLessThanOrEqual(2);
    // noisy = Poisson(clean/σ²)·σ² → Var = σ²·clean; standardised residual variance ≈ 1
    let ss = 0;
    let count = 0;
    for (let i = 0; i < t.spectra.length; i++) {
      const c = t.clean![i]!;
      if (c < 0.2) continue;
      ss += (t.spectra[i]! - c) ** 2 / (0.05 * 0.05 * c);
      count++;
    }
    expect(Math.abs(ss / count - 1)).toBeLessThan(0.05);
  });
});

describe('synthetic.relevance', () => {
  it('class means differ by the stored Δμ per feature, within sampling error', async () => {
    const { table: t } = await generate(syntheticRelevance, { per_class: 2000 }, 5);
    const dmu = JSON.parse(t.metadata.delta_mu!) as number[];
    expect(dmu).toHaveLength(20);
    expect(dmu.filter((v) => v === 0).length).toBeGreaterThanOrEqual(5);
    expect(t.d).toBe(20);
    for (let j = 0; j < 20; j++) {
      const a = classStats(t, j, '0');
      const b = classStats(t, j, '1');
      // SE of a difference of two means of 2000 unit-variance samples ≈ 0.032; 4 SE
      expect(Math.abs(b.mean - a.mean - dmu[j]!), `feature ${j}`).toBeLessThan(0.13);
    }
  });
});

describe('synthetic.correlated', () => {
  it('no single feature separates the classes, while the pairs do', async () => {
    const { table: t } = await generate(syntheticCorrelated, { per_class: 3000, p: [1, 0.75, 0.5, 0.25] }, 6);
    expect(JSON.parse(t.metadata.p!)).toEqual([1, 0.75, 0.5, 0.25]);
    expect(t.d).toBe(10);
    for (let j = 0; j < 10; j++) {
      const a = classStats(t, j, '0');
      const b = classStats(t, j, '1');
      // N(0,1) in both classes: SE of the mean difference ≈ 0.026, of the variance difference ≈ 0.037; 4 SE
      expect(Math.abs(a.mean - b.mean), `feature ${j} means`).toBeLessThan(0.11);
      expect(Math.abs(a.variance - b.variance), `feature ${j} variances`).toBeLessThan(0.15);
      expect(Math.abs(a.variance - 1)).toBeLessThan(0.15);
    }
    // Pairs: E[x₂ₙ·x₂ₙ₊₁] = 1 for class 0 and 1 − 2pₙ for class 1.
    const p = [1, 0.75, 0.5, 0.25];
    for (let k = 0; k < 4; k++) {
      const prod = (label: string) => {
        let s = 0;
        let c = 0;
        for (let i = 0; i < t.n; i++) {
          if (t.labels![i] !== label) continue;
          s += t.spectra[i * 10 + 2 * k]! * t.spectra[i * 10 + 2 * k + 1]!;
          c++;
        }
        return s / c;
      };
      // Var of the product ≤ 3 → SE ≈ 0.032; 0.15 is > 4 SE
      expect(Math.abs(prod('0') - 1), `pair ${k} class 0`).toBeLessThan(0.15);
      expect(Math.abs(prod('1') - (1 - 2 * p[k]!)), `pair ${k} class 1`).toBeLessThan(0.15);
    }
    // Pair 0 (p = 1) separates perfectly by the sign of x₀·x₁; the best single-feature threshold does not beat chance much.
    let pairCorrect = 0;
    for (let i = 0; i < t.n; i++) {
      const predicted = t.spectra[i * 10]! * t.spectra[i * 10 + 1]! >= 0 ? '0' : '1';
      if (predicted === t.labels![i]) pairCorrect++;
    }
    expect(pairCorrect / t.n).toBeGreaterThan(0.99);
    for (let j = 0; j < 10; j++) {
      const rows = Array.from({ length: t.n }, (_, i) => ({ v: t.spectra[i * 10 + j]!, y: t.labels![i] === '1' ? 1 : 0 })).sort((a, b) => a.v - b.v);
      let ones = 0;
      let best = 0.5;
      const totalOnes = rows.reduce((s, r) => s + r.y, 0);
      rows.forEach((r, i) => {
        ones += r.y;
        // predict 1 below the threshold (or above): accuracy either way
        const acc = (ones + (t.n - (i + 1) - (totalOnes - ones))) / t.n;
        best = Math.max(best, acc, 1 - acc);
      });
      expect(best, `feature ${j}`).toBeLessThan(0.56);
    }
  });
});
