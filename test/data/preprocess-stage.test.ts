import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStageForTest } from '../../src/runner/testing.js';
import { readSpectra, writeSpectra, type SpectraTable } from '../../src/data/arrow-io.js';
import { preprocess } from '../../src/stages/preprocess.js';

const dir = mkdtempSync(join(tmpdir(), 'specflow-pre-'));

function table(rows: number[][], axis: number[], clean?: number[][]): SpectraTable {
  const d = axis.length;
  const t: SpectraTable = {
    n: rows.length, d,
    ids: rows.map((_, i) => `s${i}`),
    labels: rows.map((_, i) => (i % 2 ? 'b' : 'a')),
    spectra: Float32Array.from(rows.flat()),
    axis: Float64Array.from(axis), axisUnit: 'nm', axisName: 'wavelength',
    columns: { temp: rows.map((_, i) => 20 + i) },
    metadata: { source: 'test' },
  };
  if (clean) t.clean = Float32Array.from(clean.flat());
  return t;
}

async function write(name: string, t: SpectraTable): Promise<string> {
  const p = join(dir, name);
  await writeSpectra(p, t);
  return p;
}

async function run(params: Record<string, unknown>, inputs: Record<string, string>) {
  const r = await runStageForTest(preprocess, { params, inputs });
  return readSpectra(r.outputs.spectra!);
}

const row = (t: SpectraTable, i: number, which: 'spectra' | 'clean' = 'spectra') => Array.from(t[which]!.subarray(i * t.d, (i + 1) * t.d));

describe('preprocess stage', () => {
  it('crops and area-normalises spectrum and clean alike, keeping ids, labels, columns', async () => {
    const input = await write('a.arrow', table([[9, 1, 3, 3, 1, 9], [9, 2, 6, 6, 2, 9]], [0, 1, 2, 3, 4, 5], [[0, 1, 2, 2, 1, 0], [0, 2, 2, 2, 2, 0]]));
    const t = await run({ steps: [{ crop: { min: 1, max: 4 } }, { normalize: { method: 'area' } }] }, { spectra: input });
    expect(Array.from(t.axis)).toEqual([1, 2, 3, 4]);
    // over the span 1..4 (3): trapezoid of [1,3,3,1] is 7, of [2,6,6,2] is 14; clean [1,2,2,1] → 5, [2,2,2,2] → 6
    expect(row(t, 0)).toEqual([1, 3, 3, 1].map((v) => Math.fround((3 * v) / 7)));
    expect(row(t, 1)).toEqual([2, 6, 6, 2].map((v) => Math.fround((3 * v) / 14)));
    expect(row(t, 0, 'clean')).toEqual([1, 2, 2, 1].map((v) => Math.fround((3 * v) / 5)));
    expect(row(t, 1, 'clean')).toEqual([2, 2, 2, 2].map((v) => Math.fround((3 * v) / 6)));
    expect(t.ids).toEqual(['s0', 's1']);
    expect(t.labels).toEqual(['a', 'b']);
    expect(t.columns.temp).toEqual([20, 21]);
    expect(t.metadata.source).toBe('test');
    expect(JSON.parse(t.metadata.preprocess!)).toEqual([{ crop: { min: 1, max: 4 } }, { normalize: { method: 'area' } }]);
  });

  it('standardize uses the fit set\'s per-channel mean and sd, for spectrum and clean alike', async () => {
    const fit = await write('fit.arrow', table([[1, 2], [3, 6]], [0, 1]));
    const data = await write('data.arrow', table([[5, 0], [2, 4]], [0, 1], [[2, 4], [3, 8]]));
    const t = await run({ steps: ['standardize'] }, { spectra: data, fit });
    // fit: mean [2, 4], sd [1, 2]
    expect(row(t, 0)).toEqual([3, -2]);
    expect(row(t, 1)).toEqual([0, 0]);
    expect(row(t, 0, 'clean')).toEqual([0, 0]);
    expect(row(t, 1, 'clean')).toEqual([1, 2]);
    const self = await run({ steps: [{ standardize: {} }] }, { spectra: data });
    // own stats: mean [3.5, 2], sd [1.5, 2]
    expect(row(self, 0)).toEqual([1, -1]);
  });

  it('refuses steps on ragged spectra until a resample step, which interpolates linearly onto one grid', async () => {
    const ragged: SpectraTable = {
      n: 2, d: 0, ids: ['p', 'q'], spectra: new Float32Array(0), axis: new Float64Array(0), axisUnit: 'm/z', axisName: 'mass-to-charge',
      columns: {}, metadata: {},
      ragged: { x: [Float64Array.from([0, 2, 4]), Float64Array.from([1, 3, 5])], y: [Float32Array.from([0, 4, 8]), Float32Array.from([10, 30, 50])] },
    };
    const input = await write('ragged.arrow', ragged);
    await expect(run({ steps: [{ smooth: { window: 5, polynomial: 1 } }] }, { spectra: input })).rejects.toThrow(/with\.steps\[0\] \(smooth\): spectra are on different grids; add a `resample` step/);
    const t = await run({ steps: [{ resample: { step: 0.5 } }] }, { spectra: input });
    // default range = overlap [1, 4]
    expect(Array.from(t.axis)).toEqual([1, 1.5, 2, 2.5, 3, 3.5, 4]);
    expect(row(t, 0)).toEqual([2, 3, 4, 5, 6, 7, 8]); // y = 2x
    expect(row(t, 1)).toEqual([10, 15, 20, 25, 30, 35, 40]); // y = 10x
    await expect(run({ steps: [{ resample: { min: 0, max: 4, n: 5 } }] }, { spectra: input })).rejects.toThrow(/spectrum "q": covers 1–5 but resample asks for 0–4/);
  });

  it('chains despike, baseline, smooth, derivative, anscombe and log on a real-sized table', async () => {
    const axis = Array.from({ length: 200 }, (_, i) => 400 + i);
    const rows = [0, 1, 2].map((k) => axis.map((x, i) => 50 + 0.1 * i + 40 * Math.exp(-(((x - 500 - 10 * k) / 5) ** 2))));
    const input = await write('chain.arrow', table(rows, axis));
    const t = await run({
      steps: ['despike', { baseline: { method: 'als', lambda: 1e5, p: 0.01 } }, { smooth: { method: 'whittaker', lambda: 1 } }, 'anscombe', { log: { offset: 1 } }, { derivative: { order: 1, window: 7 } }],
    }, { spectra: input });
    expect(t.d).toBe(200);
    expect(t.spectra.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('rejects unknown steps and unknown step parameters through the parameter schema', async () => {
    const input = await write('x.arrow', table([[1, 2, 3]], [0, 1, 2]));
    await expect(run({ steps: [{ smoothen: { window: 5 } }] }, { spectra: input })).rejects.toThrow(/invalid parameters.*unknown parameter "smoothen" \(did you mean "smooth"\?\)/);
    await expect(run({ steps: [{ smooth: { windw: 5 } }] }, { spectra: input })).rejects.toThrow(/invalid parameters.*unknown parameter "windw" \(did you mean "window"\?\)/);
    await expect(run({ steps: [{ crop: { min: 0 }, normalize: {} }] }, { spectra: input })).rejects.toThrow(/invalid parameters.*must NOT have more than 1 propert/);
    await expect(run({ steps: ['crop'] }, { spectra: input })).rejects.toThrow(/invalid parameters/);
    await expect(run({ steps: [{ normalize: { method: 'l3' } }] }, { spectra: input })).rejects.toThrow(/invalid parameters/);
  });

  it('msc refuses a spectrum with zero slope against the reference (flat or all-zero) instead of writing it unscaled', async () => {
    const input = await write('msc0.arrow', table([[1, 2, 3, 4], [2, 4, 6, 8], [5, 5, 5, 5]], [0, 1, 2, 3]));
    await expect(run({ steps: [{ normalize: { method: 'msc' } }] }, { spectra: input })).rejects.toThrow(/with\.steps\[0\] \(normalize\), spectrum "s2": cannot msc-normalise: the spectrum has zero slope against the reference/);
  });

  it('refuses Savitzky–Golay windows below 5 through the schema (ml-savitzky-golay-generalized throws a RangeError stack trace on them)', async () => {
    const input = await write('w3.arrow', table([[1, 2, 3, 4, 5, 6, 7]], [0, 1, 2, 3, 4, 5, 6]));
    await expect(run({ steps: [{ smooth: { window: 3, polynomial: 1 } }] }, { spectra: input })).rejects.toThrow(/invalid parameters.*window.*must be >= 5/);
    await expect(run({ steps: [{ derivative: { window: 3, polynomial: 2 } }] }, { spectra: input })).rejects.toThrow(/invalid parameters.*window.*must be >= 5/);
  });

  it('refuses Savitzky–Golay polynomial orders above 8 through the schema: the library\'s weights take exponential time in the order (window 19, order 18 ran for minutes)', async () => {
    const input = await write('p9.arrow', table([Array.from({ length: 25 }, (_, i) => i * i)], Array.from({ length: 25 }, (_, i) => i)));
    await expect(run({ steps: [{ smooth: { window: 19, polynomial: 18 } }] }, { spectra: input })).rejects.toThrow(/invalid parameters.*polynomial.*must be <= 8/);
    await expect(run({ steps: [{ derivative: { window: 11, polynomial: 9 } }] }, { spectra: input })).rejects.toThrow(/invalid parameters.*polynomial.*must be <= 8/);
  });

  it('names the spectrum when a step cannot be applied', async () => {
    const input = await write('zero.arrow', table([[1, 2, 3], [0, 0, 0]], [0, 1, 2]));
    await expect(run({ steps: [{ normalize: { method: 'max' } }] }, { spectra: input })).rejects.toThrow(/with\.steps\[0\] \(normalize\), spectrum "s1": cannot max-normalise/);
    await expect(run({ steps: ['log'] }, { spectra: input })).rejects.toThrow(/spectrum "s1": log of a non-positive value/);
  });
});
