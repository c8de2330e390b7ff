/**
 * `report`: a self-contained HTML report (inline SVG figures rendered in Node
 * from Vega-Lite specs) with the specs and a metrics.json beside it. Fed by a
 * swept pipeline it gathers every variant and compares them side by side.
 */
import { isTimingMetric, type InputArtifact, type MetricValue, type StageDef } from '../core/stage-api.js';
import type { Figure } from '../report/sections.js';
import { KIND } from './kinds.js';

export const report: StageDef = {
  type: 'report',
  description: 'HTML report of the stages feeding it: data, training, reconstructions, latent space, pseudospectra, feature relevance, metrics; sweeps side by side.',
  // a sweep's report also shows what ran when some variants failed, naming the failures
  inputs: { items: { kind: 'any', many: true, partial: true, description: 'Any artifacts; each gets the sections its content calls for.' } },
  outputs: { report: { kind: KIND.report, description: 'index.html, metrics.json and specs/*.vl.json' } },
  params: {
    type: 'object',
    properties: {
      title: { type: 'string', description: 'Report title (default: the stage id).' },
      examples: { type: 'integer', minimum: 0, maximum: 50, default: 6, description: 'Raw spectra drawn in the data section.' },
      reconstructions: { type: 'integer', minimum: 0, maximum: 20, default: 3, description: 'Spectra shown beside their reconstructions.' },
      details: { enum: ['first', 'all'], default: 'first', description: 'In a sweep: detailed sections for the first variant only, or for every variant (the overview and the side-by-side figures always cover every variant).' },
    },
  },
  gather: true,
  seedless: true,
  named: true,
  packages: ['vega', 'vega-lite', 'apache-arrow'],
  module: import.meta.url,
  async run(ctx) {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { classify, buildSections } = await import('../report/sections.js');
    const { metricInfoOf, readersOf, replicatesOf, usedByVariant, variantsOf, variantTable } = await import('../report/variants.js');
    const { failureNotes, overviewSection } = await import('../report/overview.js');
    const { sweepDesign } = await import('../report/sweep-design.js');
    const sideBySide = await import('../report/side-by-side.js');
    const { renderSvg } = await import('../report/render.js');
    const { renderHtml } = await import('../report/html.js');

    const arts = (ctx.inputs.items ?? []) as InputArtifact[];
    const missing = ctx.missing ?? [];
    const variants = variantsOf(arts);
    const classified = await Promise.all(arts.map(classify));
    const swept = variants.length > 1;
    // in a sweep, what every variant shares (the data, as a rule) is shown once
    const shared = new Set(swept ? arts.filter((a) => readersOf(a).length === variants.length) : []);
    const options = { examples: ctx.params.examples as number, reconstructions: ctx.params.reconstructions as number, elsewhere: shared };
    const sections = [];
    if (swept) {
      const rows = variantTable(arts);
      const design = sweepDesign(rows, replicatesOf(arts));
      sections.push(overviewSection(rows, metricInfoOf(arts), design.replicates, missing));
      const side = { id: 'side-by-side', title: 'Side by side', figures: [] as Figure[], tables: [], notes: [] };
      const histories = classified.filter((c) => c.role === 'history').map((c) => c.art);
      const figures = [
        await sideBySide.trainingCurves(histories, design),
        await sideBySide.latentRow(classified, design),
        await sideBySide.reconstructionGrid(classified, design, Math.min(3, options.reconstructions)),
        await sideBySide.pseudospectraGrid(classified, design),
      ];
      for (const f of figures) if (f) side.figures.push(f);
      if (side.figures.length) sections.push(side);
      const once = await buildSections(classified.filter((c) => shared.has(c.art)), { ...options, elsewhere: undefined });
      for (const s of once) { s.id = `${s.id}-shared`; s.title = `${s.title} — shared by every variant`; }
      sections.push(...once);
    }
    if (!swept && missing.length) sections.push({ id: 'failures', title: 'Variants that failed', figures: [], tables: [], notes: failureNotes(missing) });
    const detailed = ctx.params.details === 'all' ? variants : variants.slice(0, 1);
    const used = usedByVariant(arts, variants);
    for (const v of detailed) {
      const mine = classified.filter((c) => used.get(v)!.includes(c.art));
      const built = await buildSections(mine, options);
      if (swept) for (const s of built) { s.id = `${s.id}-${slug(v)}`; s.title = `${s.title} — ${v}`; }
      sections.push(...built);
      ctx.progress({ fraction: 0.2 + (0.4 * (detailed.indexOf(v) + 1)) / detailed.length, message: `sections for ${v}` });
    }

    const dir = ctx.output('report');
    mkdirSync(join(dir, 'specs'), { recursive: true });
    let n = 0;
    const total = sections.reduce((s, x) => s + x.figures.length, 0);
    const rendered = [];
    for (const s of sections) {
      const figures = [];
      for (const f of s.figures) {
        const specFile = `specs/${String(++n).padStart(3, '0')}-${slug(f.title)}.vl.json`;
        writeFileSync(join(dir, specFile), JSON.stringify(f.spec, null, 1));
        figures.push({ title: f.title, caption: f.caption, svg: await renderSvg(f.spec), specFile });
        ctx.progress({ fraction: 0.6 + (0.4 * n) / Math.max(1, total), message: `figure ${n}/${total}` });
      }
      rendered.push({ ...s, figures });
    }
    const seen = new Set<string>();
    const metrics = arts
      .filter((a) => { const k = `${a.stage}|${a.variant}|${a.key}`; if (seen.has(k)) return false; seen.add(k); return true; })
      // timings stay in the run record: with them, two identical runs would give different report bytes
      .map((a) => ({ stage: a.stage ?? a.from, variant: a.variant ?? 'default', axes: a.axes ?? {}, used_by: readersOf(a).map((r) => r.variant), metrics: withoutTimings(a.metrics ?? {}) }));
    writeFileSync(join(dir, 'metrics.json'), `${JSON.stringify(metrics, null, 1)}\n`);
    const title = (ctx.params.title as string | undefined) ?? `specflow report: ${ctx.id}`;
    const subtitle = [
      variants.length > 1 ? `${variants.length} variants: ${variants.join(' · ')}` : 'one variant',
      ...(missing.length ? [`failed: ${[...new Set(missing.map((m) => m.variant))].join(' · ')}`] : []),
      `${arts.length} input artifact${arts.length === 1 ? '' : 's'}; ${n} figures`,
    ];
    writeFileSync(join(dir, 'index.html'), renderHtml(title, subtitle, rendered, metrics));
    ctx.metric('figures', n);
    ctx.metric('sections', rendered.map((s) => s.id));
    if (missing.length) ctx.metric('failed_variants', [...new Set(missing.map((m) => m.variant))]);
  },
};

function withoutTimings(metrics: Record<string, MetricValue>): Record<string, MetricValue> {
  return Object.fromEntries(Object.entries(metrics).filter(([k]) => !isTimingMetric(k)));
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'figure';
}
