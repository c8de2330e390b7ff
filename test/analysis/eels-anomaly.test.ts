/**
 * Must show (issue 6): an AE trained on 3 EELS phases flags the held-out 4th at the 99th
 * percentile with recall ≥ 0.95 (4 phases × 100 spectra, dose 50/channel). Run through the real
 * stages: synthetic.eels (normal phases only) → train.autoencoder (dense, Poisson loss on counts,
 * target clean) → anomaly (Poisson deviance, threshold from the training spectra) on a fresh
 * synthetic.eels table (another seed) holding all 4 phases with an `anomaly` column.
 *
 * The held-out phase is hematite (Fe2O3), the Fe³⁺ end member: highest L3 energy, strongest white
 * lines, outside what FeO, Fe3O4 and the amorphous oxide can be mixed into. The bottleneck is 2,
 * the dimension of the simplex the three normal phases span; with 4 the decoder learns to draw
 * more than the normal phases (seed 1: recall 0.90 at latent 4, 1.0 at latent 2).
 * Measured over seeds 1–6: recall 0.95–1.0, error ratio 1.55–1.71 (Poisson noise is most of every
 * spectrum's error at 50 counts/channel, so the ratio cannot approach the course's ≈ 25×; against
 * the clean spectra the hematite misfit is ≈ 20× the normal one).
 * The amorphous phase held out instead is NOT found at dose 50 (recall ≈ 0.5): its broad L3 at
 * 708.3 eV lies between FeO's and Fe3O4's. At dose 500 it is; that case is tested too.
 */
import { describe, expect, it } from 'vitest';
import type { MetricValue } from '../../src/core/stage-api.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { anomaly } from '../../src/stages/anomaly.js';
import { syntheticEels } from '../../src/stages/synthetic.js';
import { trainAutoencoder } from '../../src/stages/train-autoencoder.js';

async function run(held: string, dose: number, seed: number, latent: number): Promise<Record<string, MetricValue>> {
  const eels = { phases: 4, per_class: 100, channels: 256, dose, anomaly: held };
  const normal = (await runStageForTest(syntheticEels, { params: { ...eels, include_anomaly: false }, seed })).outputs.spectra!;
  const evaluated = (await runStageForTest(syntheticEels, { params: eels, seed: seed + 1000 })).outputs.spectra!;
  const ae = await runStageForTest(trainAutoencoder, {
    inputs: { spectra: normal },
    params: { arch: 'dense', latent_dim: latent, loss: 'poisson', epochs: 40, batch_size: 32, learning_rate: 0.002, denoise: { noise: 'poisson' } },
    seed,
  });
  const r = await runStageForTest(anomaly, { inputs: { model: ae.outputs.model!, normal, spectra: evaluated }, params: { percentile: 99 } });
  const m = r.metrics;
  console.log(`[eels anomaly ${held} held out, dose ${dose}, latent ${latent}, seed ${seed}] recall=${(m.recall as number).toFixed(3)} precision=${(m.precision as number).toFixed(3)}`
    + ` f1=${(m.f1 as number).toFixed(3)} error_ratio=${(m.error_ratio as number).toFixed(3)} flagged=${m.flagged} of ${m.n}`);
  return m;
}

/** More seeds: ANOMALY_SEEDS=1,2,3,4,5,6 npx vitest run test/analysis/eels-anomaly.test.ts */
const SEEDS = (process.env.ANOMALY_SEEDS ?? '1,2,3').split(',').map(Number);

describe('EELS anomaly: AE trained on 3 phases, the 4th held out, 99th percentile', () => {
  it.each(SEEDS)('dose 50, hematite held out, seed %i: recall ≥ 0.95, error ratio > 1.3', async (seed) => {
    const m = await run('Fe2O3', 50, seed, 2);
    expect(m.recall as number).toBeGreaterThanOrEqual(0.95);
    expect(m.error_ratio as number).toBeGreaterThan(1.3);
    // the threshold is the 99th percentile of in-sample errors: few normal spectra are flagged
    const c = m.confusion as { tp: number; fp: number; fn: number; tn: number };
    expect(c.fp / (c.fp + c.tn)).toBeLessThan(0.1);
  });

  it('dose 500, the intermediate amorphous phase held out: recall ≥ 0.95', async () => {
    const m = await run('amorphous', 500, 1, 2);
    expect(m.recall as number).toBeGreaterThanOrEqual(0.95);
    expect(m.error_ratio as number).toBeGreaterThan(1.3);
  });
});
