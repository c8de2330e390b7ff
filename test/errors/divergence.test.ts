/** Issue 17 item 1 and 8: a fit that diverges (losses, validation loss or weights) is never published. */
import { describe, expect, it } from 'vitest';
import { StageError, type StageDef } from '../../src/core/stage-api.js';
import { ABSURD_LOSS_FACTOR, checkEpochLosses, checkWeights, TrainingDivergedError } from '../../src/ml/divergence.js';
import { executeStage, nonFiniteMetric } from '../../src/runner/execute-stage.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { syntheticEels, syntheticRelevance } from '../../src/stages/synthetic.js';
import { trainAutoencoder } from '../../src/stages/train-autoencoder.js';
import { trainSpectral } from '../../src/stages/train-spectral.js';
import { writeSpectra, readSpectra } from '../../src/data/arrow-io.js';
import { tempDir } from '../runner/helpers.js';
import { join } from 'node:path';

describe('divergence rule', () => {
  it('non-finite losses, validation losses and weights fail with the epoch and a smaller learning rate', () => {
    expect(() => checkEpochLosses(3, { loss: NaN }, 1, 0.5)).toThrow(/epoch 3: loss is NaN; lower learning_rate \(now 0.5\), e.g. to 0.05/);
    expect(() => checkEpochLosses(1, { loss: 1, val_loss: Infinity }, undefined)).toThrow(/val_loss is Infinity/);
    expect(() => checkWeights(2, [['enc.0.w', new Float32Array([1, NaN])]])).toThrow(/epoch 2: weights "enc.0.w" are no longer finite/);
    expect(() => checkWeights(2, [['w', new Float32Array([1, 2])]])).not.toThrow();
  });

  it('a loss above 1e10 × max(1, first epoch) is absurd; ordinary losses pass', () => {
    expect(ABSURD_LOSS_FACTOR).toBe(1e10);
    expect(() => checkEpochLosses(1, { loss: 1e13 }, undefined)).toThrow(TrainingDivergedError);
    expect(() => checkEpochLosses(5, { loss: 2e10 }, 1)).toThrow(/exceeds 1e\+10/);
    expect(() => checkEpochLosses(5, { loss: 2e10 }, 10)).not.toThrow();
    expect(() => checkEpochLosses(5, { loss: 3.5, val_loss: 4 }, 0.01)).not.toThrow();
  });
});

async function eels(): Promise<string> {
  return (await runStageForTest(syntheticEels, { params: { phases: 2, per_class: 8, channels: 32 }, seed: 1 })).outputs.spectra!;
}

describe('training stages refuse to publish a diverged fit', () => {
  it('dense AE, learning_rate 1e30, one epoch (the issue printed loss 1.03 and published NaN weights)', async () => {
    const spectra = await eels();
    for (const validation of [0, 0.2]) {
      const run = runStageForTest(trainAutoencoder, { params: { latent_dim: 2, hidden: [8], epochs: 1, learning_rate: 1e30, validation }, inputs: { spectra } });
      await expect(run).rejects.toThrow(StageError);
      await expect(run).rejects.toThrow(/training diverged at epoch 1: .*lower learning_rate \(now 1e\+30\)/);
    }
  });

  it('train.spectral with learning_rate 1e30 (relevance ≈ 2.8e60 before) and 1e10 (loss ≈ 5e30) fails', async () => {
    const spectra = (await runStageForTest(syntheticRelevance, { params: { per_class: 30 }, seed: 1 })).outputs.spectra!;
    for (const lr of [1e30, 1e10]) {
      const run = runStageForTest(trainSpectral, { params: { hidden: [8], epochs: 1, learning_rate: lr }, inputs: { spectra } });
      await expect(run).rejects.toThrow(StageError);
      await expect(run).rejects.toThrow(/training diverged at epoch 1/);
    }
    // a sane rate trains
    const ok = await runStageForTest(trainSpectral, { params: { hidden: [8], epochs: 1, learning_rate: 0.01 }, inputs: { spectra } });
    expect(typeof ok.metrics.final_loss).toBe('number');
  });

  it('train.spectral on one class is a user error naming the class, not a stack trace', async () => {
    const spectra = (await runStageForTest(syntheticRelevance, { params: { per_class: 10 }, seed: 1 })).outputs.spectra!;
    const t = await readSpectra(spectra);
    const one = join(tempDir(), 'one.arrow');
    await writeSpectra(one, { ...t, labels: t.labels!.map(() => 'a') });
    const run = runStageForTest(trainSpectral, { params: { hidden: [4], epochs: 1 }, inputs: { spectra: one } });
    await expect(run).rejects.toThrow(StageError);
    await expect(run).rejects.toThrow(/at least 2 classes, but the training rows have only "a"/);
  });
});

describe('a stage whose metrics come out NaN fails', () => {
  const def = (value: number): StageDef => ({
    type: 'test.nan', description: '', inputs: {}, outputs: {}, params: {}, module: import.meta.url,
    async run(ctx) { ctx.metric('mse', value); ctx.metric('nested', { a: [1, value] }); },
  });
  const task = { type: 'test.nan', id: 'rec', params: {}, seed: 0, inputs: {}, outputs: {}, pipelineDir: '.' };

  it('names the metric', async () => {
    const bad = await executeStage(def(NaN), task, () => undefined, new AbortController().signal);
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.user).toBe(true);
      expect(bad.error.message).toMatch(/metric "mse" came out NaN/);
    }
    const good = await executeStage(def(2), task, () => undefined, new AbortController().signal);
    expect(good.ok).toBe(true);
    expect(nonFiniteMetric({ a: { b: [1, Infinity] } })).toEqual({ name: 'a.b[1]', value: Infinity });
  });
});
