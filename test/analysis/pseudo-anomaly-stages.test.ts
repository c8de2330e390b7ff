import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readRecords, readSpectra, writeLatent } from '../../src/data/arrow-io.js';
import { loadModel, saveModel } from '../../src/ml/model-io.js';
import { trainPca } from '../../src/ml/pca.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { anomaly } from '../../src/stages/anomaly.js';
import { cluster } from '../../src/stages/cluster.js';
import { pseudospectrum } from '../../src/stages/pseudospectrum.js';
import { phaseSpectra, tempDir, writePhaseSpectra } from './helpers.js';

const dir = tempDir();
const PEAKS = [[710, 740], [720], [730, 750]];
const data = phaseSpectra(PEAKS, 15, 0.02, 5);
const paths = { spectra: join(dir, 'spectra.arrow'), codes: join(dir, 'codes.arrow'), model: join(dir, 'pca') };
let z: Float32Array;

beforeAll(async () => {
  await writePhaseSpectra(paths.spectra, data);
  const model = await trainPca(data.spectra, data.n, data.d, { latentDim: 3 });
  await saveModel(model, paths.model);
  z = await model.encode(data.spectra, data.n);
  await writeLatent(paths.codes, { n: data.n, k: 3, ids: data.ids, labels: data.labels, z, columns: {}, metadata: {} });
});

describe('pseudospectrum stage (PCA model)', () => {
  it('a group_by column the groups table lacks is an error at with.group_by, naming its columns', async () => {
    const groups = await runStageForTest(cluster, { inputs: { codes: paths.codes }, params: { k: 3 }, seed: 1 });
    await expect(runStageForTest(pseudospectrum, { inputs: { model: paths.model, codes: paths.codes, groups: groups.outputs.assignments! }, params: { group_by: 'clustr' } }))
      .rejects.toThrow(/^with\.group_by: test:groups has no column "clustr"; its columns: id, label, cluster$/);
  });

  it('decodes each group centroid; for PCA that is the group mean projected on the PCA subspace', async () => {
    const run = await runStageForTest(pseudospectrum, { inputs: { model: paths.model, codes: paths.codes, spectra: paths.spectra } });
    const out = await readSpectra(run.outputs.pseudospectra!);
    expect(Array.from(out.axis)).toEqual(Array.from(data.axis));
    expect(out.axisUnit).toBe('eV');
    expect(out.metadata.source).toBe('test');
    const kinds = ['pseudospectrum', 'mean', 'clean_mean', 'nearest'];
    expect(out.columns.kind).toEqual([...kinds, ...kinds, ...kinds]);
    expect(out.columns.group).toEqual(['phase0', 'phase1', 'phase2'].flatMap((g) => [g, g, g, g]));
    const model = await loadModel(paths.model) as unknown as { mean: Float64Array; components: Float64Array };
    const d = data.d;
    for (let g = 0; g < 3; g++) {
      const members = Array.from({ length: 15 }, (_, r) => g * 15 + r);
      // independent: group mean m_g, projection mean + Σ_c v_c v_cᵀ (m_g − mean)
      const mg = Array.from({ length: d }, (_, j) => members.reduce((s, i) => s + data.spectra[i * d + j]!, 0) / members.length);
      const cg = Array.from({ length: d }, (_, j) => members.reduce((s, i) => s + data.clean[i * d + j]!, 0) / members.length);
      const proj = Array.from(model.mean);
      for (let c = 0; c < 3; c++) {
        const v = model.components.subarray(c * d, (c + 1) * d);
        const dot = v.reduce((s, vj, j) => s + vj * (mg[j]! - model.mean[j]!), 0);
        for (let j = 0; j < d; j++) proj[j]! += dot * v[j]!;
      }
      const row = (kind: string) => out.spectra.subarray(out.ids.indexOf(`phase${g}/${kind}`) * d, (out.ids.indexOf(`phase${g}/${kind}`) + 1) * d);
      row('pseudospectrum').forEach((v, j) => expect(v).toBeCloseTo(proj[j]!, 4));
      row('mean').forEach((v, j) => expect(v).toBeCloseTo(mg[j]!, 5));
      row('clean_mean').forEach((v, j) => expect(v).toBeCloseTo(cg[j]!, 5));
      // nearest: the member whose code is closest to the centroid, by brute force
      const cz = [0, 1, 2].map((c) => members.reduce((s, i) => s + z[i * 3 + c]!, 0) / members.length);
      const dist = (i: number) => [0, 1, 2].reduce((s, c) => s + (z[i * 3 + c]! - cz[c]!) ** 2, 0);
      const nearest = members.reduce((a, b) => (dist(b) < dist(a) ? b : a));
      const ni = out.ids.indexOf(`phase${g}/nearest`);
      expect(out.columns.source_id![ni]).toBe(data.ids[nearest]);
      row('nearest').forEach((v, j) => expect(v).toBe(data.spectra[nearest * d + j]));
    }
    const groups = run.metrics.groups as Record<string, Record<string, unknown>>;
    expect(Object.keys(groups)).toEqual(['phase0', 'phase1', 'phase2']);
    expect(run.metrics.correlation_clean_mean_min as number).toBeGreaterThan(0.99);
    expect(groups.phase0!.n).toBe(15);
    // peaks of the clean mean sit at the phase's peak energies (Gaussians of width 2 eV on a 1 eV grid)
    const peaks = groups.phase2!.peaks as Record<string, number[]>;
    expect([...peaks.clean_mean!].sort((a, b) => a - b)).toEqual([730, 750]);
    expect([...peaks.pseudospectrum!].sort((a, b) => a - b)).toEqual([730, 750]);
    for (const name of ['roughness', 'gini', 'top5_energy']) expect(typeof run.metrics[name]).toBe('number');
    expect(run.metrics.arch).toBe('pca');
  });

  it('uses cluster assignments as groups when given', async () => {
    const cl = await runStageForTest(cluster, { inputs: { codes: paths.codes }, params: { k: 3 } });
    const run = await runStageForTest(pseudospectrum, {
      inputs: { model: paths.model, codes: paths.codes, groups: cl.outputs.assignments!, spectra: paths.spectra },
    });
    expect(Object.keys(run.metrics.groups as object)).toEqual(['0', '1', '2']);
    expect(run.metrics.correlation_mean_min as number).toBeGreaterThan(0.99);
  });

  it('works without spectra (pseudospectra only) and rejects ungroupable input', async () => {
    const run = await runStageForTest(pseudospectrum, { inputs: { model: paths.model, codes: paths.codes } });
    const out = await readSpectra(run.outputs.pseudospectra!);
    expect(out.n).toBe(3);
    const bare = join(dir, 'bare.arrow');
    await writeLatent(bare, { n: data.n, k: 3, ids: data.ids, z, columns: {}, metadata: {} });
    await expect(runStageForTest(pseudospectrum, { inputs: { model: paths.model, codes: bare } })).rejects.toThrow(/nothing to group by/);
  });
});

describe('anomaly stage (PCA model)', () => {
  const normalPath = join(dir, 'normal.arrow');
  const evalPath = join(dir, 'eval.arrow');
  const modelPath = join(dir, 'pca-normal');
  const normal = phaseSpectra(PEAKS.slice(0, 2), 50, 0.02, 8);
  // evaluated: 20 normal spectra of each normal phase + 20 of the held-out phase
  const evaluated = phaseSpectra(PEAKS, 20, 0.02, 9);
  const truth = evaluated.labels.map((l) => l === 'phase2');

  beforeAll(async () => {
    await writePhaseSpectra(normalPath, normal);
    await writePhaseSpectra(evalPath, evaluated, { anomaly: truth });
    await saveModel(await trainPca(normal.spectra, normal.n, normal.d, { latentDim: 2 }), modelPath);
  });

  it('threshold is the 99th percentile (numpy linear) of the normal errors; flags and scores agree', async () => {
    const run = await runStageForTest(anomaly, { inputs: { model: modelPath, normal: normalPath, spectra: evalPath } });
    // independent: reconstruction by the model, MSE and percentile computed here
    const model = await loadModel(modelPath);
    const mse = async (x: Float32Array, n: number) => {
      const rec = await model.decode(await model.encode(x, n), n);
      return Array.from({ length: n }, (_, i) => {
        let s = 0;
        for (let j = 0; j < normal.d; j++) s += (x[i * normal.d + j]! - rec[i * normal.d + j]!) ** 2;
        return s / normal.d;
      });
    };
    const ne = (await mse(normal.spectra, normal.n)).sort((a, b) => a - b);
    const pos = 0.99 * (ne.length - 1);
    const threshold = ne[Math.floor(pos)]! + (pos - Math.floor(pos)) * (ne[Math.ceil(pos)]! - ne[Math.floor(pos)]!);
    expect(run.metrics.threshold).toBeCloseTo(threshold, 9);
    const ee = await mse(evaluated.spectra, evaluated.n);
    const { rows } = await readRecords(run.outputs.scores!);
    expect(Object.keys(rows[0]!)).toEqual(['id', 'label', 'anomaly', 'error', 'flagged']);
    rows.forEach((r, i) => {
      expect(r.error).toBeCloseTo(ee[i]!, 9);
      expect(r.flagged).toBe(ee[i]! > threshold);
    });
    const tp = rows.filter((r, i) => r.flagged && truth[i]).length;
    const fp = rows.filter((r, i) => r.flagged && !truth[i]).length;
    const fn = rows.filter((r, i) => !r.flagged && truth[i]).length;
    expect(run.metrics.flagged).toBe(tp + fp);
    expect(run.metrics.recall).toBeCloseTo(tp / (tp + fn), 12);
    expect(run.metrics.precision).toBeCloseTo(tp / (tp + fp), 12);
    expect(run.metrics.recall).toBe(1); // a phase with a new peak is far outside the normal subspace
    const meanOf = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    expect(run.metrics.error_ratio).toBeCloseTo(meanOf(ee.filter((_, i) => truth[i])) / meanOf(ee.filter((_, i) => !truth[i])), 9);
    expect(run.metrics.error_ratio as number).toBeGreaterThan(10);
  });

  it('takes the truth from anomaly_label, and reports no scores without truth', async () => {
    const plain = join(dir, 'eval-plain.arrow');
    await writePhaseSpectra(plain, evaluated);
    const a = await runStageForTest(anomaly, { inputs: { model: modelPath, normal: normalPath, spectra: plain }, params: { anomaly_label: 'phase2', percentile: 95 } });
    expect(a.metrics.recall).toBe(1);
    expect(typeof a.metrics.f1).toBe('number');
    const b = await runStageForTest(anomaly, { inputs: { model: modelPath, normal: normalPath, spectra: plain } });
    expect(b.metrics.recall).toBeUndefined();
    expect(typeof b.metrics.threshold).toBe('number');
    // 95th percentile threshold is below the 99th
    expect(a.metrics.threshold as number).toBeLessThan(b.metrics.threshold as number);
    // a label no evaluated spectrum has (a typo) scored every spectrum as truly normal: now an error at the parameter
    await expect(runStageForTest(anomaly, { inputs: { model: modelPath, normal: normalPath, spectra: plain }, params: { anomaly_label: 'phase7' } }))
      .rejects.toThrow(/^with\.anomaly_label: no spectrum of test:spectra has label "phase7"; its labels: phase0, phase1, phase2 /);
  });

  it('reports error_ratio as null, not NaN or Infinity, when the normal spectra are reconstructed exactly (error 0)', async () => {
    // identical normal spectra: the PCA mean is the spectrum itself, so their errors are exactly 0
    const flat = phaseSpectra([[720]], 6, 0, 3);
    flat.spectra.set(flat.spectra.subarray(0, flat.d).map(() => 1));
    for (let i = 1; i < flat.n; i++) flat.spectra.copyWithin(i * flat.d, 0, flat.d);
    const flatPath = join(dir, 'flat.arrow');
    const flatModel = join(dir, 'pca-flat');
    await writePhaseSpectra(flatPath, flat);
    await saveModel(await trainPca(flat.spectra, flat.n, flat.d, { latentDim: 1 }), flatModel);
    // every evaluated spectrum anomalous → compared with the normal set's mean error, 0
    const same = await runStageForTest(anomaly, { inputs: { model: flatModel, normal: flatPath, spectra: flatPath }, params: { anomaly_label: 'phase0' } });
    expect(same.metrics.normal_error_mean).toBe(0);
    expect(same.metrics.error_ratio).toBeNull();
    const other = await runStageForTest(anomaly, { inputs: { model: flatModel, normal: flatPath, spectra: evalPath } });
    expect(other.metrics.recall).toBe(1);
  });
});
