/**
 * train.spectral and rank.features as stages: ports, parameters, output tables,
 * metrics, errors, registry entries and cheap imports.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runStageForTest } from '../../src/runner/testing.js';
import { validateParams } from '../../src/runner/params.js';
import { syntheticRelevance } from '../../src/stages/synthetic.js';
import { split } from '../../src/stages/split.js';
import { trainSpectral } from '../../src/stages/train-spectral.js';
import { rankFeatures, rankingOrder } from '../../src/stages/rank-features.js';
import { builtinStages } from '../../src/stages/registry.js';
import { readRecords, readSpectra, writeRecords, writeSpectra } from '../../src/data/arrow-io.js';
import { KIND } from '../../src/stages/kinds.js';

const small = { hidden: [16, 8], epochs: 15, learning_rate: 0.003 };
let data: string;
let train: string;
let test: string;

beforeAll(async () => {
  const gen = await runStageForTest(syntheticRelevance, { params: { per_class: 150, delta_mu: [3, 0, 1.5, 0, 0, 0] }, seed: 3 });
  data = gen.outputs.spectra!;
  const parts = await runStageForTest(split, { inputs: { spectra: data }, params: { train: 0.7, validation: 0, test: 0.3 }, seed: 3 });
  train = parts.outputs.train!;
  test = parts.outputs.test!;
});

describe('train.spectral', () => {
  it('declares the issue\'s parameter names, ports and kinds', () => {
    const props = Object.keys((trainSpectral.params as { properties: object }).properties);
    for (const name of ['task', 'target', 'hidden', 'epochs', 'batch_size', 'learning_rate', 'lambda_l2', 'phi_l2']) expect(props).toContain(name);
    expect(trainSpectral.outputs.model!.kind).toBe(KIND.spectral);
    expect(trainSpectral.outputs.relevance!.kind).toBe(KIND.relevance);
    expect(Object.keys(trainSpectral.inputs).sort()).toEqual(['spectra', 'test', 'train']);
    const { value } = validateParams(trainSpectral, {});
    expect(value).toMatchObject({ hidden: [100, 100, 50], lambda_l2: 0.01, phi_l2: 0.0001, batch_size: 32 });
    expect(validateParams(trainSpectral, { lamda_l2: 1 }).errors[0]!.message).toMatch(/did you mean "lambda_l2"/);
    expect(validateParams(trainSpectral, { task: 'cluster' }).errors).toHaveLength(1);
  });

  it('trains on train + test ports: relevance table, metrics, reloadable model', async () => {
    const r = await runStageForTest(trainSpectral, { inputs: { train, test }, params: small, seed: 1 });
    const { rows } = await readRecords(r.outputs.relevance!);
    expect(Object.keys(rows[0]!)).toEqual(['feature', 'axis', 'lambda', 'phi_norm', 'score', 'rank']);
    // the spectral axis travels with the scores, so plots of them can be labelled
    const source = await readSpectra(train);
    const { tableFromIPC } = await import('apache-arrow');
    const { readFileSync } = await import('node:fs');
    const metadata = Object.fromEntries(tableFromIPC(readFileSync(r.outputs.relevance!)).schema.metadata);
    expect(source.axisName).not.toBe('');
    expect(metadata['specflow.axis_name']).toBe(source.axisName);
    expect(metadata['specflow.axis_unit']).toBe(source.axisUnit);
    expect(rows).toHaveLength(6);
    for (const row of rows) expect(row.score as number).toBeCloseTo(Math.abs(row.lambda as number) * (row.phi_norm as number), 6);
    const byRank = [...rows].sort((a, b) => (a.rank as number) - (b.rank as number));
    expect(byRank[0]!.feature).toBe(0); // Δμ = 3
    expect(byRank[1]!.feature).toBe(2); // Δμ = 1.5
    expect(r.metrics.train_accuracy).toBeGreaterThan(0.9);
    expect(r.metrics.test_accuracy).toBeGreaterThan(0.9);
    expect((r.metrics.top_features as { feature: number }[])[0]!.feature).toBe(0);
    expect(existsSync(join(r.outputs.model!, 'config.json'))).toBe(true);
    expect(existsSync(join(r.outputs.model!, 'weights.bin'))).toBe(true);
    expect(r.progress.at(-1)).toMatchObject({ epoch: 15, epochs: 15, fraction: 1 });
  });

  it('same seed → identical model files; a single `spectra` input is split internally', async () => {
    const a = await runStageForTest(trainSpectral, { inputs: { spectra: data }, params: { ...small, epochs: 3 }, seed: 9 });
    const b = await runStageForTest(trainSpectral, { inputs: { spectra: data }, params: { ...small, epochs: 3 }, seed: 9 });
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(join(a.outputs.model!, 'weights.bin')).equals(readFileSync(join(b.outputs.model!, 'weights.bin')))).toBe(true);
    expect(a.metrics.n_train).toBe(240);
    expect(a.metrics.n_test).toBe(60);
  });

  it('regresses on a target column (MAE metrics) and rejects bad inputs', async () => {
    const t = await readSpectra(train);
    const y = Array.from({ length: t.n }, (_, i) => 10 + 2 * t.spectra[i * t.d]!);
    const reg = join(join(train, '..'), 'reg.arrow');
    await writeSpectra(reg, { ...t, columns: { ...t.columns, y } });
    const r = await runStageForTest(trainSpectral, { inputs: { spectra: reg }, params: { ...small, target: 'y', standardize: true }, seed: 2 });
    expect(r.metrics.test_mae).toBeLessThan(1);
    expect(r.metrics.train_mae).toBeDefined();
    await expect(runStageForTest(trainSpectral, { inputs: { spectra: reg }, params: { task: 'regress' } })).rejects.toThrow(/needs `target`/);
    await expect(runStageForTest(trainSpectral, { inputs: { spectra: reg }, params: { target: 'nope' } })).rejects.toThrow(/no column "nope"/);
    await expect(runStageForTest(trainSpectral, { inputs: { spectra: reg, train }, params: {} })).rejects.toThrow(/either/);
    await expect(runStageForTest(trainSpectral, { params: {} })).rejects.toThrow(/no input/);
  });
});

describe('rank.features', () => {
  it('curve table beside random and permutation references, k_95 metrics', async () => {
    const trained = await runStageForTest(trainSpectral, { inputs: { train, test }, params: small, seed: 1 });
    const r = await runStageForTest(rankFeatures, {
      inputs: { model: trained.outputs.model!, ranking: trained.outputs.relevance!, test },
      params: { random_draws: 4, permutation_repeats: 3 },
      seed: 1,
    });
    const { rows } = await readRecords(r.outputs.curve!);
    expect(rows.map((x) => x.k)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Object.keys(rows[0]!)).toEqual(['k', 'fraction', 'metric', 'ranking', 'random', 'random_sd', 'permutation']);
    expect(rows[5]!.ranking).toBeCloseTo(rows[5]!.random as number, 10); // all kept: same model, same data
    expect(r.metrics.full_accuracy).toBeCloseTo(rows[5]!.ranking as number, 5);
    expect(r.metrics.k_95).toBeLessThanOrEqual(2);
    expect(typeof r.metrics.k_95_random).toBe('number');
    expect(r.metrics.ahead_of_random).toBe(true);
    const perm = (await readRecords(r.outputs.permutation!)).rows;
    expect(perm.find((x) => x.rank === 1)!.feature).toBe(0);
    // a k grid out of order is taken in order (k_95 is the smallest k, the area runs left to right);
    // k above the 6 features is left out with a log line; a k given twice is refused at validation
    const unordered = await runStageForTest(rankFeatures, {
      inputs: { model: trained.outputs.model!, ranking: trained.outputs.relevance!, test },
      params: { k: [6, 2, 9], random_draws: 2, permutation_repeats: 1 },
      seed: 1,
    });
    expect((await readRecords(unordered.outputs.curve!)).rows.map((x) => x.k)).toEqual([2, 6]);
    expect(unordered.logs).toContain('k 9 left out: above the 6 features');
    expect(validateParams(rankFeatures, { k: [2, 2] }).errors.map((e) => e.path)).toEqual([['k']]);
  });

  it('accepts any ranking table (feature + rank) and retrains on the kept features', async () => {
    const trained = await runStageForTest(trainSpectral, { inputs: { train, test }, params: small, seed: 1 });
    const ranking = join(join(train, '..'), 'manual-ranking.arrow');
    await writeRecords(ranking, [{ feature: 2, rank: 1 }, { feature: 0, rank: 2 }]);
    const r = await runStageForTest(rankFeatures, {
      inputs: { model: trained.outputs.model!, ranking, test, train },
      params: { retrain: true, k: [1, 2], epochs: 20, random_draws: 2, permutation_repeats: 2 },
      seed: 1,
    });
    const { rows } = await readRecords(r.outputs.curve!);
    expect(rows).toHaveLength(2);
    expect(rows[1]!.ranking as number).toBeGreaterThan(0.85); // features 2 and 0 carry all the signal
    await expect(runStageForTest(rankFeatures, { inputs: { model: trained.outputs.model!, ranking, test }, params: { retrain: true } })).rejects.toThrow(/needs the `train` input/);
  });

  it('rankingOrder: by rank, else by score; unlisted features last; bad tables rejected', () => {
    expect(rankingOrder([{ feature: 1, score: 0.1 }, { feature: 0, score: 0.9 }], 3, 't')).toEqual([0, 1, 2]);
    expect(rankingOrder([{ feature: 2, rank: 1 }, { feature: 0, rank: 2 }], 3, 't')).toEqual([2, 0, 1]);
    expect(() => rankingOrder([{ f: 1, score: 1 }], 3, 't')).toThrow(/no `feature` column/);
    expect(() => rankingOrder([{ feature: 7, score: 1 }], 3, 't')).toThrow(/not a channel index/);
  });
});

describe('registration', () => {
  it('both stages are in the registry', async () => {
    const types = (await builtinStages()).map((s) => s.type);
    expect(types).toContain('train.spectral');
    expect(types).toContain('rank.features');
  });

  it('importing the stage modules loads neither tfjs nor apache-arrow', () => {
    // Checked on the static import graph of the two modules (type-only imports are erased):
    const out = execFileSync(process.execPath, ['-e', `
      const fs = require('fs');
      const seen = new Set(); const heavy = [];
      const walk = (f) => { if (seen.has(f)) return; seen.add(f);
        const src = fs.readFileSync(f, 'utf8');
        for (const m of src.matchAll(/^import\\s+(?!type\\b)[^'"]*['"]([^'"]+)['"]/gm)) {
          const spec = m[1];
          if (spec.startsWith('.')) walk(require('path').resolve(require('path').dirname(f), spec.replace(/\\.js$/, '.ts')));
          else if (/tensorflow|apache-arrow/.test(spec)) heavy.push(f + ' -> ' + spec);
        } };
      walk('src/stages/train-spectral.ts'); walk('src/stages/rank-features.ts');
      console.log(JSON.stringify(heavy));
    `], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([]);
  });
});
