import { it } from 'vitest';
import { generateEels } from '../../src/data/synthetic/eels.js';
import { trainAutoencoder } from '../../src/ml/train.js';
import { selectKMeans } from '../../src/analysis/select-k.js';
import { adjustedRandIndex } from '../../src/analysis/clustering-metrics.js';
import { pearson } from '../../src/analysis/spectrum-metrics.js';

const base = { channels: 256, dose: 50, eMin: 690, eMax: 740, includeAnomaly: true, shiftJitter: 0.15, intensityJitter: 0.1, background: 2, exponent: 3 };
it('scratch', async () => {
  for (const seed of [1, 2]) for (const loss of ['poisson', 'mse'] as const) {
    const t = generateEels(seed, { ...base, phases: 4, perClass: 100 });
    const t0 = performance.now();
    const r = await trainAutoencoder({ n: t.n, d: t.d, x: t.spectra, y: t.clean }, { arch: 'dense', latentDim: 4, loss, epochs: Number(process.env.EP ?? 60), batchSize: 32, seed, learningRate: 2e-3 });
    const secs = (performance.now() - t0) / 1000;
    const z = await r.model.encode(t.spectra, t.n);
    const rows = Array.from({ length: t.n }, (_, i) => z.subarray(i * 4, i * 4 + 4));
    const sel = selectKMeans(rows, [2, 3, 4, 5, 6, 7, 8, 9, 10], { seed });
    const ari = adjustedRandIndex(t.labels!, Array.from(sel.best.labels));
    // pseudospectra by label
    const names = [...new Set(t.labels!)];
    const corr = [];
    for (const nm of names) {
      const idx = t.labels!.map((l, i) => (l === nm ? i : -1)).filter((i) => i >= 0);
      const c = new Float32Array(4);
      for (const i of idx) for (let j = 0; j < 4; j++) c[j] += z[i * 4 + j]! / idx.length;
      const p = await r.model.decode(c, 1);
      const cm = new Float64Array(t.d);
      for (const i of idx) for (let j = 0; j < t.d; j++) cm[j] += t.clean![i * t.d + j]! / idx.length;
      corr.push(pearson(p, cm));
    }
    console.log(seed, loss, 'epochs', r.epochsRun, 'secs', secs.toFixed(1), 'k', sel.best.k, 'ari', ari.toFixed(3), 'sil', JSON.stringify(sel.silhouetteByK), 'corr', corr.map((c) => c.toFixed(4)).join(','), r.backend);
    r.model.dispose();
  }
});
