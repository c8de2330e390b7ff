/**
 * Must show (issue 6) on synthetic.eels, 4 phases × 100 spectra, dose 50/channel, run through
 * the real stages exactly as pipelines/eels-phases.yaml wires them:
 * synthetic.eels → preprocess (crop, area) → train.autoencoder (dense, latent 4, denoising:
 * input spectrum, target clean) → encode → cluster (k: auto) → pseudospectrum.
 * Claims: k: auto picks 4 clusters with ARI ≥ 0.9; each phase's pseudospectrum correlates
 * ≥ 0.95 with its clean mean spectrum. Measured values are printed.
 *
 * Robustness, measured over seeds 1–8 with these settings (EELS_SEEDS=1,2,3,4,5,6,7,8):
 *   k-means by silhouette picks k = 4 for 6 of 8 seeds (ARI ≥ 0.96; silhouette 0.64–0.67, the course
 *     reports ≈ 0.73); for seeds 5 and 7 it picks k = 2, whose silhouette beats k = 4's by ≤ 0.01.
 *   Gaussian mixture (full covariance) by BIC over k = 1..7 picks k = 4 for 5 of 8 seeds, 5–7 for the
 *     others (ARI 0.81–0.96 there): BIC splits the elongated phase clusters (thickness and energy
 *     jitter) into extra components.
 *   Pseudospectrum vs clean phase mean: r ≥ 0.999 for every phase and seed.
 * The test runs seeds 1, 2 and 3 and asserts the claims there (for the mixture: ARI ≥ 0.9 and 4–5 components).
 */
import { describe, expect, it } from 'vitest';
import { runStageForTest } from '../../src/runner/testing.js';
import { cluster } from '../../src/stages/cluster.js';
import { encode } from '../../src/stages/encode.js';
import { preprocess } from '../../src/stages/preprocess.js';
import { pseudospectrum } from '../../src/stages/pseudospectrum.js';
import { syntheticEels } from '../../src/stages/synthetic.js';
import { trainAutoencoder } from '../../src/stages/train-autoencoder.js';

/** More seeds: EELS_SEEDS=1,2,3,4,5,6 npx vitest run test/analysis/eels-phases.test.ts */
const SEEDS = (process.env.EELS_SEEDS ?? '1,2,3').split(',').map(Number);

describe.each(SEEDS)('EELS phases, seed %i: denoising dense AE (latent 4) → cluster → pseudospectra', (seed) => {
  it('k: auto picks 4 (k-means; the mixture 4–5), ARI ≥ 0.9; pseudospectra correlate ≥ 0.95 with the clean phase means', async () => {
    const data = await runStageForTest(syntheticEels, { params: { phases: 4, per_class: 100, channels: 256, dose: 50 }, seed });
    const clean = await runStageForTest(preprocess, {
      inputs: { spectra: data.outputs.spectra! },
      params: { steps: [{ crop: { min: 690, max: 740 } }, { normalize: { method: 'area' } }] },
      seed,
    });
    const spectra = clean.outputs.spectra!;
    const ae = await runStageForTest(trainAutoencoder, {
      inputs: { spectra },
      params: { arch: 'dense', latent_dim: 4, epochs: 40, batch_size: 32, learning_rate: 0.002, denoise: { noise: 'poisson' } },
      seed,
    });
    const model = ae.outputs.model!;
    const codes = (await runStageForTest(encode, { inputs: { model, spectra }, seed })).outputs.codes!;
    const cl = await runStageForTest(cluster, { inputs: { codes }, params: { method: 'kmeans', k: 'auto' }, seed });
    const gm = await runStageForTest(cluster, { inputs: { codes }, params: { method: 'gmm', k: 'auto', covariance: 'full' }, seed });
    const ps = await runStageForTest(pseudospectrum, { inputs: { model, codes, spectra } });
    const psClusters = await runStageForTest(pseudospectrum, { inputs: { model, codes, groups: cl.outputs.assignments!, spectra } });

    const perPhase = Object.fromEntries(Object.entries(ps.metrics.groups as Record<string, { correlation_clean_mean: number }>)
      .map(([g, m]) => [g, Number(m.correlation_clean_mean.toFixed(4))]));
    const sil = Object.entries(cl.metrics.silhouette_by_k as Record<string, number>).map(([k, v]) => `${k}:${v.toFixed(3)}`).join(' ');
    console.log(`[eels seed ${seed}] epochs=${ae.metrics.epochs_run} k=${cl.metrics.k} ari=${(cl.metrics.ari as number).toFixed(3)}`
      + ` nmi=${(cl.metrics.nmi as number).toFixed(3)} silhouette=${(cl.metrics.silhouette as number).toFixed(3)} (by k ${sil})`
      + ` | gmm k=${gm.metrics.k} ari=${(gm.metrics.ari as number).toFixed(3)}`
      + ` pseudo-vs-clean-mean r=${JSON.stringify(perPhase)} (cluster groups: min r=${(psClusters.metrics.correlation_clean_mean_min as number).toFixed(4)})`);
    expect(cl.metrics.k).toBe(4);
    expect(cl.metrics.ari as number).toBeGreaterThanOrEqual(0.9);
    expect(gm.metrics.k as number).toBeGreaterThanOrEqual(4);
    expect(gm.metrics.k as number).toBeLessThanOrEqual(5);
    expect(gm.metrics.ari as number).toBeGreaterThanOrEqual(0.9);
    expect(typeof cl.metrics.silhouette).toBe('number');
    expect(Object.keys(perPhase)).toHaveLength(4);
    expect(ps.metrics.correlation_clean_mean_min as number).toBeGreaterThanOrEqual(0.95);
    expect(psClusters.metrics.correlation_clean_mean_min as number).toBeGreaterThanOrEqual(0.95);
  });
});
