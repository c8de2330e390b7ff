/**
 * load.csv streamed (issue 15): a CSV read a piece at a time and written batch by batch
 * gives the bytes of the whole-file path, and the same error, with the same location,
 * wherever a bad row is; a failed streamed load leaves nothing behind.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runStageForTest } from '../../src/runner/testing.js';
import { loadArrow, loadCsv } from '../../src/stages/load.js';
import type { StageDef } from '../../src/core/stage-api.js';
import { spawnSync } from 'node:child_process';
import { CLI, ROOT } from '../runner/helpers.js';
import { Field, FixedSizeList, Float32, Float64, Int64, List, makeData, makeVector, Table, tableToIPC, Utf8, vectorFromArray, type Vector } from 'apache-arrow';
import { readSpectra, writeSpectra } from '../../src/data/arrow-io.js';
import { parseCsv } from '../../src/data/load/csv-parse.js';
import { rawFromCsv } from '../../src/data/load/raw-table.js';
import { assembleWide, type LoadOptions } from '../../src/data/load/assemble.js';
import { loadCsvStreamed } from '../../src/data/load/csv-stream.js';

const FIX = resolve(import.meta.dirname, '../fixtures/data');
const saved = { ...process.env };
afterEach(() => {
  for (const k of ['SPECFLOW_BATCH_ROWS', 'SPECFLOW_STREAM']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

const tmp = () => mkdtempSync(join(tmpdir(), 'specflow-csvstream-'));

/** 700 rows × 24 channels (descending wavenumbers), CRLF, quotes, comments, a few NaN cells. */
function bigCsv(rows = 700, edit?: (row: number, cells: string[]) => string[]): string {
  const d = 24;
  const head = ['id', 'label', 'octane', 'site', 'weight', ...Array.from({ length: d }, (_, j) => String(2000 - 10 * j))];
  const lines = ['\uFEFF# exported by a test', head.join(',')];
  for (let r = 1; r <= rows; r++) {
    const values = Array.from({ length: d }, (_, j) => (r % 97 === 0 && j === 5 ? 'NaN' : ((Math.sin(r * 0.37 + j) * 1000) / 7).toPrecision(9)));
    let cells = [`s${String(r).padStart(6, '0')}`, r % 3 === 0 ? '"class, three"' : `c${r % 3}`, String(80 + (r % 11)), r % 50 === 0 ? '' : `"site ""${r % 4}"""`, (r / 8).toString(), ...values];
    if (edit) cells = edit(r, cells);
    lines.push(cells.join(','));
    if (r % 200 === 0) lines.push('# a comment between rows', '');
  }
  return `${lines.join('\r\n')}\r\n`;
}

async function inMemory(path: string, opts: LoadOptions, out: string): Promise<string[]> {
  const csv = parseCsv(readFileSync(path, 'utf8'), 'data.csv');
  const loaded = assembleWide(rawFromCsv('data.csv', csv.header, csv.rows, csv.lines, csv.headerLine), opts);
  await writeSpectra(out, loaded.table);
  return loaded.notes;
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

/**
 * The stage run with SPECFLOW_STREAM=never and =always must give the same error, or the same
 * bytes and logs (but for "(streamed)"), and a failed streamed run must leave nothing behind.
 * Returns the streamed run's logs, or its error.
 */
async function bothWays(def: StageDef, base: string, params: Record<string, unknown>): Promise<{ logs: string[]; error?: string }> {
  const outcome: Record<string, { bytes?: Buffer; logs: string[]; error?: string; left: string[] }> = {};
  for (const mode of ['never', 'always']) {
    process.env.SPECFLOW_STREAM = mode;
    const dir = tmp();
    try {
      const run = await runStageForTest(def, { params, pipelineDir: base, dir });
      outcome[mode] = { bytes: readFileSync(run.outputs.spectra!), logs: run.logs, left: [] };
    } catch (e) {
      outcome[mode] = { error: (e as Error).message, logs: [], left: readdirSync(dir) };
    }
  }
  const { never, always } = outcome as Record<'never' | 'always', (typeof outcome)[string]>;
  const what = JSON.stringify(params);
  expect(always.error, what).toBe(never.error);
  expect(always.left, what).toEqual([]);
  expect(always.logs.map((l) => l.replace(' (streamed)', '')), what).toEqual(never.logs);
  if (never.bytes) expect(always.bytes!.equals(never.bytes), what).toBe(true);
  return { logs: always.logs, ...(always.error !== undefined ? { error: always.error } : {}) };
}

describe('load.csv streamed', () => {
  it('gives the bytes and notes of the whole-file path on a file crossing many record batches and text pieces', async () => {
    process.env.SPECFLOW_BATCH_ROWS = '64';
    const dir = tmp();
    const path = join(dir, 'data.csv');
    writeFileSync(path, bigCsv());
    const cases: LoadOptions[] = [
      { onNan: 'interpolate', unit: 'cm-1' }, // octane int32, site utf8, weight float64: the metadata-spill path
      { onNan: 'drop', keep: [] }, // no metadata columns: written straight through
      { onNan: 'drop', id: 'weight', keep: ['octane', 'site'], axisName: 'shift' },
    ];
    for (const [k, opts] of cases.entries()) {
      const a = join(dir, `memory-${k}.arrow`);
      const b = join(dir, `streamed-${k}.arrow`);
      const memoryNotes = await inMemory(path, opts, a).catch((e: Error) => [`error: ${e.message}`]);
      const read: [number, number][] = [];
      const streamed = await loadCsvStreamed(path, 'data.csv', 'auto', opts, b, (bytes, rows) => read.push([bytes, rows]), 1000).then((s) => s.notes, (e: Error) => [`error: ${e.message}`]);
      expect(streamed, JSON.stringify(opts)).toEqual(memoryNotes);
      if (memoryNotes[0]?.startsWith('error: ')) continue;
      expect(readFileSync(b).equals(readFileSync(a)), JSON.stringify(opts)).toBe(true);
      expect(read.length).toBeGreaterThan(50); // many pieces of text
      expect(read.at(-1)).toEqual([statSync(path).size, 700]); // progress: bytes and rows read
      expect(read.every(([bytes, rows], i) => i === 0 || (bytes >= read[i - 1]![0] && rows >= read[i - 1]![1]))).toBe(true);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }
    // the cases above really cover what they claim
    const t = await readSpectra(join(dir, 'streamed-0.arrow'));
    expect([t.n, t.d]).toEqual([700, 24]);
    expect(t.columnTypes).toEqual({ octane: 'int32', site: 'utf8', weight: 'float64' });
    expect(t.labels![2]).toBe('class, three');
    expect(t.axis[0]).toBe(1770);
    expect((await readSpectra(join(dir, 'streamed-1.arrow'))).n).toBe(700 - 7);
    expect((await readSpectra(join(dir, 'streamed-2.arrow'))).ids[1]).toBe('0.25');
  });

  it('names the row, line and column of a bad row late in the file as the whole-file path does, and leaves nothing behind', async () => {
    process.env.SPECFLOW_BATCH_ROWS = '64';
    const bad: [string, (r: number, c: string[]) => string[], LoadOptions, RegExp][] = [
      ['ragged', (r, c) => (r === 640 ? c.slice(0, 20) : c), { onNan: 'drop' }, /^data\.csv row 640 \(line 648\), column "1850": ragged row: 20 fields, the header has 29$/],
      ['not a number', (r, c) => (r === 655 ? [...c.slice(0, 9), '1.2.3', ...c.slice(10)] : c), { onNan: 'drop' }, /^data\.csv row 655 \(line 663\), column "1960": "1\.2\.3" is not a number$/],
      ['NaN', (r, c) => c, { onNan: 'error' }, /^data\.csv row 97 \(line 99\), column "1950": "NaN" \(NaN\/Inf\) in a spectrum/],
      ['duplicate id', (r, c) => (r === 690 ? ['s000003', ...c.slice(1)] : c), { onNan: 'drop' }, /^data\.csv row 690 \(line 698\), column "id": duplicate id "s000003" \(first seen at row 3 \(line 5\)\)$/],
      ['missing id', (r, c) => (r === 444 ? [' ', ...c.slice(1)] : c), { onNan: 'drop' }, /^data\.csv row 444 \(line 450\), column "id": missing id$/],
      ['NUL', (r, c) => (r === 601 ? [c[0]!, 'a\0b', ...c.slice(2)] : c), { onNan: 'drop' }, /^data\.csv row 601 \(line 609\), column "label": a NUL byte/],
    ];
    for (const [what, edit, opts, message] of bad) {
      const dir = tmp();
      const path = join(dir, 'data.csv');
      writeFileSync(path, bigCsv(700, edit));
      const memory = await errorOf(inMemory(path, opts, join(dir, 'memory.arrow')));
      expect(memory, what).toMatch(message);
      const out = mkdtempSync(join(dir, 'out-'));
      const streamed = await errorOf(loadCsvStreamed(path, 'data.csv', 'auto', opts, join(out, 'spectra.arrow'), () => {}, 4096));
      expect(streamed, what).toBe(memory);
      expect(readdirSync(out), what).toEqual([]);
    }
  });

  it('a run whose streamed load.csv fails late exits 1 with one line naming row, line and column, and leaves nothing in the store', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'data.csv'), bigCsv(700, (r, c) => (r === 655 ? [...c.slice(0, 9), '1.2.3', ...c.slice(10)] : c)));
    writeFileSync(join(dir, 'p.yaml'), 'name: late\nstages:\n  spectra:\n    type: load.csv\n    with: { path: data.csv, on_nan: drop }\n');
    const store = join(dir, 'store');
    const r = spawnSync(process.execPath, [CLI, '--store', store, 'run', join(dir, 'p.yaml')], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, SPECFLOW_STREAM: 'always', SPECFLOW_BATCH_ROWS: '64', FORCE_COLOR: '0' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/data\.csv row 655 \(line 663\), column "1960": "1\.2\.3" is not a number/);
    expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
    const filesIn = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesIn(join(d, e.name)) : [e.name]));
    expect(filesIn(join(store, 'objects')).filter((f) => f.endsWith('.arrow') || f.endsWith('.tmp'))).toEqual([]);
    expect(readdirSync(join(store, 'tmp'))).toEqual([]);
  });

  it('the stage streams above the size threshold (SPECFLOW_STREAM=always) with every fixture giving the same table or the same error, and never with SPECFLOW_STREAM=never', async () => {
    const fixtures: Record<string, unknown>[] = [
      { path: 'wide-quirks.csv', unit: 'nm' },
      { path: 'wide-semicolon-desc.csv', id: 'sample', label: 'kind', unit: 'cm-1' },
      { path: 'bad-nan.csv', on_nan: 'drop' },
      { path: 'bad-nan.csv', on_nan: 'interpolate' },
      ...['bad-nan.csv', 'bad-ragged.csv', 'bad-nonnumeric.csv', 'bad-empty-cell.csv', 'bad-inf.csv', 'bad-empty.csv', 'bad-comments-only.csv', 'bad-header-only.csv', 'bad-duplicate-ids.csv'].map((path) => ({ path })),
      { path: 'wide-quirks.csv', label: 'kind' },
      { path: 'wide-quirks.csv', keep: ['octane'] },
    ];
    for (const params of fixtures) {
      const streamed = await bothWays(loadCsv, FIX, { ...params, path: join(FIX, params.path as string) });
      if (!streamed.error) expect(streamed.logs.at(-1), JSON.stringify(params)).toMatch(/\(streamed\)$/);
    }
  });
});

/** A pandas-like wide table (float64 column per channel, int64 metadata, saved index) in record batches of 100 rows. */
function wideArrow(rows: number, nanAt = -1): Uint8Array {
  const parts: Table[] = [];
  for (let from = 0; from < rows; from += 100) {
    const idx = Array.from({ length: Math.min(100, rows - from) }, (_, i) => from + i);
    const cols: Record<string, Vector> = {
      id: vectorFromArray(idx.map((r) => `w${r}`), new Utf8()),
      label: vectorFromArray(idx.map((r) => (r % 9 === 0 ? null : `k${r % 3}`)), new Utf8()),
      batch: vectorFromArray(idx.map((r) => BigInt(r % 5)), new Int64()),
      __index_level_0__: vectorFromArray(idx.map((r) => BigInt(r)), new Int64()),
    };
    for (let j = 0; j < 12; j++) cols[String(900 - 5 * j)] = vectorFromArray(idx.map((r) => (r === nanAt && j === 4 ? NaN : Math.cos(r * 0.1 + j) * 3)), new Float64());
    parts.push(new Table(cols));
  }
  return tableToIPC(parts.reduce((a, b) => a.concat(b)), 'file');
}

describe('load.arrow streamed (a wide table of one column per channel)', () => {
  it('gives the bytes of the whole-file path across record batches, the same errors and row numbers', async () => {
    process.env.SPECFLOW_BATCH_ROWS = '64';
    const dir = tmp();
    writeFileSync(join(dir, 'wide.arrow'), wideArrow(530));
    writeFileSync(join(dir, 'wide-nan.arrow'), wideArrow(530, 433));
    const cases: [string, Record<string, unknown>][] = [
      [dir, { path: 'wide.arrow', unit: 'cm-1' }],
      [dir, { path: 'wide.arrow', keep: [] }],
      [dir, { path: 'wide-nan.arrow' }],
      [dir, { path: 'wide-nan.arrow', on_nan: 'drop' }],
      [FIX, { path: 'wide.arrow', unit: 'nm' }],
      [FIX, { path: 'wide-lz4.arrow' }],
      [FIX, { path: 'wide-zstd.arrow' }],
      [FIX, { path: 'list-column.arrow', id: 'sample' }],
    ];
    const logs: string[] = [];
    for (const [base, params] of cases) {
      const streamed = await bothWays(loadArrow, base, params);
      if (!streamed.error) logs.push(`${params.path}: ${streamed.logs.at(-1)}`);
      if (params.path === 'wide-nan.arrow' && !params.on_nan) expect(streamed.error).toMatch(/^wide-nan\.arrow row 434, column "880": "NaN" \(NaN\/Inf\)/);
    }
    expect(logs).toEqual([
      'wide.arrow: loaded 530 spectra × 12 channels (streamed)',
      'wide.arrow: loaded 530 spectra × 12 channels (streamed)',
      'wide-nan.arrow: loaded 529 spectra × 12 channels (streamed)',
      'wide.arrow: loaded 2 spectra × 3 channels (streamed)',
      'wide-lz4.arrow: loaded 40 spectra × 5 channels (streamed)',
      'list-column.arrow: loaded 3 spectra × 3 channels (streamed)', // the list-column path (tested below)
    ]);
    const t = await readSpectra((await runStageForTest(loadArrow, { params: { path: 'wide.arrow' }, pipelineDir: dir })).outputs.spectra!);
    expect(t.columnTypes).toEqual({ batch: 'int32' });
    expect(t.labels![9]).toBeNull();
  });
});

/** One spectrum a row in a list column (List<Float64> or FixedSizeList<Float32>), batches of 100 rows. */
function listArrow(rows: number, opts: { fixed?: boolean; axis?: number[]; nullAt?: number; shortAt?: number } = {}): Uint8Array {
  const d = 10;
  const parts: Table[] = [];
  for (let from = 0; from < rows; from += 100) {
    const idx = Array.from({ length: Math.min(100, rows - from) }, (_, i) => from + i);
    const lengths = idx.map((r) => (r === opts.shortAt ? d - 1 : d));
    const values = Float64Array.from(idx.flatMap((r, i) => Array.from({ length: lengths[i]! }, (_, j) => Math.sin(r + j * 0.3) * 7)));
    let spectrum: Vector;
    if (opts.fixed) {
      const child = makeData({ type: new Float32(), length: values.length, nullCount: 0, data: Float32Array.from(values) });
      spectrum = makeVector(makeData({ type: new FixedSizeList(d, new Field('item', new Float32(), true)), length: idx.length, nullCount: 0, child }));
    } else {
      const offsets = Int32Array.from([0, ...lengths.map((_, i) => lengths.slice(0, i + 1).reduce((a, b) => a + b, 0))]);
      const nullBitmap = new Uint8Array(Math.ceil(values.length / 8)).fill(255);
      let nulls = 0;
      if (opts.nullAt !== undefined && idx.includes(opts.nullAt)) {
        const at = offsets[opts.nullAt - from]! + 3;
        nullBitmap[at >> 3]! &= ~(1 << (at & 7));
        nulls = 1;
      }
      const child = makeData({ type: new Float64(), length: values.length, nullCount: nulls, data: values, nullBitmap });
      spectrum = makeVector(makeData({ type: new List(new Field('item', new Float64(), true)), length: idx.length, nullCount: 0, valueOffsets: offsets, child }));
    }
    parts.push(new Table({
      sample: vectorFromArray(idx.map((r) => `p${r}`), new Utf8()),
      label: vectorFromArray(idx.map((r) => `k${r % 2}`), new Utf8()),
      temperature: vectorFromArray(idx.map((r) => 20 + r / 4), new Float64()),
      spectrum,
    }));
  }
  const table = parts.reduce((a, b) => a.concat(b));
  if (opts.axis) {
    table.schema.metadata.set('specflow.axis', JSON.stringify(opts.axis));
    table.schema.metadata.set('specflow.axis_unit', 'eV');
  }
  return tableToIPC(table, 'file');
}

describe('load.arrow streamed (a list column of spectra)', () => {
  it('gives the bytes and errors of the whole-file path across record batches (List and FixedSizeList, an axis in the schema, null values)', async () => {
    process.env.SPECFLOW_BATCH_ROWS = '64';
    const dir = tmp();
    const descending = Array.from({ length: 10 }, (_, j) => 800 - 7 * j);
    writeFileSync(join(dir, 'list.arrow'), listArrow(450, { axis: descending, nullAt: 321 }));
    writeFileSync(join(dir, 'fixed.arrow'), listArrow(450, { fixed: true }));
    writeFileSync(join(dir, 'short.arrow'), listArrow(450, { shortAt: 377 }));
    const cases: [string, Record<string, unknown>][] = [
      [dir, { path: 'list.arrow', id: 'sample', on_nan: 'interpolate' }],
      [dir, { path: 'list.arrow', id: 'sample', on_nan: 'drop', keep: [] }],
      [dir, { path: 'list.arrow', id: 'sample' }],
      [dir, { path: 'fixed.arrow', column: 'spectrum', unit: 'nm' }],
      [dir, { path: 'short.arrow', id: 'sample' }],
      [FIX, { path: 'list-column.arrow', id: 'sample' }],
      [FIX, { path: 'list-ragged.arrow' }],
    ];
    const logs: string[] = [];
    const errors: string[] = [];
    for (const [base, params] of cases) {
      const streamed = await bothWays(loadArrow, base, params);
      if (streamed.error) errors.push(streamed.error);
      else logs.push(`${params.path}: ${streamed.logs.filter((l) => !l.startsWith('interpolated')).join('; ')}`);
    }
    expect(logs).toEqual([
      'list.arrow: loaded 450 spectra × 10 channels (streamed)',
      'list.arrow: dropped 1 spectra with NaN/Inf values (on_nan: drop); loaded 449 spectra × 10 channels (streamed)',
      'fixed.arrow: loaded 450 spectra × 10 channels (streamed)',
      'list-column.arrow: loaded 3 spectra × 3 channels (streamed)',
    ]);
    expect(errors).toEqual([
      expect.stringMatching(/^list\.arrow row 322, column "spectrum" \(value 4\): an empty cell \(NaN\/Inf\)|^list\.arrow row 322, column "spectrum" \(value 4\)/),
      'short.arrow row 378, column "spectrum": ragged row: 9 values, row 1 has 10 (give an x list column for spectra on different grids)',
      expect.stringMatching(/^list-ragged\.arrow row 2, column "spectrum": ragged row: 2 values, row 1 has 3/),
    ]);
    const t = await readSpectra((await runStageForTest(loadArrow, { params: { path: 'list.arrow', id: 'sample', on_nan: 'interpolate' }, pipelineDir: dir })).outputs.spectra!);
    expect(Array.from(t.axis)).toEqual([...descending].reverse());
    expect([t.axisUnit, t.columnTypes]).toEqual(['eV', { temperature: 'float64' }]);
  });
});
