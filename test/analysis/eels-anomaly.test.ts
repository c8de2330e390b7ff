/**
 * Must show (issue 6): an AE trained on 3 EELS phases flags the held-out 4th (amorphous) at the
 * 99th percentile with recall ≥ 0.95. Run through the real stages:
 * synthetic.eels (normal phases only) → train.autoencoder (dense, latent 4, Poisson loss on counts,
 * target clean) → anomaly (Poisson deviance, threshold from the training spectra) on a fresh
 * synthetic.eels table (another seed) holding all 4 phases with an `anomaly` column.
 *
 * Measured: at dose 50 counts/channel the claim does NOT hold. Poisson noise dominates the
 * reconstruction error: error ratio ≈ 1.1, recall ≈ 0.15. (Against the clean spectra the misfit of
 * the amorphous phase is ≈ 4× that of the normal phases, but the per-channel noise variance, ≈ 50,
 * is ≈ 8× the anomalous misfit; the amorphous phase's L3 edge, 708.3 eV, lies between FeO's and
 * Fe3O4's.) At dose 500 recall is 1.0. Both cases are tested for what they show.
 */
import { describe, expect, it } from 'vitest';
import type { MetricValue } from '../../src/runner/stage-api.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { anomaly } from '../../src/stages/anomaly.js';
import { syntheticEels } from '../../src/stages/synthetic.js';
import { trainAutoencoder } from '../../src/stages/train-autoencoder.js';

async function run(dose: number, seed: number): Promise<Record<string, MetricValue>> {
  const eels = { phases: 4, per_class: 100, channels: 256, dose, anomaly: 'amorphous' };
  const normal = (await runStageForTest(syntheticEels, { params: { ...eels, include_anomaly: false }, seed })).outputs.spectra!;
  const evaluated = (await runStageForTest(syntheticEels, { params: eels, seed: seed + 1000 })).outputs.spectra!;
  const ae = await runStageForTest(trainAutoencoder, {
    inputs: { spectra: normal },
    params: { arch: 'dense', latent_dim: 4, loss: 'poisson', epochs: 40, batch_size: 32, learning_rate: 0.002, denoise: { noise: 'poisson' } },
    seed,
  });
  const r = await runStageForTest(anomaly, { inputs: { model: ae.outputs.model!, normal, spectra: evaluated }, params: { percentile: 99 } });
  const m = r.metrics;
  console.log(`[eels anomaly dose ${dose} seed ${seed}] recall=${(m.recall as number).toFixed(3)} precision=${(m.precision as number).toFixed(3)}`
    + ` f1=${(m.f1 as number).toFixed(3)} error_ratio=${(m.error_ratio as number).toFixed(3)} flagged=${m.flagged} of ${m.n}`);
  return m;
}

describe('EELS anomaly: AE trained on 3 phases, 4th phase (amorphous) held out, 99th percentile', () => {
  it('dose 50: the error ratio is > 1 and detection beats chance, but recall stays far below 0.95 (noise-limited)', async () => {
    const m = await run(50, 1);
    const c = m.confusion as { tp: number; fp: number; fn: number; tn: number };
    expect(m.error_ratio as number).toBeGreaterThan(1);
    expect(m.recall as number).toBeGreaterThan(c.fp / (c.fp + c.tn)); // better than the false-positive rate
  });

  it('dose 500: recall ≥ 0.95', async () => {
    const m = await run(500, 1);
    expect(m.recall as number).toBeGreaterThanOrEqual(0.95);
    expect(m.error_ratio as number).toBeGreaterThan(1.3);
  });
});
