/// <reference lib="dom" />
/**
 * The Maps section of a spectrum image's report, checked in headless Chromium
 * on the example pipeline (a 32 × 32 EELS map of three phases).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { cli, ROOT, tempDir } from '../runner/helpers.js';
import { CHROMIUM, checkReport, figure, launch, type RunStage } from './browser.js';

let browser: Browser | undefined;
afterAll(async () => { await browser?.close(); });

/** Fill colours and distinct left/top edges of the marks of the figure whose chart title is `title`. */
async function marksOf(reportDir: string, title: string, mark: 'rect' | 'symbol'): Promise<{ fills: string[]; xs: number; ys: number }> {
  const page = await browser!.newPage();
  try {
    await page.goto(`file://${join(reportDir, 'index.html')}`);
    return await page.$$eval('figure', (figs, [t, m]) => {
      const f = figs.find((x) => [...x.querySelectorAll('svg .role-title-text text')].map((e) => e.textContent).join(' ') === t)!;
      const paths = [...f.querySelectorAll(`svg .mark-${m}.role-mark path`)] as SVGGraphicsElement[];
      const boxes = paths.map((p) => p.getBoundingClientRect());
      return {
        fills: paths.map((p) => p.getAttribute('fill') ?? ''),
        xs: new Set(boxes.map((b) => Math.round(b.left))).size,
        ys: new Set(boxes.map((b) => Math.round(b.top))).size,
      };
    }, [title, mark] as const);
  } finally {
    await page.close();
  }
}

describe('maps of a spectrum image in the report', () => {
  let reportDir = '';
  let stages: RunStage[] = [];
  beforeAll(() => {
    const store = join(tempDir(), 'store');
    const r = cli(['run', join(ROOT, 'pipelines/eels-phase-map.yaml'), '--store', store, '--json'], { plugins: '' });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    stages = (JSON.parse(r.stdout) as { stages: RunStage[] }).stages;
    reportDir = stages.find((s) => s.id === 'report')!.outputs.report!;
  }, 300_000);

  it('the example clusters the three phases', () => {
    const m = stages.find((s) => s.id === 'clusters')!.metrics;
    expect(m.k).toBe(3);
    expect(m.ari).toBeGreaterThan(0.95);
    expect(stages.find((s) => s.id === 'report')!.metrics.sections).toContain('maps');
  });

  it.skipIf(!CHROMIUM)('draws the phase map: one rect per pixel on a 32 × 32 grid, one colour per cluster, the scatter\'s colours', async () => {
    browser ??= await launch();
    const sections = await checkReport(browser, reportDir);
    const phase = figure(sections, 'maps', 'clusters: phase map');
    expect(phase.marks.rect).toBe(32 * 32);
    expect(phase.titles).toEqual(expect.arrayContaining(['x (nm)', 'y (nm)', 'cluster']));
    const drawn = await marksOf(reportDir, 'clusters: phase map', 'rect');
    expect(drawn.fills).toHaveLength(1024);
    expect(drawn.xs).toBe(32);
    expect(drawn.ys).toBe(32);
    const k = stages.find((s) => s.id === 'clusters')!.metrics.k as number;
    const colours = new Set(drawn.fills);
    expect(colours.size).toBe(k);
    // the scatter of the codes uses the same colour for each cluster
    const scatter = await marksOf(reportDir, 'codes: coloured by cluster', 'symbol');
    expect(new Set(scatter.fills)).toEqual(colours);
    // pixel counts per colour are the cluster sizes
    const sizes = (stages.find((s) => s.id === 'clusters')!.metrics.cluster_sizes as number[]).slice().sort((a, b) => a - b);
    const perColour = [...colours].map((c) => drawn.fills.filter((f) => f === c).length).sort((a, b) => a - b);
    expect(perColour).toEqual(sizes);
    // error map and latent images are drawn over the same grid
    expect(figure(sections, 'maps', 'denoised: reconstruction error map').marks.rect).toBe(1024);
    // one panel per latent dimension (their headers z1..z3 are titles too)
    const latent = sections.find((s) => s.id === 'maps')!.figures.find((f) => f.title.endsWith('codes: latent dimensions as images'))!;
    expect(latent.title).toBe('z1 z2 z3 codes: latent dimensions as images');
    expect(latent.marks.rect).toBe(3 * 1024);
    expect(figure(sections, 'maps', 'clean: labels as a map').marks.rect).toBe(1024);
  });
});
