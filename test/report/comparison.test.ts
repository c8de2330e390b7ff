/**
 * The comparison a sweep's report opens with, on the two sweeps of issue 19:
 * an architecture sweep (SERS, Conv-1D vs Transformer) and an EELS sweep of
 * arch × seed with the training history as an input — read in headless
 * Chromium the way a user reads it.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { isTimingMetric } from '../../src/core/stage-api.js';
import { cli, ROOT, tempDir } from '../runner/helpers.js';
import { CHROMIUM, checkReport, launch, readMetrics, type DrawnFigure, type DrawnSection, type RunStage } from './browser.js';

let browser: Browser | undefined;
const getBrowser = async (): Promise<Browser> => (browser ??= await launch());
afterAll(async () => { await browser?.close(); });

function runExample(file: string, store: string, set: string[]): { stages: RunStage[]; reportDir: string } {
  const r = cli(['run', join(ROOT, 'pipelines', file), '--store', store, '--json', ...set.flatMap((s) => ['--set', s])], { plugins: '' });
  expect(r.status, r.stderr.slice(-2000)).toBe(0);
  const stages = (JSON.parse(r.stdout) as { stages: RunStage[] }).stages;
  return { stages, reportDir: stages.find((s) => s.id === 'report')!.outputs.report! };
}

/** Metrics that differ between variants, computed here from metrics.json independently of the report's code. */
function varyingMetrics(reportDir: string): string[] {
  const values = new Map<string, Map<string, number>>();
  for (const e of readMetrics(reportDir) as unknown as { stage: string; used_by: string[]; metrics: Record<string, unknown> }[]) {
    for (const [m, v] of Object.entries(e.metrics)) {
      if (typeof v !== 'number' || isTimingMetric(m)) continue;
      const byVariant = values.get(`${e.stage}.${m}`) ?? new Map<string, number>();
      for (const variant of e.used_by) byVariant.set(variant, v);
      values.set(`${e.stage}.${m}`, byVariant);
    }
  }
  return [...values].filter(([, byVariant]) => new Set(byVariant.values()).size > 1).map(([m]) => m);
}

/** The figure of a section whose drawn titles (chart, panels, headers) include `title`. */
function figure(sections: DrawnSection[], sectionId: string, title: string): DrawnFigure {
  const s = sections.find((x) => x.id === sectionId);
  expect(s, `no section ${sectionId}`).toBeDefined();
  const f = s!.figures.find((x) => x.title.includes(title));
  expect(f, `no figure "${title}" in ${sectionId}; figures: ${s!.figures.map((x) => x.title).join(' | ')}`).toBeDefined();
  return f!;
}

const yAxes = (f: DrawnFigure): string[] => f.axes.filter((a) => a.startsWith('Y-axis'));

/** What both sweeps must show (issue 19, "Must show"). */
function checkComparison(sections: DrawnSection[], reportDir: string, variants: string[]): void {
  // the seed is a replicate: never an axis or legend title anywhere in the report
  for (const s of sections) {
    for (const f of s.figures) {
      expect(f.titles, `${s.id} / ${f.title}`).not.toContain('seed');
      for (const a of f.axes) expect(a, `${s.id} / ${f.title}`).not.toMatch(/titled 'seed'/);
    }
  }
  // the overview is one figure with a panel (its own y axis) per metric that varies
  const comparison = sections.find((s) => s.id === 'comparison')!;
  expect(comparison.figures).toHaveLength(1);
  const overview = comparison.figures[0]!;
  const varying = varyingMetrics(reportDir);
  expect(varying.length).toBeGreaterThan(1);
  expect(yAxes(overview)).toHaveLength(varying.length);
  for (const m of varying) expect(overview.title, m).toContain(m.slice(m.indexOf('.') + 1));
  // constant metrics appear once, as text
  const constantsNote = comparison.notes.filter((n) => n.startsWith('Same in every variant'));
  expect(constantsNote).toHaveLength(1);
  const constants = [...constantsNote[0]!.matchAll(/([\w-]+\.[\w]+) [-\d.e]+/g)].map((m) => m[1]!);
  expect(constants.length).toBeGreaterThan(0);
  for (const c of constants) expect(varying).not.toContain(c);
  // the pseudospectra of every variant share one y scale
  const pseudo = figure(sections, 'side-by-side', 'Pseudospectra of every variant');
  const scales = new Set(yAxes(pseudo).map((a) => a.replace(/^Y-axis( titled '[^']*')? for /, '')));
  expect(yAxes(pseudo).length).toBeGreaterThan(0);
  expect([...scales]).toHaveLength(1);
  // a row per group (each with its y axis), a column per variant, a mean spectrum and a pseudospectrum in each cell
  expect(pseudo.marks.line).toBe(2 * variants.length * yAxes(pseudo).length);
  // the data every variant shares is shown once
  expect(sections.filter((s) => s.id.startsWith('data'))).toHaveLength(1);
  expect(sections.find((s) => s.id.startsWith('data'))!.id).toBe('data-shared');
}

describe('comparison report of an architecture sweep (pipelines/sers-architectures.yaml)', () => {
  let run: ReturnType<typeof runExample>;
  beforeAll(() => { run = runExample('sers-architectures.yaml', join(tempDir(), 'store'), ['per_class=8', 'epochs=1']); }, 300_000);

  it('compares Conv-1D and Transformer pseudospectra at reduced size', () => {
    const pseudo = run.stages.filter((s) => s.id === 'pseudo');
    expect(pseudo.map((s) => s.variant)).toEqual(['arch=conv1d', 'arch=transformer']);
    for (const s of pseudo) expect(s.metrics.roughness).toEqual(expect.any(Number));
    const report = run.stages.find((s) => s.id === 'report')!;
    expect(report.metrics.sections).toEqual(expect.arrayContaining(['comparison', 'side-by-side', 'data-shared']));
  });

  it.skipIf(!CHROMIUM)('in Chromium: one overview figure, constants as text, pseudospectra on one scale, the data once', async () => {
    const sections = await checkReport(await getBrowser(), run.reportDir);
    checkComparison(sections, run.reportDir, ['arch=conv1d', 'arch=transformer']);
    // the data's own measures (identical in both variants) are not charted
    const comparison = sections.find((s) => s.id === 'comparison')!;
    expect(comparison.notes.join(' ')).toMatch(/pseudo\.gini_mean_spectrum [\d.]+/);
    expect(comparison.figures[0]!.title).not.toMatch(/gini_mean_spectrum/);
    // 2 variants, ~17 metrics: the table is transposed — a column per variant, read down
    const [header] = comparison.tables[0]!;
    expect(header).toEqual(['stage', 'metric', 'conv1d', 'transformer']);
    // training curves: one line per variant in each panel
    const curves = figure(sections, 'side-by-side', 'Training curves of every variant');
    expect(curves.legend).toEqual(['conv1d', 'transformer']);
  });
});

describe('comparison report of an arch × seed sweep with training histories (pipelines/eels-arch-seeds.yaml)', () => {
  let run: ReturnType<typeof runExample>;
  let store = '';
  beforeAll(() => {
    store = join(tempDir(), 'store');
    run = runExample('eels-arch-seeds.yaml', store, ['epochs=3']);
  }, 300_000);
  const variants = ['arch=dense,seed=1', 'arch=dense,seed=2', 'arch=conv1d,seed=1', 'arch=conv1d,seed=2'];

  it('computes the shared data once and every model per (arch, seed)', () => {
    expect(new Set(run.stages.filter((s) => s.id === 'spectra').map((s) => s.metrics.spectra)).size).toBe(1);
    expect(run.stages.filter((s) => s.id === 'ae').map((s) => s.variant)).toEqual(variants);
  });

  it.skipIf(!CHROMIUM)('in Chromium: seed is never an axis, mean ± sd per architecture, one training curve per variant', async () => {
    const sections = await checkReport(await getBrowser(), run.reportDir);
    checkComparison(sections, run.reportDir, variants);
    const comparison = sections.find((s) => s.id === 'comparison')!;
    expect(comparison.notes.join(' ')).toMatch(/seed is a replicate axis/);
    // the table summarises over seeds: n = 2 per architecture, cells are mean ± sd
    const table = comparison.tables[0]!;
    expect(table[0]!.slice(2)).toEqual(['dense (n=2)', 'conv1d (n=2)']);
    const loss = table.find((r) => r[1]!.startsWith('loss'))!;
    const ae = run.stages.filter((s) => s.id === 'ae');
    const mean = (arch: string) => ae.filter((s) => s.variant.includes(arch)).reduce((a, s) => a + (s.metrics.loss as number) / 2, 0);
    expect(Number(loss[2]!.split(' ± ')[0])).toBeCloseTo(mean('dense'), 2);
    expect(Number(loss[3]!.split(' ± ')[0])).toBeCloseTo(mean('conv1d'), 2);
    // training and validation loss, one line per variant in each, coloured by architecture
    const curves = figure(sections, 'side-by-side', 'Training curves of every variant');
    expect(curves.marks.line).toBe(2 * variants.length);
    expect(curves.legend).toEqual(['dense', 'conv1d']);
    // the latent codes of every variant, a panel each
    expect(figure(sections, 'side-by-side', 'Latent codes of every variant, by cluster').marks.symbol).toBe(4 * (run.stages.find((s) => s.id === 'codes')!.metrics.n as number));
  });

  it.skipIf(!CHROMIUM)('compare --format html draws the same overview from the run records', async () => {
    const r = cli(['compare', '--pipeline', join(ROOT, 'pipelines', 'eels-arch-seeds.yaml'), '--store', store, '--format', 'html'], { plugins: '' });
    expect(r.status, r.stderr).toBe(0);
    const dir = join(tempDir(), 'compare');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.html'), r.stdout);
    const sections = await checkReport(await getBrowser(), dir);
    expect(sections.map((s) => s.id)).toEqual(['comparison']);
    const overview = sections[0]!.figures;
    expect(overview).toHaveLength(1);
    const report = (await checkReport(await getBrowser(), run.reportDir)).find((s) => s.id === 'comparison')!;
    // same panels, same constants
    expect(yAxes(overview[0]!).sort()).toEqual(yAxes(report.figures[0]!).sort());
    expect(overview[0]!.titles).not.toContain('seed');
    // the run records also hold stages the report was not fed (the raw spectra): more constants, never fewer
    const constants = (ss: DrawnSection) => ss.notes.find((n) => n.startsWith('Same in every'))!.replace(/\.$/, '').split(': ')[1]!.split(' · ');
    expect(constants(sections[0]!)).toEqual(expect.arrayContaining(constants(report)));
    expect(constants(sections[0]!)).toEqual(expect.arrayContaining(['spectra.spectra 48']));
  });
});

describe('a report is reproducible', () => {
  it('two identical runs in fresh stores give byte-identical report artifacts (timings stay in the run record)', () => {
    const runs = [0, 1].map(() => {
      const store = join(tempDir(), 'store');
      const r = cli(['run', join(ROOT, 'test/fixtures/pipelines/report-deterministic.yaml'), '--store', store, '--json'], { plugins: '' });
      expect(r.status, r.stderr.slice(-2000)).toBe(0);
      return JSON.parse(r.stdout) as { stages: RunStage[] };
    });
    // the training took some measurable time, recorded in the run record
    for (const run of runs) expect(run.stages.find((s) => s.id === 'ae')!.metrics.seconds).toEqual(expect.any(Number));
    const files = (dir: string): Map<string, string> => {
      const out = new Map<string, string>();
      const walk = (d: string): void => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(join(d, e.name));
          else out.set(relative(dir, join(d, e.name)), readFileSync(join(d, e.name), 'utf8'));
        }
      };
      walk(dir);
      return out;
    };
    const [a, b] = runs.map((run) => files(run.stages.find((s) => s.id === 'report')!.outputs.report!));
    expect([...a!.keys()].sort()).toEqual([...b!.keys()].sort());
    expect(a!.size).toBeGreaterThan(3);
    for (const [name, text] of a!) expect(b!.get(name) === text, `${name} differs between identical runs`).toBe(true);
    expect(a!.get('index.html')).not.toMatch(/seconds/);
  });
});
