/**
 * End to end through the CLI: a sweep with one failing variant still gets its
 * report (of what ran, naming the failure) and exits 1; the same failure again
 * reuses that report; once the failing value is fixed the report is computed anew.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, tempDir } from './helpers.js';

interface JsonStage { id: string; variant: string; key: string; status: string; cached: boolean; outputs: Record<string, string>; missing?: { variant: string; stage: string; error: string }[]; entry?: string }

function workspace(): string {
  const dir = tempDir();
  // 8 spectra × 12 channels in two shapes: enough for k=2, too few for k=70
  const channels = Array.from({ length: 12 }, (_, j) => 900 + 2 * j);
  const rows = Array.from({ length: 8 }, (_, i) => [`s${i}`, ...channels.map((_, j) => (i % 2 ? Math.sin(j / 3) : Math.cos(j / 4)) + 0.01 * i * j)].join(','));
  writeFileSync(join(dir, 'data.csv'), `${['id', ...channels].join(',')}\n${rows.join('\n')}\n`);
  writeFileSync(join(dir, 'p.yaml'), [
    'name: sweepfail',
    'params: { k: 2 }',
    'stages:',
    '  data: { type: load.csv, with: { path: data.csv } }',
    '  pca: { type: train.pca, in: data, with: { latent_dim: 2 } }',
    '  codes: { type: encode, in: { model: pca, spectra: data } }',
    '  clusters: { type: cluster, in: codes, with: { method: kmeans, k: "${k}" } }',
    '  report: { type: report, in: [codes, clusters] }',
    '',
  ].join('\n'));
  return dir;
}

function run(dir: string, sweep: string): { status: number | null; report: JsonStage; stderr: string } {
  const r = cli(['run', 'p.yaml', '--store', 'store', '--json', '--sweep', sweep], { cwd: dir });
  const stages = (JSON.parse(r.stdout) as { stages: JsonStage[] }).stages;
  return { status: r.status, report: stages.find((s) => s.id === 'report')!, stderr: r.stderr };
}

describe('a sweep with a failing variant', () => {
  it('gets a report of the variants that ran naming the failure, exits 1; reuses it for the same failure; recomputes once fixed', () => {
    const dir = workspace();
    const first = run(dir, 'k=2,70');
    expect(first.status).toBe(1);
    expect(first.report.status).toBe('done');
    expect(first.report.missing).toEqual([{ variant: 'k=70', axes: { k: 70 }, stage: 'clusters', error: 'with.k: k = 70 exceeds the number of codes (8)' }]);
    const html = readFileSync(join(first.report.outputs.report!, 'index.html'), 'utf8');
    expect(html).toContain('k=70: clusters failed: with.k: k = 70 exceeds the number of codes (8)');
    expect(html).toContain('<p>failed: k=70</p>');
    // the planned key names the complete report: not stored, so a later full run cannot mistake this one for it
    expect(existsSync(join(dir, 'store', 'objects', first.report.key.slice(0, 2), first.report.key))).toBe(false);
    expect(first.report.entry).not.toBe(first.report.key);

    const again = run(dir, 'k=2,70');
    expect(again.status).toBe(1);
    expect(again.report.cached).toBe(true);
    expect(again.report.outputs.report).toBe(first.report.outputs.report);

    const fixed = run(dir, 'k=2,3');
    expect(fixed.status, fixed.stderr).toBe(0);
    expect(fixed.report.status).toBe('done');
    expect(fixed.report.missing).toBeUndefined();
    expect(fixed.report.outputs.report).not.toBe(first.report.outputs.report);
    expect(readFileSync(join(fixed.report.outputs.report!, 'index.html'), 'utf8')).not.toContain('failed');
  });
});
