import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSpectra, spectrumMapOf, type SpectraTable } from '../../src/data/arrow-io.js';
import { StageError } from '../../src/core/stage-api.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { load } from '../../src/stages/load-instrument.js';
import { cli } from '../runner/helpers.js';

const FIX = resolve(import.meta.dirname, '../fixtures/formats');
const INSTRUMENTS = resolve(import.meta.dirname, '../../../shared/data/instruments');

async function loadTable(params: Record<string, unknown>, pipelineDir = FIX): Promise<SpectraTable> {
  const run = await runStageForTest(load, { params, pipelineDir });
  return readSpectra(run.outputs.spectra!);
}

async function loadError(params: Record<string, unknown>, pipelineDir = FIX): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'specflow-load-err-'));
  let error: unknown;
  try {
    await runStageForTest(load, { params, pipelineDir, dir });
  } catch (e) {
    error = e;
  }
  expect(error, 'the stage should have failed').toBeInstanceOf(StageError);
  expect(readdirSync(dir)).toEqual([]);
  return (error as Error).message;
}

describe('load (instrument files)', () => {
  it('a spectrum image keeps its geometry: x/y columns x fastest, specflow.map with size and units, acquisition metadata', async () => {
    // hyperspy_si.hspy: 3 (y, offset -1, scale 0.5 µm) × 4 (x, offset 2, scale 0.25 µm) × 16 channels (280 eV + 0.5 eV steps)
    const t = await loadTable({ path: 'hyperspy_si.hspy' });
    expect([t.n, t.d]).toEqual([12, 16]);
    expect(t.axis[0]).toBe(280);
    expect(t.axis[15]).toBe(287.5);
    expect([t.axisUnit, t.axisName]).toEqual(['eV', 'Energy loss']);
    expect(t.columns.x).toEqual([2, 2.25, 2.5, 2.75, 2, 2.25, 2.5, 2.75, 2, 2.25, 2.5, 2.75]);
    expect(t.columns.y).toEqual([-1, -1, -1, -1, -0.5, -0.5, -0.5, -0.5, 0, 0, 0, 0]);
    expect(spectrumMapOf(t.metadata, t.n)).toEqual({ width: 4, height: 3, xUnit: 'µm', yUnit: 'µm' });
    expect(t.metadata['instrument.beam_energy_keV']).toBe('200');
    expect(t.metadata['instrument.format']).toBe('hspy');
    expect(t.ids[0]).toBe('hyperspy_si.hspy:0');
  });

  it('a DM3 spectrum image (energy the slowest dimension in the file) becomes 12 pixel rows with x/y and the map', async () => {
    // dm_si_float32.dm3 (test/golden/dump_hyperspy.py): x 4 × (origin -2, 0.5 nm), y 3 × (origin 1, 0.25 nm), 16 channels from 100 eV
    const t = await loadTable({ path: 'dm_si_float32.dm3' });
    expect([t.n, t.d, t.axis[0], t.axisUnit]).toEqual([12, 16, 100, 'eV']);
    expect(t.columns.x!.slice(0, 5)).toEqual([1, 1.5, 2, 2.5, 1]);
    expect(t.columns.y!.slice(3, 5)).toEqual([-0.25, 0]);
    expect(spectrumMapOf(t.metadata, t.n)).toEqual({ width: 4, height: 3, xUnit: 'nm', yUnit: 'nm' });
    expect(t.metadata['instrument.beam_energy_keV']).toBe('200');
  });

  it('a line scan is an image one row high: y = 0', async () => {
    const t = await loadTable({ path: 'hyperspy_linescan.nxs' });
    expect([t.n, t.d]).toEqual([5, 8]);
    expect(t.columns.x).toEqual([0, 2, 4, 6, 8]);
    expect(t.columns.y).toEqual([0, 0, 0, 0, 0]);
    expect(spectrumMapOf(t.metadata, t.n)).toEqual({ width: 5, height: 1, xUnit: 'nm', yUnit: 'nm' });
    expect([t.axisUnit, t.axisName]).toEqual(['cm-1', 'Raman shift']);
  });

  it('several files on one grid stack into one table with a source column; the rows are no longer one image', async () => {
    const t = await loadTable({ path: ['hyperspy_si.hspy', 'hyperspy_si.nxs'] });
    expect([t.n, t.d]).toEqual([24, 16]);
    expect(t.columns.source!.slice(10, 14)).toEqual(['hyperspy_si.hspy', 'hyperspy_si.hspy', 'hyperspy_si.nxs', 'hyperspy_si.nxs']);
    // the same HyperSpy signal written twice: the NeXus copy reads the same values
    expect(Array.from(t.spectra.subarray(12 * 16))).toEqual(Array.from(t.spectra.subarray(0, 12 * 16)));
    expect(spectrumMapOf(t.metadata, t.n)).toBeUndefined();
  });

  it('a glob matches files; axes in different units are refused, naming each file and unit', async () => {
    const message = await loadError({ path: 'hyperspy_*.hspy' });
    expect(message).toMatch(/different units.*hyperspy_linescan\.hspy: "cm-1".*hyperspy_si\.hspy: "eV"/);
  });

  it('a glob in a pipeline validates, and the files it matches are in the key: editing one makes the stage run again', async () => {
    const { copyFileSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'specflow-load-glob-'));
    copyFileSync(join(FIX, 'hyperspy_si.hspy'), join(dir, 'a_si.hspy'));
    copyFileSync(join(FIX, 'hyperspy_si.nxs'), join(dir, 'b_si.nxs'));
    writeFileSync(join(dir, 'p.yaml'), 'name: g\nstages:\n  scan: { type: load, with: { path: "*_si.*" } }\n');
    const store = join(dir, 'store');
    expect(cli(['validate', join(dir, 'p.yaml')]).status).toBe(0);
    const first = cli(['run', join(dir, 'p.yaml'), '--store', store, '--json']);
    expect(first.status, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).stages[0].metrics.spectra).toBe(24);
    expect(cli(['status', join(dir, 'p.yaml'), '--store', store]).stdout).toMatch(/up to date/);
    copyFileSync(join(FIX, 'hyperspy_si.hspy'), join(dir, 'b_si.nxs'));
    expect(cli(['status', join(dir, 'p.yaml'), '--store', store]).stdout).toMatch(/would run\s+scan/);
  });

  it('files on different grids in the same unit stay on their own grids (ragged) until a resample step', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'specflow-msa-'));
    const msa = (offset: number, n: number) => `#FORMAT : EMSA/MAS Spectral Data File\n#VERSION : 1.0\n#TITLE : t\n#NPOINTS : ${n}\n#NCOLUMNS : 1\n#XUNITS : eV\n#DATATYPE : Y\n#XPERCHAN : 1.0\n#OFFSET : ${offset}\n#SPECTRUM :\n${Array.from({ length: n }, (_, i) => `${i + 1}.5E+01`).join(', ')}\n#ENDOFDATA :\n`;
    writeFileSync(join(dir, 'a.msa'), msa(100, 4));
    writeFileSync(join(dir, 'b.msa'), msa(200, 3));
    const t = await loadTable({ path: '*.msa' }, dir);
    expect(t.n).toBe(2);
    expect(t.ragged!.x.map((x) => Array.from(x))).toEqual([[100, 101, 102, 103], [200, 201, 202]]);
    expect(t.ragged!.y.map((y) => Array.from(y))).toEqual([[15, 25, 35, 45], [15, 25, 35]]);
    expect(t.ids).toEqual(['a.msa', 'b.msa']);
  });

  it('`format` forces a reader; a wrong one, an unknown file or an empty glob is a clear error and writes nothing', async () => {
    expect(await loadError({ path: 'hyperspy_si.hspy', format: 'wdf' })).toMatch(/^hyperspy_si\.hspy: not a Renishaw WDF file.* at byte 0$/);
    const dir = mkdtempSync(join(tmpdir(), 'specflow-unknown-'));
    writeFileSync(join(dir, 'data.txt'), 'id,a,b\n1,2,3\n');
    expect(await loadError({ path: 'data.txt' }, dir)).toMatch(/^data\.txt: not a recognised instrument file.*format/);
    expect(await loadError({ path: 'nothing-*.dm3' })).toMatch(/no file matches the glob "nothing-\*\.dm3"/);
  });

  it('`specflow show FILE` describes an instrument file: format, shape, navigation, axis, metadata, first values', () => {
    const r = cli(['show', join(FIX, 'hyperspy_si.hspy'), '--head', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('hyperspy_si.hspy: HyperSpy HDF5');
    expect(r.stdout).toContain('12 spectra × 16 channels');
    expect(r.stdout).toContain('navigation: x 4 (offset 2, scale 0.25 µm) × y 3 (offset -1, scale 0.5 µm)');
    expect(r.stdout).toContain('axis: Energy loss in eV, 280 … 287.5 (offset 280, scale 0.5)');
    expect(r.stdout).toContain('beam_energy_keV: 200');
    expect(r.stdout).toMatch(/first 2 spectra:\n  0  x=2 y=-1  \[53, 57, 48, 60, 50, /);
  });

  it.skipIf(!existsSync(INSTRUMENTS))('the real EELS spectrum: 2048 channels from -100 eV in 0.5 eV steps, its metadata', async () => {
    const t = await loadTable({ path: join(INSTRUMENTS, 'digitalmicrograph', '1D', 'test-EELS_spectrum.dm3') });
    expect([t.n, t.d, t.axis[0], t.axis[1]]).toEqual([1, 2048, -100, -99.5]);
    expect(t.metadata['instrument.convergence_angle_mrad']).toBe('21');
    expect(t.columns.x).toBeUndefined();
  });
});
if (!existsSync(INSTRUMENTS)) console.warn(`!!! ${INSTRUMENTS} is absent: the load test on the real EELS file is SKIPPED !!!`);

describe('a single instrument file becomes a table without a second copy of its spectra', () => {
  it('toSpectraTable of one file keeps the reader\'s n × d array (a spectrum image may be hundreds of MB); several files are stacked into a new one', async () => {
    const { toSpectraTable } = await import('../../src/data/formats/to-table.js');
    const file = (name: string) => ({
      format: 'msa' as const, file: name, n: 2, d: 3, spectra: Float32Array.from([1, 2, 3, 4, 5, 6]),
      axis: { values: Float64Array.from([1, 2, 3]), unit: 'eV', name: 'energy' }, navigation: [], metadata: {}, notes: [],
    });
    const one = file('a.msa');
    expect(toSpectraTable([one]).table.spectra).toBe(one.spectra);
    const two = toSpectraTable([file('a.msa'), file('b.msa')]).table;
    expect(Array.from(two.spectra)).toEqual([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
  });
});
