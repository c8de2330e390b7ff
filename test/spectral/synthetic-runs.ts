/** Seed-averaged relevance scores of train.spectral on a synthetic generator (shared by the paper tests). */
import { runStageForTest } from '../../src/runner/testing.js';
import { trainSpectral } from '../../src/stages/train-spectral.js';
import { readRecords } from '../../src/data/arrow-io.js';
import type { StageDef } from '../../src/core/stage-api.js';

/** Scores normalised by each run's largest score, then averaged over the seeds. */
export async function meanScores(generator: StageDef, genParams: Record<string, unknown>, seeds: number[], train: Record<string, unknown>): Promise<{ mean: number[]; runs: number[][]; acc: number[] }> {
  const runs: number[][] = [];
  const acc: number[] = [];
  for (const seed of seeds) {
    const data = await runStageForTest(generator, { params: genParams, seed });
    const r = await runStageForTest(trainSpectral, { inputs: { spectra: data.outputs.spectra! }, params: train, seed });
    const rows = (await readRecords(r.outputs.relevance!)).rows.sort((a, b) => (a.feature as number) - (b.feature as number));
    const s = rows.map((x) => x.score as number);
    const max = Math.max(...s);
    runs.push(s.map((v) => v / max));
    acc.push(r.metrics.test_accuracy as number);
  }
  const mean = runs[0]!.map((_, j) => runs.reduce((t, r) => t + r[j]!, 0) / runs.length);
  return { mean, runs, acc };
}
