/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ROOT, tempDir } from '../runner/helpers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!CHROMIUM) {
  // eslint-disable-next-line no-console
  console.warn('\n!!! report browser test SKIPPED: no Chromium at /usr/bin/chromium (CI installs Debian\'s `chromium`) !!!\n');
}

interface Entry { stage: string; variant: string; metrics: Record<string, unknown> }

describe('the HTML report', () => {
  let reportDir = '';
  beforeAll(() => {
    const store = join(tempDir(), 'store');
    const r = cli(['run', join(ROOT, 'test/fixtures/pipelines/report-small.yaml'), '--store', store, '--json'], { plugins: '' });
    expect(r.status, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout) as { stages: { id: string; outputs: Record<string, string> }[] };
    reportDir = run.stages.find((s) => s.id === 'report')!.outputs.report!;
  }, 300_000);

  it('is self-contained: no scripts, no external references, specs and metrics beside it', () => {
    const html = readFileSync(join(reportDir, 'index.html'), 'utf8');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="https?:/i);
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(8);
    const metrics = JSON.parse(readFileSync(join(reportDir, 'metrics.json'), 'utf8')) as Entry[];
    expect(metrics.map((m) => m.stage)).toEqual(expect.arrayContaining(['clean', 'codes', 'clusters', 'pseudo', 'outliers']));
    for (const spec of html.matchAll(/data-spec="([^"]+)"/g)) expect(existsSync(join(reportDir, spec[1]!))).toBe(true);
  });

  describe.skipIf(!CHROMIUM)('in headless Chromium', () => {
    let browser: import('playwright-core').Browser;
    beforeAll(async () => {
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    }, 60_000);
    afterAll(async () => { await browser?.close(); });

    it('renders without console errors; every section has drawn figures; the metrics table is metrics.json', async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`file://${join(reportDir, 'index.html')}`);
      expect(errors).toEqual([]);
      const sections = await page.$$eval('section.report-section', (els) => els.map((s) => ({
        id: s.id,
        svgs: s.querySelectorAll('figure svg').length,
        // drawn marks: paths/rects/circles/lines inside the plotted mark groups, with a visible size
        marks: [...s.querySelectorAll('figure svg .mark-line path, figure svg .mark-area path, figure svg .mark-symbol path, figure svg .mark-rect path, figure svg .mark-rule line')]
          .filter((m) => { const b = (m as SVGGraphicsElement).getBBox(); return b.width > 0 || b.height > 0; }).length,
      })));
      expect(sections.map((s) => s.id)).toEqual(expect.arrayContaining(['data', 'reconstruction', 'latent', 'pseudospectra']));
      for (const s of sections) {
        expect(s.svgs, `section ${s.id} has no figure`).toBeGreaterThan(0);
        expect(s.marks, `section ${s.id} draws nothing`).toBeGreaterThan(0);
      }
      const rows = await page.$$eval('#metrics-table tr[data-metric]', (trs) => trs.map((tr) => ({
        stage: tr.getAttribute('data-stage'), variant: tr.getAttribute('data-variant'), metric: tr.getAttribute('data-metric'),
        value: (tr.querySelector('.v') as HTMLElement).textContent,
      })));
      const metrics = JSON.parse(readFileSync(join(reportDir, 'metrics.json'), 'utf8')) as Entry[];
      const expected = metrics.flatMap((e) => Object.entries(e.metrics).map(([metric, value]) => ({ stage: e.stage, variant: e.variant, metric, value: JSON.stringify(value) })));
      expect(rows).toEqual(expected);
      await page.setViewportSize({ width: 1400, height: 1000 });
      await page.screenshot({ path: join(reportDir, '..', 'screenshot.png'), fullPage: false });
      await page.close();
    }, 120_000);
  });
});
