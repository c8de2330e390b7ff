/** Issue 17 item 6: sign flips, silent clamping and empty splits are said out loud. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StageError } from '../../src/core/stage-api.js';
import { writeSpectra, type SpectraTable } from '../../src/data/arrow-io.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { preprocess } from '../../src/stages/preprocess.js';
import { split } from '../../src/stages/split.js';
import { tempDir } from '../runner/helpers.js';

async function table(rows: number[][]): Promise<string> {
  const d = rows[0]!.length;
  const t: SpectraTable = {
    n: rows.length, d, ids: rows.map((_, i) => `s${i}`), labels: rows.map((_, i) => (i % 2 ? 'a' : 'b')),
    spectra: Float32Array.from(rows.flat()), axis: Float64Array.from({ length: d }, (_, i) => i), axisUnit: 'eV', axisName: 'energy',
    columns: {}, metadata: {},
  };
  const path = join(tempDir(), 't.arrow');
  await writeSpectra(path, t);
  return path;
}

describe('preprocess', () => {
  it('area or max normalisation of a negative spectrum is an error naming the spectrum, not a silent sign flip', async () => {
    const spectra = await table([[1, 2, 3], [-1, -2, -3]]);
    for (const method of ['area', 'max']) {
      const run = runStageForTest(preprocess, { params: { steps: [{ normalize: { method } }] }, inputs: { spectra } });
      await expect(run).rejects.toThrow(StageError);
      await expect(run).rejects.toThrow(/s1.*is negative .*flip the spectrum's sign/);
    }
    // a spectrum that dips below zero but has a positive area/maximum keeps its sign
    const ok = await runStageForTest(preprocess, { params: { steps: [{ normalize: { method: 'area' } }] }, inputs: { spectra: await table([[-1, 2, 3]]) } });
    expect(ok.outputs.spectra).toBeDefined();
  });

  it('anscombe counts the values it clamps below −3/8, in the log and a metric', async () => {
    const r = await runStageForTest(preprocess, { params: { steps: ['anscombe'] }, inputs: { spectra: await table([[1, -1, -2], [0, 0, -0.375]]) } });
    expect(r.metrics.anscombe_clamped).toBe(2);
    expect(r.logs.some((l) => /warning: anscombe clamped 2 values/.test(l))).toBe(true);
    const clean = await runStageForTest(preprocess, { params: { steps: ['anscombe'] }, inputs: { spectra: await table([[1, 2, 3]]) } });
    expect(clean.metrics.anscombe_clamped).toBe(0);
  });
});

describe('split', () => {
  it('refuses a split that leaves a requested part empty (2 rows, test 0.2)', async () => {
    const spectra = await table([[1, 2], [3, 4]]);
    const run = runStageForTest(split, { params: { train: 0.8, validation: 0, test: 0.2, stratify: false }, inputs: { spectra } });
    await expect(run).rejects.toThrow(/^with\.test: 0.2 of 2 spectra rounds to none, so the test set would be empty/);
    const ok = await runStageForTest(split, { params: { train: 0.5, validation: 0, test: 0.5, stratify: false }, inputs: { spectra } });
    expect([ok.metrics.train, ok.metrics.test]).toEqual([1, 1]);
  });
});
