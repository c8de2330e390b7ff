import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { readRecords } from '../../src/data/arrow-io.js';
import { CHROMIUM, checkReport, figure, launch, readMetrics, runFixture, type RunStage } from './browser.js';

let browser: Browser | undefined;
const getBrowser = async (): Promise<Browser> => (browser ??= await launch());
afterAll(async () => { await browser?.close(); });

describe('the HTML report', () => {
  let reportDir = '';
  beforeAll(() => { ({ reportDir } = runFixture('report-small.yaml')); }, 300_000);

  it('is self-contained: no scripts, no external references, specs and metrics beside it', () => {
    const html = readFileSync(join(reportDir, 'index.html'), 'utf8');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="https?:/i);
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(8);
    expect(readMetrics(reportDir).map((m) => m.stage)).toEqual(expect.arrayContaining(['clean', 'codes', 'clusters', 'pseudo', 'outliers']));
    for (const spec of html.matchAll(/data-spec="([^"]+)"/g)) expect(existsSync(join(reportDir, spec[1]!))).toBe(true);
  });

  it.skipIf(!CHROMIUM)('renders in headless Chromium without console errors; every figure is drawn; the metrics table is metrics.json', async () => {
    const sections = await checkReport(await getBrowser(), reportDir, { screenshot: join(reportDir, '..', 'screenshot.png') });
    expect(sections.map((s) => s.id)).toEqual(expect.arrayContaining(['data', 'reconstruction', 'latent', 'pseudospectra']));
    // the pseudospectra's measures read down a column per group (fewer groups than measures)
    const pseudo = readMetrics(reportDir).find((m) => m.stage === 'pseudo')!;
    const groups = Object.keys(pseudo.metrics.groups as Record<string, unknown>);
    const [header, ...rows] = sections.find((s) => s.id === 'pseudospectra')!.tables[0]!;
    expect(header).toEqual(['measure', ...groups]);
    expect(rows.map((r) => r[0])).toEqual(expect.arrayContaining(['correlation_mean', 'roughness.pseudospectrum']));
    expect(rows.length).toBeGreaterThan(groups.length);
    for (const r of rows) expect(r).toHaveLength(groups.length + 1);
  });

  it('gives each cluster of the scatter the colour its label has in the label scatter, whatever the clusters\' numbering', () => {
    type Scatter = { data: { values: { group: string }[] }; encoding: { color: { scale?: { domain: string[]; range: string[] } } } };
    const spec = (name: string): Scatter => JSON.parse(readFileSync(join(reportDir, 'specs', readdirSync(join(reportDir, 'specs')).find((f) => f.endsWith(name))!), 'utf8')) as Scatter;
    const byLabel = spec('codes-latent-codes-by-label.vl.json');
    const byCluster = spec('codes-latent-codes-by-cluster.vl.json');
    const colour = (s: Scatter, group: string): string => {
      const scale = s.encoding.color.scale;
      expect(scale, 'an explicit colour scale').toBeDefined();
      return scale!.range[scale!.domain.indexOf(group)]!;
    };
    // the two scatters draw the same points in the same order: a point's cluster colour is its label's colour
    const points = byLabel.data.values.map((p, i) => ({ label: p.group, cluster: byCluster.data.values[i]!.group }));
    const agree = points.filter((p) => colour(byLabel, p.label) === colour(byCluster, p.cluster)).length;
    expect(agree / points.length).toBeGreaterThan(0.9); // the clustering finds the phases (ARI ≈ 1)
  });
});

describe('the HTML report of feature relevance and embeddings', () => {
  let reportDir = '';
  let stages: RunStage[] = [];
  beforeAll(() => { ({ reportDir, stages } = runFixture('report-features.yaml')); }, 300_000);

  it.skipIf(!CHROMIUM)('draws relevance bars, the pixel image, the top-k curves and the embedded codes', async () => {
    const sections = await checkReport(await getBrowser(), reportDir);
    expect(sections.map((s) => s.id)).toEqual(expect.arrayContaining(['latent', 'relevance']));
    // one bar per feature of the 20-feature benchmark, one cell per pixel of the 8×8 images
    expect(figure(sections, 'relevance', 'gauss_net: relevance score per input').marks.rect).toBe(20);
    expect(figure(sections, 'relevance', 'pixel_net: relevance score per input').marks.rect).toBe(64);
    expect(figure(sections, 'relevance', 'pixel_net: relevance as an image').marks.rect).toBe(64);
    // spectral ranking, random ranking and permutation importance
    for (const net of ['gauss', 'pixel']) expect(figure(sections, 'relevance', `${net}_check: accuracy with the top-k inputs kept`).marks.line).toBe(3);

    // the 4-dimensional codes are drawn through the UMAP embedding, point for point
    const scatter = figure(sections, 'latent', 'codes: coloured by label');
    const n = stages.find((s) => s.id === 'codes')!.metrics.n as number;
    expect(scatter.marks.symbol).toBe(n);
    expect(scatter.titles).toEqual(expect.arrayContaining(['umap 1', 'umap 2', 'label']));
    const embedded = (await readRecords(join(stages.find((s) => s.id === 'map')!.outputs.embedding!))).rows;
    const spec = JSON.parse(readFileSync(join(reportDir, scatter.spec), 'utf8')) as { data: { values: { x: number; y: number }[] } };
    expect(spec.data.values.map((p) => [p.x, p.y])).toEqual(embedded.map((r) => [r.x, r.y]));
    // the spectra's own embedding has no codes to go with: it is drawn by itself
    const spectraMap = figure(sections, 'latent', 'spectra_map: pca embedding');
    expect(spectraMap.marks.symbol).toBe(n);
    expect(spectraMap.titles).toEqual(expect.arrayContaining(['pca 1', 'pca 2', 'label']));
  });
});

describe('the HTML report of a sweep without a numeric axis', () => {
  let reportDir = '';
  let stages: RunStage[] = [];
  beforeAll(() => { ({ reportDir, stages } = runFixture('report-sweep.yaml')); }, 300_000);

  it.skipIf(!CHROMIUM)('compares the variants in one figure: a dot per variant in a panel per varying metric', async () => {
    const sections = await checkReport(await getBrowser(), reportDir);
    const comparison = sections.find((s) => s.id === 'comparison')!;
    expect(comparison.figures).toHaveLength(1);
    const overview = comparison.figures[0]!;
    // the runner's own record of what each variant computed: the metrics that differ
    const fed = new Set(readMetrics(reportDir).map((m) => m.stage));
    const varying = [...new Set(stages.filter((s) => fed.has(s.id)).flatMap((s) => Object.keys(s.metrics).map((m) => `${s.id}.${m}`)))].filter((name) => {
      const [stage, metric] = name.split('.') as [string, string];
      const values = stages.filter((s) => s.id === stage && typeof s.metrics[metric] === 'number').map((s) => s.metrics[metric]);
      return new Set(values).size > 1 && !/seconds/.test(metric);
    });
    expect(varying.length).toBeGreaterThan(0);
    // a panel (own y axis) per varying metric, a filled dot per variant in each
    expect(overview.axes.filter((a) => a.startsWith('Y-axis'))).toHaveLength(varying.length);
    expect(overview.marks.symbol).toBeGreaterThanOrEqual(4 * varying.length);
    expect(overview.marks.line).toBe(0);

    // the codes are computed once per normalisation and shared by both methods; every
    // variant's row and detailed sections must still have them
    expect(comparison.notes.join(' ')).toMatch(/Same in every variant \(not charted\): .*codes\.latent_dim 2\b/);
    const variants = [...new Set(stages.map((s) => s.variant))];
    expect(variants).toHaveLength(4);
    for (const v of variants) {
      const id = `latent-${v.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
      expect(figure(sections, id, 'codes: coloured by cluster').marks.symbol).toBe(stages.find((s) => s.id === 'codes' && s.variant === v)!.metrics.n);
    }
  });
});
