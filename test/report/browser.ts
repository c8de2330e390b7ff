/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Shared checks of a rendered report in headless Chromium: what a reader
 * would notice first (console errors, empty or blank figures, a metrics table
 * that disagrees with metrics.json).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Browser } from 'playwright-core';
import { cli, ROOT, tempDir } from '../runner/helpers.js';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!CHROMIUM) {
  // eslint-disable-next-line no-console
  console.warn('\n!!! report browser tests SKIPPED: no Chromium at /usr/bin/chromium (CI installs Debian\'s `chromium`) !!!\n');
}

export interface MetricsEntry { stage: string; variant: string; metrics: Record<string, unknown> }
export interface RunStage { id: string; variant: string; outputs: Record<string, string>; metrics: Record<string, unknown> }

/** Runs a fixture pipeline in a fresh store; returns its stages (from `run --json`) and the report's folder. */
export function runFixture(name: string): { stages: RunStage[]; reportDir: string } {
  const store = join(tempDir(), 'store');
  const r = cli(['run', join(ROOT, 'test/fixtures/pipelines', name), '--store', store, '--json'], { plugins: '' });
  expect(r.status, r.stderr.slice(-2000)).toBe(0);
  const run = JSON.parse(r.stdout) as { stages: RunStage[] };
  return { stages: run.stages, reportDir: run.stages.find((s) => s.id === 'report')!.outputs.report! };
}

export function readMetrics(reportDir: string): MetricsEntry[] {
  return JSON.parse(readFileSync(join(reportDir, 'metrics.json'), 'utf8')) as MetricsEntry[];
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface DrawnFigure {
  /** The chart's own title, as drawn in the SVG. */
  title: string;
  caption: string;
  /** The Vega-Lite spec file beside index.html. */
  spec: string;
  svgs: number;
  /** Visible marks by Vega mark type (line, area, symbol, rect, rule). */
  marks: Record<string, number>;
  /** Axis and legend titles, to tell which axes a figure drew. */
  titles: string[];
  /** Vega's description of every axis drawn (`Y-axis titled 'loss' for a linear scale with values from 0.5 to 2`). */
  axes: string[];
  /** Legend entries, in order. */
  legend: string[];
}

export interface DrawnSection { id: string; notes: string[]; tables: string[][][]; figures: DrawnFigure[] }

/**
 * Opens the report and checks it the way the first report test did: no
 * console errors, every section has figures and every figure drew marks with
 * a visible size, and the metrics table is metrics.json row for row. Returns
 * what was drawn, for report-specific assertions.
 */
export async function checkReport(browser: Browser, reportDir: string, opts: { screenshot?: string } = {}): Promise<DrawnSection[]> {
  const page = await browser.newPage();
  try {
    const errors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`file://${join(reportDir, 'index.html')}`);
    expect(errors).toEqual([]);
    const sections = await page.$$eval('section.report-section', (els) => els.map((s) => ({
      id: s.id,
      notes: [...s.querySelectorAll('.notes li')].map((li) => li.textContent ?? ''),
      tables: [...s.querySelectorAll('table')].map((t) => [...t.querySelectorAll('tr')].map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent ?? ''))),
      figures: [...s.querySelectorAll('figure')].map((f) => {
        const marks: Record<string, number> = {};
        // drawn marks: paths/lines inside the plotted mark groups, with a visible size
        for (const type of ['line', 'area', 'symbol', 'rect', 'rule']) {
          marks[type] = [...f.querySelectorAll(`svg .mark-${type}.role-mark path, svg .mark-${type}.role-mark line`)]
            .filter((m) => { const b = (m as SVGGraphicsElement).getBBox(); return b.width > 0 || b.height > 0; }).length;
        }
        return {
          title: [...f.querySelectorAll('svg .role-title-text text')].map((t) => t.textContent ?? '').join(' '),
          caption: f.querySelector('figcaption')?.textContent ?? '',
          spec: f.getAttribute('data-spec') ?? '',
          svgs: f.querySelectorAll('svg').length,
          marks,
          titles: [...f.querySelectorAll('svg .role-axis-title text, svg .role-legend-title text')].map((t) => t.textContent ?? ''),
          axes: [...f.querySelectorAll('svg g.role-axis')].map((a) => a.getAttribute('aria-label') ?? ''),
          legend: [...f.querySelectorAll('svg .role-legend-label text')].map((t) => t.textContent ?? ''),
        };
      }),
    })));
    for (const s of sections) {
      expect(s.figures.length, `section ${s.id} has no figure`).toBeGreaterThan(0);
      for (const f of s.figures) {
        expect(f.svgs, `${s.id} / ${f.caption}: no SVG`).toBe(1);
        expect(f.title, `${s.id} / ${f.caption}: no chart title`).not.toBe('');
        expect(Object.values(f.marks).reduce((a, b) => a + b, 0), `${s.id} / ${f.caption} draws nothing`).toBeGreaterThan(0);
      }
    }
    // a report has metrics.json beside it; `compare --format html` prints a page alone
    if (existsSync(join(reportDir, 'metrics.json'))) {
      const rows = await page.$$eval('#metrics-table tr[data-metric]', (trs) => trs.map((tr) => ({
        stage: tr.getAttribute('data-stage'), variant: tr.getAttribute('data-variant'), metric: tr.getAttribute('data-metric'),
        value: (tr.querySelector('.v') as HTMLElement).textContent,
      })));
      const expected = readMetrics(reportDir).flatMap((e) => Object.entries(e.metrics).map(([metric, value]) => ({ stage: e.stage, variant: e.variant, metric, value: JSON.stringify(value) })));
      expect(rows).toEqual(expected);
    }
    if (opts.screenshot) {
      await page.setViewportSize({ width: 1400, height: 1000 });
      await page.screenshot({ path: opts.screenshot, fullPage: false });
    }
    return sections;
  } finally {
    await page.close();
  }
}

/** The figure of a section whose chart title is exactly `title` (failing clearly when absent). */
export function figure(sections: DrawnSection[], sectionId: string, title: string): DrawnFigure {
  const s = sections.find((x) => x.id === sectionId);
  expect(s, `no section ${sectionId}`).toBeDefined();
  const f = s!.figures.find((x) => x.title === title);
  expect(f, `no figure "${title}" in ${sectionId}; figures: ${s!.figures.map((x) => x.title).join(' | ')}`).toBeDefined();
  return f!;
}
