/**
 * The side-by-side part of a report fed by a sweep: one row per variant with
 * its swept values and the numeric metrics of every stage feeding the report,
 * and each metric that varies plotted against the first numeric sweep axis
 * (bars per value when no axis is numeric).
 */
import type { InputArtifact } from '../runner/stage-api.js';
import { axisTitle, categoryBarsChart, gridChart, linesChart, thin } from './charts.js';
import { isNum, round, type Section } from './sections.js';

export interface VariantMetrics {
  variant: string;
  axes: Record<string, unknown>;
  /** `stage.metric` → value */
  values: Record<string, number>;
}

export function variantTable(arts: InputArtifact[]): VariantMetrics[] {
  const byVariant = new Map<string, VariantMetrics>();
  for (const a of arts) {
    const v = a.variant ?? 'default';
    if (!byVariant.has(v)) byVariant.set(v, { variant: v, axes: a.axes ?? {}, values: {} });
  }
  for (const [v, used] of usedByVariant(arts, [...byVariant.keys()])) {
    const row = byVariant.get(v)!;
    for (const a of used) for (const [k, x] of Object.entries(a.metrics ?? {})) if (isNum(x)) row.values[`${a.stage ?? a.from}.${k}`] = x;
  }
  return [...byVariant.values()];
}

/**
 * The artifacts each variant used. The runner hands a gathering stage an
 * artifact shared by several variants only once, tagged with the first of
 * them, so the others would show holes where their shared stages' metrics
 * belong. An output's copies differ only along the axes its stage depends on,
 * so a variant without its own copy used the one that agrees with it on every
 * axis along which the copies differ; when no single copy does, the variant
 * is left without (a gap beats a wrong number).
 */
export function usedByVariant(arts: InputArtifact[], variants: string[]): Map<string, InputArtifact[]> {
  const used = new Map(variants.map((v) => [v, [] as InputArtifact[]]));
  const axesOf = new Map(arts.map((a) => [a.variant ?? 'default', a.axes ?? {}]));
  const byOutput = new Map<string, InputArtifact[]>();
  for (const a of arts) byOutput.set(a.from, [...(byOutput.get(a.from) ?? []), a]);
  for (const copies of byOutput.values()) {
    const names = [...new Set(copies.flatMap((a) => Object.keys(a.axes ?? {})))];
    const varying = names.filter((n) => new Set(copies.map((a) => fmtAxis(a.axes?.[n]))).size > 1);
    for (const v of variants) {
      const own = copies.find((a) => (a.variant ?? 'default') === v);
      const axes = axesOf.get(v) ?? {};
      const match = own ? [own] : copies.filter((a) => varying.every((n) => fmtAxis(a.axes?.[n]) === fmtAxis(axes[n])));
      if (match.length === 1) used.get(v)!.push(match[0]!);
    }
  }
  return used;
}

export function comparisonSection(rows: VariantMetrics[]): Section {
  const section: Section = { id: 'comparison', title: 'Comparison of variants', figures: [], tables: [], notes: [] };
  const axes = [...new Set(rows.flatMap((r) => Object.keys(r.axes)))];
  // metrics that every variant reports are comparable; stage seconds are not science
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.values)))]
    .filter((m) => !/\.(seconds|seconds_per_epoch|n|spectra|channels)$/.test(m))
    .filter((m) => rows.filter((r) => m in r.values).length >= 2)
    .sort();
  section.tables.push({
    caption: 'one row per variant: swept values, then metrics (stage.metric)',
    header: ['variant', ...axes, ...metrics],
    rows: rows.map((r) => [r.variant, ...axes.map((a) => fmtAxis(r.axes[a])), ...metrics.map((m) => (m in r.values ? round(r.values[m]!) : null))]),
  });
  const xAxis = axes.find((a) => rows.every((r) => typeof r.axes[a] === 'number'));
  section.figures.push(...(xAxis ? metricLines(rows, metrics, axes, xAxis) : metricBars(rows, metrics, axes)));
  return section;
}

/** Every varying metric against the numeric axis, one line per combination of the other axes. */
function metricLines(rows: VariantMetrics[], metrics: string[], axes: string[], xAxis: string): Section['figures'] {
  const others = axes.filter((a) => a !== xAxis);
  const figures: Section['figures'] = [];
  for (const m of metrics) {
    const pts = rows.filter((r) => m in r.values).map((r) => ({
      x: r.axes[xAxis] as number,
      y: r.values[m]!,
      series: others.length ? others.map((a) => `${a}=${fmtAxis(r.axes[a])}`).join(', ') : m,
    }));
    if (new Set(pts.map((p) => p.y)).size < 2) continue;
    figures.push({ title: `${m} vs ${xAxis}`, spec: linesChart(`${m} versus ${xAxis}`, pts, xAxis, m, { points: true }) });
  }
  return figures;
}

/**
 * Without a numeric axis there is no line to draw: each varying metric becomes
 * bars over the first axis's values, grouped by the remaining axes (or one bar
 * per variant when the variants carry no axes at all).
 */
function metricBars(rows: VariantMetrics[], metrics: string[], axes: string[]): Section['figures'] {
  const [first, ...others] = axes;
  const figures: Section['figures'] = [];
  for (const m of metrics) {
    const bars = rows.filter((r) => m in r.values).map((r) => ({
      x: first === undefined ? r.variant : fmtAxis(r.axes[first]),
      y: r.values[m]!,
      ...(others.length ? { group: others.map((a) => `${a}=${fmtAxis(r.axes[a])}`).join(', ') } : {}),
    }));
    if (new Set(bars.map((b) => b.y)).size < 2) continue;
    const by = first ?? 'variant';
    figures.push({ title: `${m} by ${by}`, spec: categoryBarsChart(`${m} by ${by}`, bars, by, m) });
  }
  return figures;
}

function fmtAxis(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Pseudospectra of every variant side by side: one column per variant, one row per group. */
export async function pseudospectraGrid(arts: InputArtifact[]): Promise<Section['figures']> {
  if (arts.length < 2) return [];
  const { readSpectra } = await import('../data/arrow-io.js');
  const rows: { x: number; y: number; row: string; column: string; series: string }[] = [];
  let xTitle = '';
  for (const a of arts) {
    const t = await readSpectra(a.path);
    xTitle = axisTitle(t.axisName, t.axisUnit);
    const kinds = (t.columns.kind ?? []).map(String);
    const groups = (t.columns.group ?? t.labels ?? []).map(String);
    const idx = thin(t.d, 200);
    for (let r = 0; r < t.n; r++) {
      if (kinds[r] !== 'pseudospectrum' && kinds[r] !== 'mean') continue;
      for (const j of idx) rows.push({ x: t.axis[j]!, y: t.spectra[r * t.d + j]!, row: `group ${groups[r]}`, column: a.variant ?? 'default', series: kinds[r]! });
    }
  }
  if (!rows.length) return [];
  return [{ title: 'pseudospectra of every variant', spec: gridChart('pseudospectra (red) over mean spectra, one column per variant', rows, xTitle, { mean: '#e08a2c', pseudospectrum: '#b01e2e' }) }];
}
