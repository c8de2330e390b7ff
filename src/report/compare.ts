/**
 * The side-by-side part of a report fed by a sweep: one row per variant with
 * its swept values and the numeric metrics of every stage feeding the report,
 * and each metric that varies plotted against the first numeric sweep axis
 * (bars per value when no axis is numeric).
 */
import type { InputArtifact } from '../core/stage-api.js';
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
    for (const r of readersOf(a)) if (!byVariant.has(r.variant)) byVariant.set(r.variant, { variant: r.variant, axes: r.axes, values: {} });
  }
  for (const [v, used] of usedByVariant(arts, [...byVariant.keys()])) {
    const row = byVariant.get(v)!;
    for (const a of used) for (const [k, x] of Object.entries(a.metrics ?? {})) if (isNum(x)) row.values[`${a.stage ?? a.from}.${k}`] = x;
  }
  return [...byVariant.values()];
}

/**
 * The variants that used an artifact, with their swept values: the runner
 * passes an artifact shared by several variants once and lists its readers;
 * without that list (an unswept run) it is its own variant's.
 */
export function readersOf(a: InputArtifact): { variant: string; axes: Record<string, unknown> }[] {
  return a.usedBy ?? [{ variant: a.variant ?? 'default', axes: a.axes ?? {} }];
}

/** The variants in the order the sweep lists them. */
export function variantsOf(arts: InputArtifact[]): string[] {
  return [...new Set(arts.flatMap((a) => readersOf(a).map((r) => r.variant)))];
}

/** The artifacts each variant used. */
export function usedByVariant(arts: InputArtifact[], variants: string[]): Map<string, InputArtifact[]> {
  const used = new Map(variants.map((v) => [v, [] as InputArtifact[]]));
  for (const a of arts) for (const r of readersOf(a)) used.get(r.variant)?.push(a);
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
    // a shared artifact fills the column of every variant that used it
    for (const { variant } of readersOf(a)) {
      for (let r = 0; r < t.n; r++) {
        if (kinds[r] !== 'pseudospectrum' && kinds[r] !== 'mean') continue;
        for (const j of idx) rows.push({ x: t.axis[j]!, y: t.spectra[r * t.d + j]!, row: `group ${groups[r]}`, column: variant, series: kinds[r]! });
      }
    }
  }
  if (!rows.length) return [];
  return [{ title: 'pseudospectra of every variant', spec: gridChart('pseudospectra (red) over mean spectra, one column per variant', rows, xTitle, { mean: '#e08a2c', pseudospectrum: '#b01e2e' }) }];
}
