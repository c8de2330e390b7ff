/**
 * Stage parameters at their edges: a value that cannot give a right number is a located error
 * (its message starts with the parameter, `with.…`, which the run turns into file:line:col); a
 * degenerate but valid one gives its number and says what happened in a log line.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSpectra, writeSpectra } from '../../src/data/arrow-io.js';
import { executeStage } from '../../src/runner/execute-stage.js';
import { paramPathOf } from '../../src/runner/locate-error.js';
import { validateParams } from '../../src/runner/params.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { loadArrow } from '../../src/stages/load.js';
import { trainAutoencoder } from '../../src/stages/train-autoencoder.js';
import { trainSpectral } from '../../src/stages/train-spectral.js';
import { tempDir } from '../runner/helpers.js';

const dir = tempDir();

/** n spectra × d channels, value(i, j), no clean column. */
async function table(name: string, n: number, d: number, value: (i: number, j: number) => number, labels?: string[]): Promise<string> {
  const path = join(dir, `${name}.arrow`);
  const spectra = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) spectra[i * d + j] = value(i, j);
  await writeSpectra(path, {
    n, d, ids: Array.from({ length: n }, (_, i) => `s${i}`), ...(labels ? { labels } : {}), spectra, axis: Float64Array.from({ length: d }, (_, j) => j),
    axisUnit: '', axisName: '', columns: {}, metadata: {},
  });
  return path;
}

const small = { hidden: [4], latent_dim: 2, epochs: 1 };

describe('the parameter prefix of a run-time error', () => {
  it('reads paths with names and list indices, and nothing else', () => {
    expect(paramPathOf('with.learning_rate: the training loss did not move')).toEqual(['learning_rate']);
    expect(paramPathOf('with.denoise.level: noise: poisson …')).toEqual(['denoise', 'level']);
    expect(paramPathOf('with.steps[1] (smooth): window 21 …')).toEqual(['steps', 1]);
    expect(paramPathOf('with.steps[0] (normalize), spectrum "s1": …')).toEqual(['steps', 0]);
    expect(paramPathOf('data.spectra: only 1 training row')).toBeUndefined();
    expect(paramPathOf('without a level')).toBeUndefined();
  });
});

describe('train.autoencoder', () => {
  it('denoise: poisson without a level on values that are not counts is an error at with.denoise.level', async () => {
    // area-normalised-like values around 1: Poisson(≈1) draws would be the whole signal
    const spectra = await table('fractions', 6, 4, (i, j) => 1 + 0.1 * ((i + j) % 3) + 0.05);
    await expect(runStageForTest(trainAutoencoder, { params: { ...small, denoise: { noise: 'poisson' } }, inputs: { spectra } }))
      .rejects.toThrow(/^with\.denoise\.level: noise: poisson without a level takes the values as counts, but spectrum s0 has 1\.05 at channel 0, not a count/);
    // counts are fine
    const counts = await table('counts', 6, 4, (i, j) => 10 + ((i * 3 + j) % 5));
    const ok = await runStageForTest(trainAutoencoder, { params: { ...small, denoise: { noise: 'poisson' } }, inputs: { spectra: counts } });
    expect(ok.metrics.epochs_run).toBe(1);
  });

  it('refuses spectra that are all the same (it trained to loss 0 and wrote a model of one spectrum)', async () => {
    const spectra = await table('same', 6, 4, (_i, j) => j + 1);
    await expect(runStageForTest(trainAutoencoder, { params: small, inputs: { spectra } }))
      .rejects.toThrow(/^test:spectra: all 6 training spectra are identical: an autoencoder has nothing to learn/);
  });

  it('says when batch_size is cut to the training rows and when latent_dim does not compress', async () => {
    // 10 spectra, validation 0.2 → round(2) held out, 8 to train on; default batch_size 64
    const spectra = await table('ten', 10, 4, (i, j) => Math.sin(i + 2 * j));
    const run = await runStageForTest(trainAutoencoder, { params: { ...small, latent_dim: 4, validation: 0.2 }, inputs: { spectra } });
    expect(run.logs).toContain('batch_size 64 is more than the 8 training spectra (10 less 2 for validation): each epoch is one batch of 8');
    expect(run.logs.some((l) => l.startsWith('latent_dim 4 is not below the 4 input channels: the bottleneck does not compress'))).toBe(true);
    const fits = await runStageForTest(trainAutoencoder, { params: { ...small, batch_size: 8, validation: 0.2 }, inputs: { spectra } });
    expect(fits.logs.filter((l) => l.startsWith('batch_size') || l.startsWith('latent_dim'))).toEqual([]);
  });

  it('threads: auto is sized by the batch the data gives, not by a batch_size above it', async () => {
    const env = { SPECFLOW_THREADS: process.env.SPECFLOW_THREADS, SPECFLOW_BACKEND: process.env.SPECFLOW_BACKEND };
    try {
      delete process.env.SPECFLOW_THREADS;
      process.env.SPECFLOW_BACKEND = 'wasm';
      const { value } = validateParams(trainAutoencoder, { ...small, batch_size: 512 });
      // batch_size 512 alone: min(cores, 4, 512 / 128 rows a dense thread); marked as sized by the batch
      const settled = trainAutoencoder.settle!(value);
      const cores = availableParallelism();
      expect(settled.threads).toBe(Math.min(cores, 4));
      expect(settled.threads_by_batch).toBe(cores > 1 ? true : undefined);
      // an explicit count, or SPECFLOW_THREADS, is not the batch's to change
      expect(trainAutoencoder.settle!({ ...value, threads: 2 }).threads_by_batch).toBeUndefined();
      process.env.SPECFLOW_THREADS = '2';
      expect(trainAutoencoder.settle!(value).threads_by_batch).toBeUndefined();
    } finally {
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    // 20 spectra, validation 0.1 → 2 held out, a batch of 18 rows: far below 128 a thread, so 1 thread
    const spectra = await table('twenty', 20, 4, (i, j) => Math.cos(i * 0.7 + j));
    const { value } = validateParams(trainAutoencoder, { ...small, batch_size: 512 });
    const out = join(dir, 'auto-out');
    const logs: string[] = [];
    const outcome = await executeStage(trainAutoencoder, {
      type: trainAutoencoder.type, id: 'ae', params: { ...value, threads: 2, threads_by_batch: true }, seed: 1, pipelineDir: dir,
      inputs: { spectra: { path: spectra, kind: 'table/spectra', from: 'test.spectra', key: 'k' } },
      outputs: { model: { path: join(out, 'model'), kind: 'model/autoencoder' }, history: { path: join(out, 'history.arrow'), kind: 'table/history' } },
    }, (m) => { if (m.type === 'log') logs.push(m.message); }, new AbortController().signal);
    expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
    expect(logs).toContain('batch_size 512 is more than the 18 training spectra (20 less 2 for validation): each epoch is one batch of 18');
    expect(logs).toContain('threads: auto chose 2 for batch_size 512; the batch of 18 trains on 1');
  });
});

describe('load.arrow of a specflow spectra table', () => {
  it('applies on_nan to it as to any other file (NaN went on into codes, scores and pseudospectra)', async () => {
    // row 3 (s2) has NaN at channel 1
    const path = await table('with-nan', 4, 3, (i, j) => (i === 2 && j === 1 ? NaN : i + j));
    await expect(runStageForTest(loadArrow, { params: { path } }))
      .rejects.toThrow(/^with-nan\.arrow row 3: a non-finite value \(NaN\) in spectrum "s2", channel 1; set on_nan: drop or on_nan: interpolate/);
    const dropped = await runStageForTest(loadArrow, { params: { path, on_nan: 'drop' } });
    const t = await readSpectra(dropped.outputs.spectra!);
    expect(t.ids).toEqual(['s0', 's1', 's3']);
    expect(Array.from(t.spectra)).toEqual([0, 1, 2, 1, 2, 3, 3, 4, 5]);
    // a `clean` column goes with its rows; interpolating would lose it, so that is refused at on_nan
    const withClean = join(dir, 'nan-clean.arrow');
    await writeSpectra(withClean, {
      n: 3, d: 2, ids: ['a', 'b', 'c'], labels: ['x', 'y', 'x'], spectra: Float32Array.from([1, 2, NaN, 4, 5, 6]), clean: Float32Array.from([1, 1, 2, 2, 3, 3]),
      axis: Float64Array.from([10, 20]), axisUnit: 'eV', axisName: 'energy', columns: {}, metadata: {},
    });
    // the same whether the table is read whole or copied batch by batch (large tables)
    const saved = process.env.SPECFLOW_STREAM;
    for (const stream of ['never', 'always']) {
      process.env.SPECFLOW_STREAM = stream;
      try {
        const run = await runStageForTest(loadArrow, { params: { path: withClean, on_nan: 'drop' } });
        const kept = await readSpectra(run.outputs.spectra!);
        expect([kept.ids, kept.labels, Array.from(kept.spectra), Array.from(kept.clean!)], stream).toEqual([['a', 'c'], ['x', 'x'], [1, 2, 5, 6], [1, 1, 3, 3]]);
        expect(run.logs, stream).toContain('dropped 1 spectra with NaN/Inf values (on_nan: drop)');
        expect(run.logs.some((l) => l.endsWith('(streamed)')), stream).toBe(stream === 'always');
      } finally {
        if (saved === undefined) delete process.env.SPECFLOW_STREAM; else process.env.SPECFLOW_STREAM = saved;
      }
    }
    await expect(runStageForTest(loadArrow, { params: { path: withClean, on_nan: 'interpolate' } }))
      .rejects.toThrow(/^with\.on_nan: nan-clean\.arrow is a specflow table with a `clean` column/);
  });
});

describe('train.spectral', () => {
  it('says when batch_size is cut to the training rows', async () => {
    const spectra = await table('labelled', 10, 3, (i, j) => (i % 2) * 2 + j * 0.1 + i * 0.01, Array.from({ length: 10 }, (_, i) => (i % 2 ? 'b' : 'a')));
    const run = await runStageForTest(trainSpectral, { params: { hidden: [4], epochs: 1, test_fraction: 0, batch_size: 64 }, inputs: { spectra } });
    expect(run.logs).toContain('batch_size 64 is more than the 10 training rows: each epoch is one batch of 10');
  });
});
