import { describe, expect, it } from 'vitest';
import { buildOverview, fmtSummary, overviewSection, overviewTable, summarise, type VariantMetrics } from '../../src/report/overview.js';
import { sweepDesign } from '../../src/report/sweep-design.js';
import { usedByVariant, variantsOf, variantTable } from '../../src/report/variants.js';
import type { InputArtifact, MetricInfo } from '../../src/core/stage-api.js';
import { renderSvg } from '../../src/report/render.js';

type Spec = Record<string, unknown>;
const INFO: Record<string, MetricInfo> = { 'ae.loss': { better: 'lower' }, 'clusters.ari': { better: 'higher' }, 'pseudo.roughness': { better: 'lower' } };

/** Every field a spec encodes on an axis, with its title: to see what a figure plots along. */
function axisTitles(spec: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) { v.forEach(walk); return; }
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    for (const ch of ['x', 'y']) {
      const e = (o.encoding as Record<string, { field?: string; title?: unknown }> | undefined)?.[ch];
      if (e?.field) out.push(`${e.field}:${String(e.title ?? '')}`);
    }
    Object.values(o).forEach(walk);
  };
  walk(spec);
  return out;
}

/** arch × seed: dense is better on loss, conv1d on ari; the data's channels are the same everywhere. */
const archSeeds: VariantMetrics[] = [
  { variant: 'arch=dense,seed=1', axes: { arch: 'dense', seed: 1 }, values: { 'clean.channels': 64, 'ae.loss': 1.0, 'ae.seconds': 3.2, 'clusters.ari': 0.2, 'clusters.k': 4 } },
  { variant: 'arch=dense,seed=2', axes: { arch: 'dense', seed: 2 }, values: { 'clean.channels': 64, 'ae.loss': 1.2, 'ae.seconds': 2.9, 'clusters.ari': 0.4, 'clusters.k': 4 } },
  { variant: 'arch=conv1d,seed=1', axes: { arch: 'conv1d', seed: 1 }, values: { 'clean.channels': 64, 'ae.loss': 1.5, 'ae.seconds': 9.1, 'clusters.ari': 0.7, 'clusters.k': 4 } },
  { variant: 'arch=conv1d,seed=2', axes: { arch: 'conv1d', seed: 2 }, values: { 'clean.channels': 64, 'ae.loss': 1.9, 'ae.seconds': 8.7, 'clusters.ari': 0.9, 'clusters.k': 4 } },
];

describe('summaries over replicates', () => {
  it('mean and sample sd, checked by hand', () => {
    expect(summarise([1, 2, 3, 4])).toMatchObject({ mean: 2.5, n: 4 });
    expect(summarise([1, 2, 3, 4]).sd).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(summarise([7]).sd).toBeNull();
    // sd to two significant digits, the mean to the same place
    expect(fmtSummary(summarise([1.0, 1.2]))).toBe('1.10 ± 0.14');
    expect(fmtSummary({ mean: 0.99654, sd: 0.0035862, n: 2, values: [] })).toBe('0.9965 ± 0.0036');
    expect(fmtSummary({ mean: 1234.5, sd: 56.7, n: 2, values: [] })).toBe('1235 ± 57');
    expect(fmtSummary(summarise([3, 3]))).toBe('3 ± 0');
  });
});

describe('the overview of a sweep', () => {
  it('treats a replicate axis as repetitions: groups by the other axes, never plots along it', () => {
    const ov = buildOverview(archSeeds, INFO, ['seed']);
    expect(ov.design.groups.map((g) => [g.label, g.variants])).toEqual([
      ['dense', ['arch=dense,seed=1', 'arch=dense,seed=2']],
      ['conv1d', ['arch=conv1d,seed=1', 'arch=conv1d,seed=2']],
    ]);
    const loss = ov.varying.find((m) => m.name === 'ae.loss')!;
    expect(loss.byGroup.get('dense')).toMatchObject({ mean: 1.1, n: 2, values: [1.0, 1.2] });
    expect(loss.byGroup.get('conv1d')!.mean).toBeCloseTo(1.7, 12);
    const section = overviewSection(archSeeds, INFO, ['seed']);
    expect(section.figures).toHaveLength(1);
    const titles = axisTitles(section.figures[0]!.spec);
    expect(titles.length).toBeGreaterThan(0);
    expect(titles.join(' ')).not.toMatch(/seed/);
    // without the mark, seed would be a numeric axis to draw lines along
    expect(sweepDesign(archSeeds, []).xAxis).toBe('seed');
    expect(sweepDesign(archSeeds, ['seed']).xAxis).toBeUndefined();
  });

  it('charts only metrics that differ; constants are listed once as text; timings are left out', () => {
    const ov = buildOverview(archSeeds, INFO, ['seed']);
    expect(ov.varying.map((m) => m.name)).toEqual(['ae.loss', 'clusters.ari']);
    expect(ov.constants).toEqual([{ name: 'clean.channels', value: 64 }, { name: 'clusters.k', value: 4 }]);
    const notes = overviewSection(archSeeds, INFO, ['seed']).notes.join('\n');
    expect(notes).toContain('Same in every variant (not charted): clean.channels 64 · clusters.k 4.');
    expect(notes).not.toMatch(/seconds/);
  });

  it('a metric only some variants report (a failed stage, a PCA-only measure) is never "the same in every variant"', () => {
    // the conv1d variants' clustering failed; only the dense ones report clusters.*, and with one value
    const rows: VariantMetrics[] = archSeeds.map((r) => {
      const values: Record<string, number> = r.axes.arch === 'conv1d' ? { 'clean.channels': 64, 'ae.loss': r.values['ae.loss']! } : { ...r.values, 'clusters.ari': 0.3 };
      return { ...r, values };
    });
    const ov = buildOverview(rows, INFO, ['seed']);
    expect(ov.constants).toEqual([{ name: 'clean.channels', value: 64 }]);
    const notes = overviewSection(rows, INFO, ['seed']).notes.join('\n');
    expect(notes).toContain('Same in every variant (not charted): clean.channels 64.');
    expect(notes).toContain('Reported by some variants only, with one value (not charted): clusters.ari 0.3 (2 of 4 variants) · clusters.k 4 (2 of 4 variants).');
  });

  it('marks the best variant by the direction the stage declares, and nothing without one', () => {
    const ov = buildOverview(archSeeds, { ...INFO, 'clusters.k': {} }, ['seed']);
    expect(ov.varying.find((m) => m.name === 'ae.loss')!.best).toBe('dense');
    expect(ov.varying.find((m) => m.name === 'clusters.ari')!.best).toBe('conv1d');
    const undeclared = buildOverview(archSeeds, {}, ['seed']);
    expect(undeclared.varying.every((m) => m.best === undefined)).toBe(true);
  });

  it('draws one figure with a panel per varying metric, grouped by stage, scales independent', async () => {
    const spec = overviewSection(archSeeds, INFO, ['seed']).figures[0]!.spec as { vconcat: { title: { text: string }; concat: Spec[] }[]; resolve: unknown };
    expect(spec.vconcat.map((b) => b.title.text)).toEqual(['ae', 'clusters']);
    expect(spec.vconcat.map((b) => b.concat.map((p) => (p.title as { text: string }).text))).toEqual([['loss'], ['ari']]);
    expect(spec.resolve).toEqual({ scale: { x: 'independent', y: 'independent' } });
    const svg = await renderSvg(spec);
    // a dot per group in each panel, a whisker per group, an open circle per single run, a ring on the best
    expect(svg.match(/<g class="mark-symbol role-mark/g)!.length).toBe(2 * 3);
    expect(svg.match(/<g class="mark-rule role-mark/g)!.length).toBe(2);
  });

  it('draws lines along a numeric axis that is not a replicate, one colour per value of the other axes', () => {
    const rows: VariantMetrics[] = [];
    for (const arch of ['dense', 'pca']) {
      for (const k of [2, 4, 8]) {
        for (const seed of [1, 2]) rows.push({ variant: `latent_dim=${k},arch=${arch},seed=${seed}`, axes: { latent_dim: k, arch, seed }, values: { 'denoised.mse': (arch === 'pca' ? 2 : 1) / k + seed / 100, 'codes.latent_dim': k, 'spectra.noise': seed / 1000 } });
      }
    }
    const ov = buildOverview(rows, {}, ['seed']);
    expect(ov.design.xAxis).toBe('latent_dim');
    expect(ov.design.series).toEqual(['dense', 'pca']);
    const panel = (overviewSection(rows, {}, ['seed']).figures[0]!.spec as { vconcat: { concat: { layer: Spec[]; data: { values: Record<string, unknown>[] } }[] }[] }).vconcat[0]!.concat[0]!;
    const marks = panel.layer.map((l) => (l.mark as { type: string }).type);
    expect(marks).toEqual(['line', 'area', 'point']);
    expect(panel.data.values.find((v) => v.series === 'pca' && v.x === 4)).toMatchObject({ mean: 0.515 });
    expect(axisTitles(panel)).toContain('x:latent_dim');
    // a metric that repeats the swept value, and one that differs only from seed to seed, are said, not charted
    expect(ov.varying.map((m) => m.name)).toEqual(['denoised.mse']);
    expect(ov.echoes).toEqual([{ name: 'codes.latent_dim', axis: 'latent_dim' }]);
    expect(ov.replicateOnly).toEqual(['spectra.noise']);
    const notes = overviewSection(rows, {}, ['seed']).notes.join('\n');
    expect(notes).toContain('Repeat a swept value (not charted): codes.latent_dim = latent_dim.');
    expect(notes).toContain('Differ only between replicates, the same in every variant (not charted): spectra.noise.');
  });

  it('a table of mean ± sd: transposed when metrics outnumber variants, else two-level (stage, metric) headers', () => {
    const ov = buildOverview(archSeeds, INFO, ['seed']);
    const t = overviewTable(ov);
    expect(t.headerGroups).toEqual([{ label: '', span: 2 }, { label: 'ae', span: 1 }, { label: 'clusters', span: 1 }]);
    expect(t.header).toEqual(['arch', 'n', 'loss ↓', 'ari ↑']);
    expect(t.rows).toEqual([['dense', 2, '1.10 ± 0.14 ★', '0.30 ± 0.14'], ['conv1d', 2, '1.70 ± 0.28', '0.80 ± 0.14 ★']]);
    const many: VariantMetrics[] = ['a', 'b'].map((arch, i) => ({ variant: `arch=${arch}`, axes: { arch }, values: { 'p.x': i, 'p.y': i + 1, 'q.z': 2 * i } }));
    const wide = overviewTable(buildOverview(many, {}, []));
    expect(wide.header).toEqual(['stage', 'metric', 'a', 'b']);
    expect(wide.rows).toEqual([['p', 'x', 0, 1], ['', 'y', 1, 2], ['q', 'z', 0, 2]]);
  });
});

describe('variant table of a sweep', () => {
  type Reader = [string, Record<string, unknown>];
  const v = (method: string, norm: string): Reader => [`method=${method},norm=${norm}`, { method, norm }];
  const ka = v('kmeans', 'area');
  const kv = v('kmeans', 'vector');
  const ga = v('gmm', 'area');
  const gv = v('gmm', 'vector');
  /** An artifact as the runner passes it to a gathering stage: once, with every variant that read it. */
  const art = (from: string, readers: Reader[], metrics: Record<string, number>): InputArtifact => ({
    path: `/nowhere/${from}/${readers[0]![0]}`, kind: 'table', from, key: `${from}@${readers[0]![0]}`, stage: from.split('.')[0]!,
    variant: readers[0]![0], axes: readers[0]![1], usedBy: readers.map(([variant, axes]) => ({ variant, axes })), metrics,
  });
  // the data once (shared by all), the preprocessing once per normalisation, the clusters once per variant
  const arts = [
    art('spectra.spectra', [ka, kv, ga, gv], { classes: 3 }),
    art('clean.spectra', [ka, ga], { scale: 1.5 }),
    art('clusters.assignments', [ka], { ari: 0.4 }),
    art('clean.spectra', [kv, gv], { scale: 2.5 }),
    art('clusters.assignments', [kv], { ari: 0.5 }),
    art('clusters.assignments', [ga], { ari: 0.6 }),
    art('clusters.assignments', [gv], { ari: 0.7 }),
  ];

  it('gives every variant the metrics of the artifacts it read, shared ones included, in sweep order', () => {
    const rows = variantTable(arts);
    expect(rows.map((r) => r.variant)).toEqual([ka[0], kv[0], ga[0], gv[0]]);
    expect(rows.map((r) => r.axes)).toEqual([ka[1], kv[1], ga[1], gv[1]]);
    const values = new Map(rows.map((r) => [r.variant, r.values]));
    expect(values.get(ga[0])).toEqual({ 'spectra.classes': 3, 'clean.scale': 1.5, 'clusters.ari': 0.6 });
    expect(values.get(gv[0])).toEqual({ 'spectra.classes': 3, 'clean.scale': 2.5, 'clusters.ari': 0.7 });
    expect(values.get(kv[0])!['clean.scale']).toBe(2.5);
    expect(variantsOf(arts)).toEqual([ka[0], kv[0], ga[0], gv[0]]);
  });

  it('a variant whose every input is shared still gets its row', () => {
    // e.g. a swept parameter only the report reads: all variants read the same artifacts
    const shared = [art('clusters.assignments', [ka, kv], { ari: 0.4 })];
    expect(variantTable(shared).map((r) => [r.variant, r.values])).toEqual([[ka[0], { 'clusters.ari': 0.4 }], [kv[0], { 'clusters.ari': 0.4 }]]);
  });

  it('an unswept report uses every artifact once', () => {
    const plain: InputArtifact[] = [
      { path: '/a', kind: 'table', from: 'a.x', key: 'a', stage: 'a', variant: 'default', axes: {}, metrics: { m: 1 } },
      { path: '/b', kind: 'table', from: 'b.y', key: 'b', stage: 'b', variant: 'default', axes: {}, metrics: { m: 2 } },
    ];
    expect(usedByVariant(plain, ['default']).get('default')).toEqual(plain);
    expect(variantsOf(plain)).toEqual(['default']);
  });
});
