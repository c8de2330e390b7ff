import { describe, expect, it } from 'vitest';
import { comparisonSection, usedByVariant, variantsOf, variantTable, type VariantMetrics } from '../../src/report/compare.js';
import type { InputArtifact } from '../../src/core/stage-api.js';
import { renderSvg } from '../../src/report/render.js';
import type { VlSpec } from '../../src/report/charts.js';

type Spec = VlSpec & { data: { values: Record<string, unknown>[] }; mark?: unknown; layer?: { mark: { type: string } }[]; encoding?: Record<string, unknown> };

const markOf = (spec: VlSpec): string => {
  const s = spec as Spec;
  const m = s.mark ?? s.layer?.[0]?.mark;
  return typeof m === 'string' ? m : (m as { type: string }).type;
};
const valuesOf = (spec: VlSpec): Record<string, unknown>[] => (spec as Spec).data.values;

describe('sweep comparison', () => {
  // an architecture sweep: no numeric axis
  const archRows: VariantMetrics[] = [
    { variant: 'arch=conv1d', axes: { arch: 'conv1d' }, values: { 'pseudo.roughness': 0.09, 'ae.loss': 0.21, 'ae.seconds': 30, 'clean.channels': 512, 'pseudo.groups_n': 4 } },
    { variant: 'arch=transformer', axes: { arch: 'transformer' }, values: { 'pseudo.roughness': 0.15, 'ae.loss': 0.34, 'ae.seconds': 12, 'clean.channels': 512, 'pseudo.groups_n': 4 } },
  ];

  it('draws one bar chart per varying metric over a categorical axis, in the sweep order', () => {
    const s = comparisonSection(archRows);
    // seconds are not compared; a metric equal in every variant has nothing to show
    expect(s.figures.map((f) => f.title)).toEqual(['ae.loss by arch', 'pseudo.roughness by arch']);
    for (const f of s.figures) expect(markOf(f.spec)).toBe('bar');
    expect(valuesOf(s.figures[1]!.spec)).toEqual([{ x: 'conv1d', y: 0.09 }, { x: 'transformer', y: 0.15 }]);
    const enc = (s.figures[1]!.spec as Spec).encoding as Record<string, { field: string; sort?: unknown; title?: unknown }>;
    expect(enc.x!.sort).toEqual(['conv1d', 'transformer']);
    expect(enc.y!.title).toBe('pseudo.roughness');
    expect(s.notes.join(' ')).not.toMatch(/see the table/);
    // the table still lists every variant
    expect(s.tables[0]!.rows.map((r) => r[0])).toEqual(['arch=conv1d', 'arch=transformer']);
  });

  it('keeps the order the sweep gives, not alphabetical order', () => {
    const s = comparisonSection([...archRows].reverse());
    const enc = (s.figures[0]!.spec as Spec).encoding as Record<string, { sort?: unknown }>;
    expect(enc.x!.sort).toEqual(['transformer', 'conv1d']);
  });

  it('groups the bars by the remaining categorical axes', () => {
    const rows: VariantMetrics[] = [];
    const loss: Record<string, number> = { 'dense,mse': 1, 'dense,poisson': 2, 'conv1d,mse': 3, 'conv1d,poisson': 4 };
    for (const arch of ['dense', 'conv1d']) {
      for (const l of ['mse', 'poisson']) rows.push({ variant: `arch=${arch},loss=${l}`, axes: { arch, loss: l }, values: { 'ae.val_loss': loss[`${arch},${l}`]! } });
    }
    const s = comparisonSection(rows);
    expect(s.figures).toHaveLength(1);
    const spec = s.figures[0]!.spec as Spec;
    expect(markOf(spec)).toBe('bar');
    expect(spec.encoding).toHaveProperty('xOffset.field', 'group');
    expect(spec.encoding).toHaveProperty('color.field', 'group');
    expect(valuesOf(spec)).toEqual([
      { x: 'dense', y: 1, group: 'loss=mse' },
      { x: 'dense', y: 2, group: 'loss=poisson' },
      { x: 'conv1d', y: 3, group: 'loss=mse' },
      { x: 'conv1d', y: 4, group: 'loss=poisson' },
    ]);
  });

  it('leaves out variants that lack a metric', () => {
    const rows: VariantMetrics[] = [
      ...archRows,
      { variant: 'arch=dense', axes: { arch: 'dense' }, values: { 'ae.loss': 0.5 } },
    ];
    const s = comparisonSection(rows);
    const rough = s.figures.find((f) => f.title === 'pseudo.roughness by arch')!;
    expect(valuesOf(rough.spec).map((v) => v.x)).toEqual(['conv1d', 'transformer']);
    const loss = s.figures.find((f) => f.title === 'ae.loss by arch')!;
    expect(valuesOf(loss.spec).map((v) => v.y)).toEqual([0.21, 0.34, 0.5]);
  });

  it('still draws lines against a numeric axis, one line per value of the other axes', () => {
    const rows: VariantMetrics[] = [];
    for (const arch of ['dense', 'pca']) {
      for (const k of [2, 4, 8]) rows.push({ variant: `arch=${arch},latent_dim=${k}`, axes: { arch, latent_dim: k }, values: { 'denoised.mse': (arch === 'pca' ? 2 : 1) / k } });
    }
    const s = comparisonSection(rows);
    expect(s.figures.map((f) => f.title)).toEqual(['denoised.mse vs latent_dim']);
    const spec = s.figures[0]!.spec;
    expect(markOf(spec)).toBe('line');
    const v = valuesOf(spec);
    expect(new Set(v.map((p) => p.series))).toEqual(new Set(['arch=dense', 'arch=pca']));
    expect(v.filter((p) => p.series === 'arch=pca').map((p) => [p.x, p.y])).toEqual([[2, 1], [4, 0.5], [8, 0.25]]);
  });

  it('renders the bars to SVG: one drawn bar per variant', async () => {
    const s = comparisonSection(archRows);
    const svg = await renderSvg(s.figures[1]!.spec);
    const group = /<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)<\/g>/s.exec(svg);
    expect(group, 'no bar marks in the SVG').not.toBeNull();
    const heights = [...group![1]!.matchAll(/<path [^>]*d="M[-\d.]+,[-\d.]+h[-\d.]+v([-\d.]+)/g)].map((m) => Math.abs(Number(m[1])));
    expect(heights).toHaveLength(2);
    // bars start at zero, so their heights are in the ratio of the values
    expect(heights[1]! / heights[0]!).toBeCloseTo(0.15 / 0.09, 1);
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
