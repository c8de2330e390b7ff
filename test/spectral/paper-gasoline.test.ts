/**
 * Paper-style real-data regression: NIR spectra of 60 gasolines (401 wavelengths,
 * 900–1700 nm) → octane number. load.csv → split → train.spectral (MAE loss,
 * z-scored channels) → rank.features: the MAE-versus-k curve and the top wavelengths.
 * One seed, 300 epochs (the set is tiny: 2 mini-batches an epoch).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runStageForTest } from '../../src/runner/testing.js';
import { loadCsv } from '../../src/stages/load.js';
import { split } from '../../src/stages/split.js';
import { trainSpectral } from '../../src/stages/train-spectral.js';
import { rankFeatures } from '../../src/stages/rank-features.js';
import { readRecords, readSpectra } from '../../src/data/arrow-io.js';
import { DATA_DIR, hasData } from './helpers.js';

describe.skipIf(!hasData('gasoline_nir.csv'))('paper: gasoline NIR octane (skipped without ../shared/data)', () => {
  it('regresses octane, lists the top wavelengths and computes the MAE-vs-k curve', async () => {
    const seed = 1;
    const loaded = await runStageForTest(loadCsv, { params: { path: join(DATA_DIR, 'gasoline_nir.csv'), unit: 'nm' } });
    const parts = await runStageForTest(split, { inputs: { spectra: loaded.outputs.spectra! }, params: { train: 0.7, validation: 0, test: 0.3 }, seed });
    const trained = await runStageForTest(trainSpectral, {
      inputs: { train: parts.outputs.train!, test: parts.outputs.test! },
      params: { target: 'octane', epochs: 300, learning_rate: 0.001, batch_size: 16, standardize: true },
      seed,
    });
    // the trivial predictor (training mean) as the yardstick
    const tr = await readSpectra(parts.outputs.train!);
    const te = await readSpectra(parts.outputs.test!);
    const yTrain = tr.columns.octane!.map(Number);
    const yTest = te.columns.octane!.map(Number);
    const mean = yTrain.reduce((a, b) => a + b, 0) / yTrain.length;
    const trivial = yTest.reduce((s, y) => s + Math.abs(y - mean), 0) / yTest.length;
    const top = trained.metrics.top_features as { feature: number; axis: number; score: number }[];
    console.log(`gasoline: train_mae ${trained.metrics.train_mae}, test_mae ${trained.metrics.test_mae} (training-mean predictor ${trivial.toFixed(3)}); `
      + `top wavelengths (nm): ${top.map((t) => t.axis).join(', ')}`);
    expect(trained.metrics.test_mae as number).toBeLessThan(trivial);
    expect(top).toHaveLength(10);
    for (const t of top) expect(t.axis).toBeGreaterThanOrEqual(900), expect(t.axis).toBeLessThanOrEqual(1700);

    const ranked = await runStageForTest(rankFeatures, {
      inputs: { model: trained.outputs.model!, ranking: trained.outputs.relevance!, test: parts.outputs.test! },
      params: { random_draws: 5, permutation_repeats: 3 },
      seed,
    });
    const rows = (await readRecords(ranked.outputs.curve!)).rows as { k: number; metric: string; ranking: number; random: number; permutation: number }[];
    console.log('gasoline MAE vs k:\n' + rows.map((r) => `  k=${r.k}: spectral ${r.ranking.toFixed(3)}  random ${r.random.toFixed(3)}  permutation ${r.permutation.toFixed(3)}`).join('\n')
      + `\n  k_95 ${ranked.metrics.k_95}, random ${ranked.metrics.k_95_random}, permutation ${ranked.metrics.k_95_permutation}`);
    expect(ranked.metrics.ahead_of_random).toBe(true);
    expect(rows.length).toBeGreaterThan(20);
    expect(rows.at(-1)!.k).toBe(401);
    expect(rows[0]!.metric).toBe('mae');
    expect(rows.at(-1)!.ranking).toBeCloseTo(trained.metrics.test_mae as number, 4);
    expect(ranked.metrics.full_mae).toBeCloseTo(trained.metrics.test_mae as number, 4);
  });
});
