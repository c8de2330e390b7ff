import { describe, expect, it } from 'vitest';
import { readLatent, readRecords, readSpectra } from '../../src/data/arrow-io.js';
import { getTf } from '../../src/ml/engine.js';
import { StageError } from '../../src/core/stage-api.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { decode, encode, reconstruct } from '../../src/stages/encode.js';
import { builtinStages } from '../../src/stages/registry.js';
import { syntheticEels } from '../../src/stages/synthetic.js';
import { trainAutoencoder } from '../../src/stages/train-autoencoder.js';
import { trainPcaStage } from '../../src/stages/train-pca.js';

async function smallEels(): Promise<string> {
  const r = await runStageForTest(syntheticEels, { params: { phases: 2, per_class: 16, channels: 60, dose: 50 }, seed: 3 });
  return r.outputs.spectra!;
}

describe('model stages', () => {
  it('are registered', async () => {
    const types = (await builtinStages()).map((s) => s.type);
    for (const t of ['train.autoencoder', 'train.pca', 'encode', 'reconstruct', 'decode']) expect(types).toContain(t);
  });

  it('train.autoencoder (conv1d) → encode, reconstruct, decode; no tensors left behind', async () => {
    const spectra = await smallEels();
    const { tf } = await getTf();
    const before = tf.memory().numTensors;
    const ae = await runStageForTest(trainAutoencoder, {
      params: { arch: 'conv1d', latent_dim: 3, filters: [4, 8], kernels: [5, 3], epochs: 3, batch_size: 8, loss: 'poisson', denoise: { noise: 'poisson' } },
      inputs: { spectra },
      seed: 1,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(ae.metrics.epochs_run).toBe(3);
    expect(ae.metrics.backend).toMatch(/node|wasm|cpu/);
    expect(typeof ae.metrics.val_loss).toBe('number');
    expect(ae.progress.map((p) => p.epoch)).toEqual([1, 2, 3]);
    expect(ae.progress.every((p) => p.epochs === 3 && Number.isFinite(p.loss) && Number.isFinite(p.val_loss))).toBe(true);
    const hist = await readRecords(ae.outputs.history!);
    expect(hist.rows.map((r) => r.epoch)).toEqual([1, 2, 3]);

    const codes = await runStageForTest(encode, { inputs: { model: ae.outputs.model!, spectra } });
    const z = await readLatent(codes.outputs.codes!);
    expect([z.n, z.k]).toEqual([32, 3]);
    expect(z.labels?.length).toBe(32);

    const rec = await runStageForTest(reconstruct, { inputs: { model: ae.outputs.model!, spectra } });
    const r = await readSpectra(rec.outputs.reconstruction!);
    const res = await readSpectra(rec.outputs.residuals!);
    const orig = await readSpectra(spectra);
    expect([r.n, r.d]).toEqual([32, 60]);
    expect(r.columns.error!.every((e) => typeof e === 'number' && e >= 0)).toBe(true);
    expect(r.columns.error_clean).toBeDefined();
    for (const i of [0, 100, 1919]) expect(res.spectra[i]).toBeCloseTo(orig.spectra[i]! - r.spectra[i]!, 3);
    for (const m of ['mse', 'mse_clean', 'mse_noisy_vs_clean', 'poisson_deviance']) expect(typeof rec.metrics[m]).toBe('number');

    const dec = await runStageForTest(decode, { inputs: { model: ae.outputs.model!, codes: codes.outputs.codes! } });
    const xd = await readSpectra(dec.outputs.spectra!);
    expect([xd.n, xd.d]).toEqual([32, 60]);
    expect(Array.from(xd.axis)).toEqual(Array.from(orig.axis));
    // decode(encode(x)) is the reconstruction
    for (const i of [0, 500, 1919]) expect(xd.spectra[i]).toBeCloseTo(r.spectra[i]!, 4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('arch: pca trains exactly train.pca', async () => {
    const spectra = await smallEels();
    const a = await runStageForTest(trainAutoencoder, { params: { arch: 'pca', latent_dim: 4 }, inputs: { spectra } });
    const b = await runStageForTest(trainPcaStage, { params: { latent_dim: 4 }, inputs: { spectra } });
    const za = await readLatent((await runStageForTest(encode, { inputs: { model: a.outputs.model!, spectra } })).outputs.codes!);
    const zb = await readLatent((await runStageForTest(encode, { inputs: { model: b.outputs.model!, spectra } })).outputs.codes!);
    expect(Array.from(za.z)).toEqual(Array.from(zb.z));
    const v = await readRecords(b.outputs.variance!);
    expect(v.rows.map((r) => r.component)).toEqual([1, 2, 3, 4]);
    const ev = v.rows.map((r) => r.explained_variance as number);
    expect(ev[0]!).toBeGreaterThanOrEqual(ev[1]!);
    expect(v.rows[3]!.cumulative).toBeCloseTo(ev.reduce((s, x) => s + x, 0), 10);
  });

  it('reports user errors as StageErrors', async () => {
    const spectra = await smallEels();
    await expect(runStageForTest(trainAutoencoder, { params: { arch: 'conv1d', filters: [4, 8], kernels: [5] }, inputs: { spectra } }))
      .rejects.toBeInstanceOf(StageError);
    await expect(runStageForTest(trainPcaStage, { params: { latent_dim: 500 }, inputs: { spectra } })).rejects.toThrow(/exceeds/);
    const other = (await runStageForTest(syntheticEels, { params: { phases: 2, per_class: 4, channels: 32 }, seed: 1 })).outputs.spectra!;
    const pca = await runStageForTest(trainPcaStage, { params: { latent_dim: 2 }, inputs: { spectra } });
    await expect(runStageForTest(encode, { inputs: { model: pca.outputs.model!, spectra: other } })).rejects.toThrow(/32 channels but model/);
  });
});
