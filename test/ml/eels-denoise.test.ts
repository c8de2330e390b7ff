/**
 * The science check, through the stages: on synthetic.eels (4 phases × 100 spectra,
 * dose 50 counts/channel, Poisson noise; `clean` = expected counts) a denoising autoencoder with
 * k = 4 reconstructs the clean spectra better than PCA with 4 components, and both beat the raw
 * noisy input. The measured ratios are printed so they can be quoted.
 */
import { describe, expect, it } from 'vitest';
import { runStageForTest } from '../../src/runner/testing.js';
import { reconstruct } from '../../src/stages/encode.js';
import { syntheticEels } from '../../src/stages/synthetic.js';
import { trainAutoencoder } from '../../src/stages/train-autoencoder.js';
import { trainPcaStage } from '../../src/stages/train-pca.js';

describe('denoising on synthetic EELS (4 phases × 100, dose 50)', () => {
  it('AE (k=4) < PCA (k=4) < noisy input in MSE against the clean spectra', async () => {
    const data = await runStageForTest(syntheticEels, { params: { phases: 4, per_class: 100, dose: 50 }, seed: 7 });
    const spectra = data.outputs.spectra!;

    const pca = await runStageForTest(trainPcaStage, { params: { latent_dim: 4 }, inputs: { spectra }, seed: 7 });
    const pcaRec = await runStageForTest(reconstruct, { inputs: { model: pca.outputs.model!, spectra }, seed: 7 });

    const ae = await runStageForTest(trainAutoencoder, {
      params: { arch: 'dense', latent_dim: 4, epochs: 60, batch_size: 32, learning_rate: 0.002, patience: 15, denoise: { noise: 'poisson' } },
      inputs: { spectra },
      seed: 7,
    });
    const aeRec = await runStageForTest(reconstruct, { inputs: { model: ae.outputs.model!, spectra }, seed: 7 });
    // held out: fresh spectra of the same phases (another seed), seen by neither model
    const fresh = (await runStageForTest(syntheticEels, { params: { phases: 4, per_class: 100, dose: 50 }, seed: 8 })).outputs.spectra!;
    const aeTest = await runStageForTest(reconstruct, { inputs: { model: ae.outputs.model!, spectra: fresh } });
    const pcaTest = await runStageForTest(reconstruct, { inputs: { model: pca.outputs.model!, spectra: fresh } });

    const noisy = aeRec.metrics.mse_noisy_vs_clean as number;
    const mseAe = aeRec.metrics.mse_clean as number;
    const msePca = pcaRec.metrics.mse_clean as number;
    expect(pcaRec.metrics.mse_noisy_vs_clean).toBe(noisy);
    console.log(
      `EELS denoising, MSE vs clean (training spectra): noisy input ${noisy.toFixed(3)}, PCA(4) ${msePca.toFixed(3)}, dense AE(4) ${mseAe.toFixed(3)}\n`
      + `  AE/PCA = ${(mseAe / msePca).toFixed(3)} (${(100 * (1 - mseAe / msePca)).toFixed(1)} % below PCA), `
      + `AE/noisy = ${(mseAe / noisy).toFixed(3)} (${(100 * (1 - mseAe / noisy)).toFixed(1)} % below), `
      + `PCA/noisy = ${(msePca / noisy).toFixed(3)}; AE ${String(ae.metrics.epochs_run)} epochs, ${(ae.metrics.seconds as number).toFixed(1)} s on ${String(ae.metrics.backend)}`,
    );
    const noisyT = aeTest.metrics.mse_noisy_vs_clean as number;
    const aeT = aeTest.metrics.mse_clean as number;
    const pcaT = pcaTest.metrics.mse_clean as number;
    console.log(
      `  held-out spectra (seed 8): noisy ${noisyT.toFixed(3)}, PCA(4) ${pcaT.toFixed(3)}, AE(4) ${aeT.toFixed(3)}; `
      + `AE/PCA = ${(aeT / pcaT).toFixed(3)} (${(100 * (1 - aeT / pcaT)).toFixed(1)} % below PCA), AE/noisy = ${(aeT / noisyT).toFixed(3)}, PCA/noisy = ${(pcaT / noisyT).toFixed(3)}`,
    );
    // fresh noise drawn from `clean` every epoch (level calibrated on spectrum − clean): no memorised noise
    const ae2 = await runStageForTest(trainAutoencoder, {
      params: { arch: 'dense', latent_dim: 4, epochs: 80, batch_size: 32, learning_rate: 0.002, patience: 20, denoise: { noise: 'poisson', resample: true } },
      inputs: { spectra },
      seed: 7,
    });
    const ae2Rec = await runStageForTest(reconstruct, { inputs: { model: ae2.outputs.model!, spectra } });
    const ae2Test = await runStageForTest(reconstruct, { inputs: { model: ae2.outputs.model!, spectra: fresh } });
    const ae2T = ae2Test.metrics.mse_clean as number;
    console.log(
      `  with denoise.resample (${String(ae2.metrics.epochs_run)} epochs, ${(ae2.metrics.seconds as number).toFixed(1)} s): training spectra AE(4) ${(ae2Rec.metrics.mse_clean as number).toFixed(3)}, `
      + `held-out AE(4) ${ae2T.toFixed(3)}; AE/PCA = ${(ae2T / pcaT).toFixed(3)} (${(100 * (1 - ae2T / pcaT)).toFixed(1)} % below PCA), AE/noisy = ${(ae2T / noisyT).toFixed(3)}`,
    );
    expect(ae2T).toBeLessThan(pcaT);
    expect(mseAe).toBeLessThan(msePca);
    expect(msePca).toBeLessThan(noisy);
    expect(aeT).toBeLessThan(pcaT);
    expect(pcaT).toBeLessThan(noisyT);
  });
});
