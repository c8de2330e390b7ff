import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runStageForTest } from '../../src/runner/testing.js';
import { StageError, type StageDef } from '../../src/core/stage-api.js';
import { readSpectra, type SpectraTable } from '../../src/data/arrow-io.js';
import { loadArrow, loadCsv, loadJcamp } from '../../src/stages/load.js';

const FIX = resolve(import.meta.dirname, '../fixtures/data');
const SHARED = resolve(import.meta.dirname, '../../../shared/data');
const fx = (name: string) => join(FIX, name);

async function load(def: StageDef, params: Record<string, unknown>): Promise<SpectraTable> {
  const run = await runStageForTest(def, { params, pipelineDir: FIX });
  return readSpectra(run.outputs.spectra!);
}

/** The stage must fail with a StageError whose message matches every pattern, and write nothing. */
async function expectLoadError(def: StageDef, params: Record<string, unknown>, patterns: RegExp[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'specflow-load-err-'));
  let error: unknown;
  try {
    await runStageForTest(def, { params, pipelineDir: FIX, dir });
  } catch (e) {
    error = e;
  }
  expect(error, 'the stage should have failed').toBeInstanceOf(StageError);
  for (const p of patterns) expect((error as Error).message).toMatch(p);
  expect(readdirSync(dir)).toEqual([]);
}

const rows = (t: SpectraTable) => Array.from({ length: t.n }, (_, i) => Array.from(t.spectra.subarray(i * t.d, (i + 1) * t.d)));

describe('load.csv', () => {
  it('reads a wide CSV with BOM, CRLF, quoted fields, a multi-line field, comments and blank lines', async () => {
    const t = await load(loadCsv, { path: fx('wide-quirks.csv'), unit: 'nm' });
    expect(t.n).toBe(3);
    expect(t.d).toBe(4);
    expect(t.ids).toEqual(['s1', 's2', 's3']);
    expect(t.labels).toEqual(['a', 'b', 'a']);
    expect(Array.from(t.axis)).toEqual([400, 401, 402, 403]);
    expect(t.axisUnit).toBe('nm');
    expect(t.axisName).toBe('wavelength');
    expect(rows(t)).toEqual([[1, 2, 3, 4], [1.5, 2.5, 3.5, 4.5], [0.5, 0.25, 0.125, 0]]);
    expect(t.columns['note, free text']).toEqual(['said "hi"', 'plain', 'two\r\nlines']);
  });

  it('detects a semicolon delimiter, takes explicit id/label columns and orders a descending axis ascending', async () => {
    const t = await load(loadCsv, { path: fx('wide-semicolon-desc.csv'), id: 'sample', label: 'kind', unit: 'cm-1' });
    expect(t.ids).toEqual(['x1', 'x2']);
    expect(t.labels).toEqual(['p', 'q']);
    expect(Array.from(t.axis)).toEqual([1001, 1002, 1003]);
    expect(rows(t)).toEqual([[1, 2, 3], [10, 20, 30]]);
    expect(t.axisName).toBe('wavenumber');
  });

  it('reads a long layout whose spectra share one grid (points in any order)', async () => {
    const t = await load(loadCsv, { path: fx('long-common.csv'), layout: 'long' });
    expect(t.ragged).toBeUndefined();
    expect(t.ids).toEqual(['m1', 'm2']);
    expect(t.labels).toEqual(['ctrl', 'case']);
    expect(Array.from(t.axis)).toEqual([100, 101, 102]);
    expect(rows(t)).toEqual([[1, 2, 3], [10, 20, 30]]);
  });

  it('keeps long-layout spectra on different grids on their own grids', async () => {
    const t = await load(loadCsv, { path: fx('long-ragged.csv'), layout: 'long', unit: 'm/z' });
    expect(t.d).toBe(0);
    expect(t.ragged!.x.map((x) => Array.from(x))).toEqual([[1000, 1000.5, 1001], [999.8, 1000.7]]);
    expect(t.ragged!.y.map((y) => Array.from(y))).toEqual([[5, 6, 7], [1, 2]]);
    expect(t.axisUnit).toBe('m/z');
  });

  it('on_nan: drop removes the spectra with NaN or empty cells; interpolate fills them linearly', async () => {
    const dropped = await load(loadCsv, { path: fx('bad-nan.csv'), on_nan: 'drop' });
    expect(dropped.ids).toEqual(['r1', 'r4']);
    const filled = await load(loadCsv, { path: fx('bad-nan.csv'), on_nan: 'interpolate' });
    expect(filled.ids).toEqual(['r1', 'r2', 'r3', 'r4']);
    // r2: 904 between 902 (2) and 906 (4) → 3; r3: 902 between 900 (5) and 904 (7) → 6
    expect(rows(filled)[1]).toEqual([1, 2, 3, 4]);
    expect(rows(filled)[2]).toEqual([5, 6, 7, 8]);
  });

  describe('bad input names file, row and column and writes nothing', () => {
    it('ragged row', () => expectLoadError(loadCsv, { path: fx('bad-ragged.csv') }, [/bad-ragged\.csv row 2 \(line 3\), column "904"/, /ragged row: 3 fields, the header has 4/]));
    it('non-numeric value', () => expectLoadError(loadCsv, { path: fx('bad-nonnumeric.csv') }, [/bad-nonnumeric\.csv row 2 \(line 3\), column "902"/, /"abc" is not a number/]));
    it('NaN in a spectrum', () => expectLoadError(loadCsv, { path: fx('bad-nan.csv') }, [/bad-nan\.csv row 2 \(line 3\), column "904"/, /NaN\/Inf/, /on_nan/]));
    it('empty cell in a spectrum', () => expectLoadError(loadCsv, { path: fx('bad-empty-cell.csv') }, [/bad-empty-cell\.csv row 2 \(line 3\), column "902"/, /an empty cell \(NaN\/Inf\)/]));
    it('Inf in a spectrum', () => expectLoadError(loadCsv, { path: fx('bad-inf.csv') }, [/bad-inf\.csv row 2 \(line 3\), column "900"/, /"Inf" \(NaN\/Inf\)/]));
    it('empty file', () => expectLoadError(loadCsv, { path: fx('bad-empty.csv') }, [/bad-empty\.csv: the file is empty/]));
    it('file with only comments', () => expectLoadError(loadCsv, { path: fx('bad-comments-only.csv') }, [/bad-comments-only\.csv: the file is empty/]));
    it('header but no rows', () => expectLoadError(loadCsv, { path: fx('bad-header-only.csv') }, [/bad-header-only\.csv: the file has a header but no data rows/]));
    it('duplicate ids', () => expectLoadError(loadCsv, { path: fx('bad-duplicate-ids.csv') }, [/bad-duplicate-ids\.csv row 3 \(line 4\), column "id"/, /duplicate id "a" \(first seen at row 1/]));
    it('label column that does not exist', () => expectLoadError(loadCsv, { path: fx('wide-quirks.csv'), label: 'kind' }, [/wide-quirks\.csv line 2 \(header\), column "kind"/, /label column "kind" does not exist/]));
    it('keep column that does not exist', () => expectLoadError(loadCsv, { path: fx('wide-quirks.csv'), keep: ['octane'] }, [/column "octane"/, /keep column "octane" does not exist/]));
    it('missing file', () => expectLoadError(loadCsv, { path: fx('no-such-file.csv') }, [/no-such-file\.csv: cannot read file/]));
    it('long layout: NaN y', () => expectLoadError(loadCsv, { path: fx('long-bad-nan.csv'), layout: 'long' }, [/long-bad-nan\.csv row 2 \(line 3\), column "y"/, /NaN\/Inf/]));
    it('long layout: non-numeric x', () => expectLoadError(loadCsv, { path: fx('long-bad-x.csv'), layout: 'long' }, [/long-bad-x\.csv row 2 \(line 3\), column "x"/, /"two" is not a number/]));
    it('long layout: label changing within one id', () => expectLoadError(loadCsv, { path: fx('long-label-conflict.csv'), layout: 'long' }, [/long-label-conflict\.csv row 2 \(line 3\), column "label"/]));
  });

  describe.skipIf(!existsSync(join(SHARED, 'gasoline_nir.csv')))('shared data sets (skipped: ../shared/data is absent)', () => {
    it('gasoline_nir.csv loads to 60 spectra × 401 channels on 900–1700 nm with octane kept', async () => {
      const t = await load(loadCsv, { path: join(SHARED, 'gasoline_nir.csv'), unit: 'nm' });
      expect(t.n).toBe(60);
      expect(t.d).toBe(401);
      expect(t.axis[0]).toBe(900);
      expect(t.axis[400]).toBe(1700);
      expect(t.axis[1]! - t.axis[0]!).toBe(2);
      expect(t.axisUnit).toBe('nm');
      expect(t.columns.octane).toHaveLength(60);
      expect(t.columns.octane!.every((v) => typeof v === 'number' && v > 80 && v < 95)).toBe(true);
      expect(t.labels).toBeUndefined();
    });
    it('digits.csv loads to 1797 samples × 64 features with labels 0–9', async () => {
      const t = await load(loadCsv, { path: join(SHARED, 'digits.csv') });
      expect(t.n).toBe(1797);
      expect(t.d).toBe(64);
      expect(new Set(t.labels)).toEqual(new Set(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']));
      expect(t.axisName).toBe('feature');
      expect(JSON.parse(t.metadata.channel_names!)[9]).toBe('p1_1');
      expect(Math.max(...t.spectra)).toBe(16);
    });
  });
});

describe('load.arrow', () => {
  it('reads a list-column table written by apache-arrow, with metadata columns', async () => {
    const t = await load(loadArrow, { path: fx('list-column.arrow'), id: 'sample' });
    expect(t.n).toBe(3);
    expect(t.d).toBe(3);
    expect(t.ids).toEqual(['p1', 'p2', 'p3']);
    expect(t.labels).toEqual(['x', 'y', 'x']);
    expect(rows(t)).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9.5]]);
    expect(t.columns.temperature).toEqual([20.5, 21, 22.25]);
    expect(t.axisName).toBe('feature');
  });

  it('reads a wide table with numeric column names and an int64 metadata column', async () => {
    const t = await load(loadArrow, { path: fx('wide.arrow'), unit: 'nm' });
    expect(t.ids).toEqual(['w1', 'w2']);
    expect(Array.from(t.axis)).toEqual([500, 510, 520]);
    expect(rows(t).map((r) => r.map((v) => Math.round(v * 10) / 10))).toEqual([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]);
    expect(t.columns.batch).toEqual([7, 8]);
  });

  it('names the file for a file that is not Arrow, and the column for a missing label', async () => {
    await expectLoadError(loadArrow, { path: fx('wide-quirks.csv') }, [/wide-quirks\.csv: not an Arrow IPC/]);
    await expectLoadError(loadArrow, { path: fx('wide.arrow'), label: 'kind' }, [/wide\.arrow schema, column "kind"/, /does not exist/]);
    await expectLoadError(loadArrow, { path: fx('bad-empty.csv') }, [/bad-empty\.csv: the file is empty/]);
  });

  it('names row and column for ragged list rows and for NaN in a wide table', async () => {
    await expectLoadError(loadArrow, { path: fx('list-ragged.arrow') }, [/list-ragged\.arrow row 2, column "spectrum"/, /ragged row: 2 values, row 1 has 3/]);
    await expectLoadError(loadArrow, { path: fx('wide-nan.arrow') }, [/wide-nan\.arrow row 2, column "510"/, /NaN\/Inf/]);
    const t = await load(loadArrow, { path: fx('wide-nan.arrow'), on_nan: 'drop' });
    expect(t.ids).toEqual(['n1']);
  });
});

describe('load.jcamp', () => {
  it('reads a glob of JCAMP-DX files on one grid, with unit and label from the files', async () => {
    const t = await load(loadJcamp, { path: 'jcamp/*.jdx', label: '$CLASS' });
    expect(t.ids).toEqual(['glucose-1', 'lactate-1']);
    expect(t.labels).toEqual(['glucose', 'lactate']);
    expect(t.axisUnit).toBe('cm-1');
    expect(Array.from(t.axis)).toEqual([400, 402, 404, 406, 408, 410]);
    // YFACTOR 0.5 applied to the first file
    expect(rows(t)).toEqual([[1, 2, 3, 4, 5, 6], [7, 6, 5, 4, 3, 2]]);
  });

  it('reads a list of files on different grids as ragged spectra', async () => {
    const t = await load(loadJcamp, { path: [fx('jcamp/glucose-1.jdx'), fx('jcamp-other/shifted.jdx')] });
    expect(t.d).toBe(0);
    expect(t.ragged!.x.map((x) => Array.from(x))).toEqual([[400, 402, 404, 406, 408, 410], [401, 403, 405]]);
  });

  it('interpolates a missing value on request', async () => {
    const t = await load(loadJcamp, { path: fx('jcamp-other/with-nan.jdx'), on_nan: 'interpolate' });
    expect(rows(t)).toEqual([[1, 2, 3]]);
  });

  it('bad input: NaN, empty file, mixed units, missing label record, no match', async () => {
    await expectLoadError(loadJcamp, { path: fx('jcamp-other/with-nan.jdx') }, [/with-nan\.jdx point 2 \(x = 402\), column "y"/, /NaN\/Inf/]);
    await expectLoadError(loadJcamp, { path: fx('jcamp-other/empty.jdx') }, [/empty\.jdx: the file is empty/]);
    await expectLoadError(loadJcamp, { path: [fx('jcamp/glucose-1.jdx'), fx('jcamp-other/nm-units.jdx')] }, [/nm-units\.jdx/, /x units differ/]);
    await expectLoadError(loadJcamp, { path: fx('jcamp-other/nm-units.jdx'), label: '$CLASS' }, [/nm-units\.jdx, record "##\$CLASS"/, /does not exist/]);
    await expectLoadError(loadJcamp, { path: 'nowhere/*.jdx' }, [/no file matches the glob "nowhere\/\*\.jdx"/]);
  });
});
