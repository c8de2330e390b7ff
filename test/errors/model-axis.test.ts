/** Issue 17 item 5: a model applied to spectra on another axis (same channel count) is refused, naming both axes. */
import { describe, expect, it } from 'vitest';
import { StageError } from '../../src/core/stage-api.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { encode, reconstruct } from '../../src/stages/encode.js';
import { axisMismatch } from '../../src/stages/model-axis.js';
import { syntheticEels, syntheticRaman } from '../../src/stages/synthetic.js';
import { trainPcaStage } from '../../src/stages/train-pca.js';

describe('axis check', () => {
  it('compares units and values to half a channel', () => {
    expect(axisMismatch({ values: [1, 2, 3], unit: 'eV' }, { values: [1, 2, 3], unit: 'eV' })).toBeUndefined();
    expect(axisMismatch({ values: [1, 2, 3], unit: 'eV' }, { values: [1.4, 2.4, 3.4], unit: 'eV' })).toBeUndefined();
    expect(axisMismatch({ values: [1, 2, 3], unit: 'eV' }, { values: [1, 2.6, 3], unit: 'eV' })).toMatch(/channel 2/);
    expect(axisMismatch({ values: [1, 2, 3], unit: 'eV' }, { values: [1, 2, 3], unit: 'cm-1' })).toBe('units differ');
  });

  it('PCA trained on EELS 690–740 eV refuses Raman 400–1800 cm⁻¹ of the same channel count, unless allowed', async () => {
    const eels = (await runStageForTest(syntheticEels, { params: { phases: 2, per_class: 5, channels: 32 }, seed: 1 })).outputs.spectra!;
    const raman = (await runStageForTest(syntheticRaman, { params: { classes: 2, per_class: 5, channels: 32 }, seed: 1 })).outputs.spectra!;
    const pca = (await runStageForTest(trainPcaStage, { params: { latent_dim: 2 }, inputs: { spectra: eels } })).outputs.model!;
    for (const def of [encode, reconstruct]) {
      const run = runStageForTest(def, { inputs: { model: pca, spectra: raman } });
      await expect(run).rejects.toThrow(StageError);
      const message = await run.then(() => "", (e: Error) => e.message);
      expect(message).toMatch(/trained on energy loss 690–740 eV \(32 channels\), but the spectra are on Raman shift 400–1800 cm-1 \(32 channels\) \(units differ\).*allow_axis_mismatch: true/);
    }
    const allowed = await runStageForTest(encode, { params: { allow_axis_mismatch: true }, inputs: { model: pca, spectra: raman } });
    expect(allowed.metrics.axis_mismatch).toBe(true);
    expect(allowed.logs.some((l) => l.startsWith('warning: model'))).toBe(true);
    const same = await runStageForTest(encode, { inputs: { model: pca, spectra: eels } });
    expect(same.metrics.axis_mismatch).toBeUndefined();
  });
});
