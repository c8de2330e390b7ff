/**
 * The side-by-side part of a report fed by a sweep: one row per variant with
 * its swept values and the numeric metrics of every stage feeding the report,
 * and each metric that varies plotted against the first numeric sweep axis.
 */
import type { InputArtifact } from '../runner/stage-api.js';
import { axisTitle, gridChart, linesChart, thin } from './charts.js';
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
    let row = byVariant.get(v);
    if (!row) { row = { variant: v, axes: a.axes ?? {}, values: {} }; byVariant.set(v, row); }
    for (const [k, x] of Object.entries(a.metrics ?? {})) if (isNum(x)) row.values[`${a.stage ?? a.from}.${k}`] = x;
  }
  return [...byVariant.values()];
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
  if (!xAxis) {
    section.notes.push('No numeric sweep axis: see the table.');
    return section;
  }
  const others = axes.filter((a) => a !== xAxis);
  for (const m of metrics) {
    const pts = rows.filter((r) => m in r.values).map((r) => ({
      x: r.axes[xAxis] as number,
      y: r.values[m]!,
      series: others.length ? others.map((a) => `${a}=${fmtAxis(r.axes[a])}`).join(', ') : m,
    }));
    if (new Set(pts.map((p) => p.y)).size < 2) continue;
    section.figures.push({ title: `${m} vs ${xAxis}`, spec: linesChart(`${m} versus ${xAxis}`, pts, xAxis, m, { points: true }) });
  }
  return section;
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
