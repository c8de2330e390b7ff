import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, ROOT, tempDir } from '../runner/helpers.js';

interface JsonStage { id: string; variant: string; key: string; cached: boolean; status: string; outputs: Record<string, string>; metrics: Record<string, unknown> }
interface JsonRun { status: string; variants: { id: string }[]; stages: JsonStage[] }

const PIPELINES = join(ROOT, 'pipelines');

function run(file: string, store: string, extra: string[]): JsonRun {
  const r = cli(['run', join(PIPELINES, file), '--store', store, '--json', ...extra], { plugins: '' });
  expect(r.status, r.stderr.slice(-2000)).toBe(0);
  return JSON.parse(r.stdout) as JsonRun;
}

describe('example pipelines', () => {
  it('every pipeline in pipelines/ validates', () => {
    const files = readdirSync(PIPELINES).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    // the real-data examples read ../shared/data beside the repository, as the project's machines have it
    const shared = existsSync(join(ROOT, '..', 'shared', 'data', 'digits.csv'));
    if (!shared) console.warn('!!! ../shared/data is absent: the digits and gasoline pipelines are not validated !!!');
    for (const f of files) {
      if (!shared && readFileSync(join(PIPELINES, f), 'utf8').includes('shared/data/')) continue;
      const r = cli(['validate', join(PIPELINES, f)], { plugins: '' });
      expect(r.status, `${f}: ${r.stderr}`).toBe(0);
    }
  });

  it('quickstart runs end to end at reduced size and writes the report; a re-run computes nothing', () => {
    const store = join(tempDir(), 'store');
    const first = run('quickstart.yaml', store, ['--set', 'per_class=15', '--set', 'epochs=2']);
    expect(first.stages.every((s) => s.status === 'done')).toBe(true);
    const report = first.stages.find((s) => s.id === 'report')!;
    expect(existsSync(join(report.outputs.report!, 'index.html'))).toBe(true);
    expect(first.stages.find((s) => s.id === 'clusters')!.metrics.k).toEqual(expect.any(Number));
    const second = run('quickstart.yaml', store, ['--set', 'per_class=15', '--set', 'epochs=2']);
    expect(second.stages.every((s) => s.cached)).toBe(true);
  });

  it('the bottleneck sweep computes the shared data and preprocessing once, and compare gives one CSV row per variant', () => {
    const store = join(tempDir(), 'store');
    const args = ['--set', 'epochs=2', '--sweep', 'latent_dim=2,4'];
    const first = run('eels-bottleneck-sweep.yaml', store, args);
    expect(first.variants).toHaveLength(6);
    for (const id of ['spectra', 'clean']) {
      const inst = first.stages.filter((s) => s.id === id);
      expect(inst).toHaveLength(6);
      expect(new Set(inst.map((s) => s.key)).size).toBe(1);
    }
    // one report for the whole sweep
    expect(new Set(first.stages.filter((s) => s.id === 'report').map((s) => s.key)).size).toBe(1);
    const second = run('eels-bottleneck-sweep.yaml', store, args);
    for (const id of ['spectra', 'clean']) expect(second.stages.filter((s) => s.id === id).every((s) => s.cached)).toBe(true);
    expect(second.stages.every((s) => s.cached)).toBe(true);
    const csv = cli(['compare', '--store', store, '--format', 'csv'], { plugins: '' });
    expect(csv.status).toBe(0);
    const table = parseCsv(csv.stdout);
    expect(table).toHaveLength(1 + 6);
    const header = table[0]!;
    expect(header).toEqual(expect.arrayContaining(['variant', 'latent_dim', 'arch', 'denoised.mse_clean']));
    expect(table.slice(1).every((row) => row.length === header.length)).toBe(true);
    expect(new Set(table.slice(1).map((row) => row[0]))).toEqual(new Set(first.variants.map((v) => v.id)));
  });

  // sers-architectures and eels-arch-seeds run in test/report/comparison.test.ts

  const instruments = existsSync(join(ROOT, '..', 'shared', 'data', 'instruments'));
  if (!instruments) console.warn('!!! ../shared/data/instruments is absent: the DM3 and WDF example pipelines are not run !!!');
  it.skipIf(!instruments)('the instrument-file examples run: a real DM3 EELS spectrum to a report, a WDF line scan through an AE to a report', () => {
    const store = join(tempDir(), 'store');
    const eels = run('eels-real-dm3.yaml', store, []);
    expect(eels.stages.find((s) => s.id === 'eels')!.metrics).toMatchObject({ spectra: 1, channels: 2048 });
    expect(existsSync(join(eels.stages.find((s) => s.id === 'report')!.outputs.report!, 'index.html'))).toBe(true);
    const raman = run('raman-linescan-ae.yaml', store, ['--set', 'epochs=3']);
    expect(raman.stages.find((s) => s.id === 'scan')!.metrics).toMatchObject({ spectra: 5, channels: 40 });
    expect(existsSync(join(raman.stages.find((s) => s.id === 'report')!.outputs.report!, 'index.html'))).toBe(true);
  });
});

/** RFC 4180: quoted fields may hold commas and doubled quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}
