/**
 * The overview of a sweep: one figure of small multiples (a panel per metric
 * that differs between variants, grouped by stage, independent scales), metrics
 * equal everywhere listed once as text, replicates summarised as mean ± sd, the
 * best variant marked by the direction each stage declares, and a table that
 * stays readable however many metrics there are. Built from plain numbers, so
 * the report stage and `specflow compare --format html` draw the same thing.
 */
import { isTimingMetric, type MetricInfo } from '../core/stage-api.js';
import type { VlSpec } from './charts.js';
import { fmtValue, seriesScale, sweepDesign, type Group, type SweepDesign } from './sweep-design.js';
import type { Section, TableBlock } from './sections.js';

export interface VariantMetrics {
  variant: string;
  axes: Record<string, unknown>;
  /** `stage.metric` → value */
  values: Record<string, number>;
}

export interface Summary {
  mean: number;
  /** Sample sd over the replicates; null with one. */
  sd: number | null;
  n: number;
  values: number[];
}

export interface MetricOverview {
  /** `stage.metric` */
  name: string;
  stage: string;
  metric: string;
  better?: 'lower' | 'higher';
  /** Group label → summary over its replicates. */
  byGroup: Map<string, Summary>;
  /** The group with the best mean, when the metric has a direction and several groups report it. */
  best?: string;
}

export interface Overview {
  design: SweepDesign;
  varying: MetricOverview[];
  constants: { name: string; value: number }[];
  /** Metrics with one value where reported, but not reported by every variant (a failed stage, a PCA-only measure): n reporting. */
  partial: { name: string; value: number; n: number }[];
  /** Metrics that only repeat a sweep axis's value (`codes.latent_dim` in a latent_dim sweep): name → axis. */
  echoes: { name: string; axis: string }[];
  /** Metrics whose summary is the same for every group: they differ only between replicates (e.g. the data's noise per seed). */
  replicateOnly: string[];
}

export function summarise(values: number[]): Summary {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, sd, n, values };
}

const same = (a: number, b: number): boolean => a === b || Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));

export function buildOverview(rows: VariantMetrics[], info: Record<string, MetricInfo>, replicates: string[]): Overview {
  const design = sweepDesign(rows, replicates);
  // first appearance follows the pipeline's stage order; metrics are then grouped by stage
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.values)))].filter((m) => !isTimingMetric(m.slice(m.indexOf('.') + 1)));
  const stages = [...new Set(names.map(stageOf))];
  names.sort((a, b) => stages.indexOf(stageOf(a)) - stages.indexOf(stageOf(b)));
  const varying: MetricOverview[] = [];
  const constants: Overview['constants'] = [];
  const partial: Overview['partial'] = [];
  const echoes: Overview['echoes'] = [];
  const replicateOnly: string[] = [];
  for (const name of names) {
    const reported = rows.filter((r) => name in r.values).map((r) => r.values[name]!);
    if (reported.every((v) => same(v, reported[0]!))) {
      if (reported.length === rows.length) constants.push({ name, value: reported[0]! });
      else partial.push({ name, value: reported[0]!, n: reported.length });
      continue;
    }
    const echoed = design.factors.find((a) => rows.every((r) => !(name in r.values) || r.axes[a] === r.values[name]));
    if (echoed) { echoes.push({ name, axis: echoed }); continue; }
    const byGroup = new Map<string, Summary>();
    for (const g of design.groups) {
      const vals = rows.filter((r) => g.variants.includes(r.variant) && name in r.values).map((r) => r.values[name]!);
      if (vals.length) byGroup.set(g.label, summarise(vals));
    }
    const summaries = [...byGroup.values()];
    if (design.maxReplicates > 1 && summaries.every((x) => same(x.mean, summaries[0]!.mean) && same(x.sd ?? 0, summaries[0]!.sd ?? 0))) { replicateOnly.push(name); continue; }
    const better = info[name]?.better;
    const m: MetricOverview = { name, stage: stageOf(name), metric: name.slice(name.indexOf('.') + 1), ...(better ? { better } : {}), byGroup };
    if (better && byGroup.size > 1) {
      const sign = better === 'lower' ? 1 : -1;
      m.best = [...byGroup].reduce((b, x) => (sign * x[1].mean < sign * b[1].mean ? x : b))[0];
    }
    varying.push(m);
  }
  return { design, varying, constants, partial, echoes, replicateOnly };
}

function stageOf(name: string): string {
  const i = name.indexOf('.');
  return i < 0 ? name : name.slice(0, i);
}

const ARROW = { lower: '↓', higher: '↑' } as const;

export function fmtNumber(x: number): string {
  return String(Number(x.toPrecision(4)));
}

/** `mean ± sd` with the sd to two significant digits and the mean to the same decimal place. */
export function fmtSummary(s: Summary): string {
  if (s.sd === null) return fmtNumber(s.mean);
  if (s.sd === 0 || !Number.isFinite(s.sd)) return `${fmtNumber(s.mean)} ± 0`;
  const decimals = Math.max(0, 1 - Math.floor(Math.log10(s.sd)));
  if (decimals > 12) return `${fmtNumber(s.mean)} ± ${fmtNumber(s.sd)}`;
  return `${s.mean.toFixed(decimals)} ± ${s.sd.toFixed(decimals)}`;
}

/** A variant that did not run to the end: the stage that failed (or was interrupted) and its error's first line. */
export interface VariantFailure {
  variant: string;
  stage: string;
  error?: string;
  /** `failed` unless said otherwise. */
  status?: string;
}

/** One note per failure, as the sweep's report and `compare --format html` both say it. */
export function failureNotes(failures: VariantFailure[]): string[] {
  return failures.map((f) => `${f.variant}: ${f.stage} ${f.status ?? 'failed'}${f.error ? `: ${f.error}` : ''} — what depends on it is missing here.`);
}

/** The comparison section: notes (failed variants, replicates, constants), the table and the overview figure. */
export function overviewSection(rows: VariantMetrics[], info: Record<string, MetricInfo>, replicates: string[], failures: VariantFailure[] = []): Section {
  const ov = buildOverview(rows, info, replicates);
  const { design } = ov;
  const section: Section = { id: 'comparison', title: 'Comparison of variants', figures: [], tables: [], notes: failureNotes(failures), figuresFirst: true };
  if (design.replicates.length && design.maxReplicates > 1) {
    const reps = design.replicates.join(' × ');
    section.notes.push(`${reps} ${design.replicates.length > 1 ? 'are replicate axes' : 'is a replicate axis'}: each value is the mean ± sd over the ${design.maxReplicates} runs of a variant (n in the table); open circles in the figure are the single runs.`);
  }
  const ranked = ov.varying.filter((m) => m.best);
  if (ranked.length) {
    const noise = design.maxReplicates > 1 ? ' A difference smaller than the sd is within replicate-to-replicate noise.' : '';
    section.notes.push(`↓ lower is better, ↑ higher is better (as each stage declares); ★ and a ring mark the variant with the best mean.${noise}`);
  }
  if (ov.constants.length) section.notes.push(`Same in every variant (not charted): ${ov.constants.map((c) => `${c.name} ${fmtNumber(c.value)}`).join(' · ')}.`);
  if (ov.partial.length) section.notes.push(`Reported by some variants only, with one value (not charted): ${ov.partial.map((c) => `${c.name} ${fmtNumber(c.value)} (${c.n} of ${rows.length} variants)`).join(' · ')}.`);
  if (ov.replicateOnly.length) section.notes.push(`Differ only between replicates, the same in every variant (not charted): ${ov.replicateOnly.join(' · ')}.`);
  if (ov.echoes.length) section.notes.push(`Repeat a swept value (not charted): ${ov.echoes.map((e) => `${e.name} = ${e.axis}`).join(' · ')}.`);
  if (!ov.varying.length) {
    section.notes.push('No metric differs between the variants.');
    return section;
  }
  section.tables.push(overviewTable(ov));
  section.figures.push({
    title: 'overview: every metric that differs between variants',
    caption: `One panel per metric that differs between variants, grouped by stage; each panel has its own scale.${design.xAxis ? ` Lines run along ${design.xAxis}.` : ''}${ranked.length ? ' A ring marks the best variant.' : ''}`,
    spec: overviewFigure(ov),
  });
  return section;
}

/**
 * Variants as rows with (stage, metric) as two-level headers; transposed —
 * metrics as rows, variants as columns — when metrics outnumber variants, so
 * the table is read down rather than scrolled across.
 */
export function overviewTable(ov: Overview): TableBlock {
  const { design } = ov;
  const reps = design.maxReplicates > 1;
  const cell = (m: MetricOverview, g: Group): string | number | null => {
    const s = m.byGroup.get(g.label);
    if (!s) return null;
    const text = fmtSummary(s);
    return m.best === g.label ? `${text} ★` : s.sd === null ? Number(text) : text;
  };
  const metricName = (m: MetricOverview): string => (m.better ? `${m.metric} ${ARROW[m.better]}` : m.metric);
  const colName = (g: Group): string => (reps ? `${g.label} (n=${g.variants.length})` : g.label);
  const caption = reps ? 'mean ± sd over the replicates of each variant' : 'metrics that differ between variants';
  if (ov.varying.length > design.groups.length) {
    let last = '';
    return {
      caption: `${caption}; one column per variant`,
      header: ['stage', 'metric', ...design.groups.map(colName)],
      rows: ov.varying.map((m) => {
        const stage = m.stage === last ? '' : m.stage;
        last = m.stage;
        return [stage, metricName(m), ...design.groups.map((g) => cell(m, g))];
      }),
    };
  }
  const lead = design.factors.length ? design.factors : ['variant'];
  const stageSpans: { label: string; span: number }[] = [];
  for (const m of ov.varying) {
    const lastSpan = stageSpans[stageSpans.length - 1];
    if (lastSpan && lastSpan.label === m.stage) lastSpan.span++;
    else stageSpans.push({ label: m.stage, span: 1 });
  }
  return {
    caption: `${caption}; one row per variant`,
    headerGroups: [{ label: '', span: lead.length + (reps ? 1 : 0) }, ...stageSpans],
    header: [...lead, ...(reps ? ['n'] : []), ...ov.varying.map(metricName)],
    rows: design.groups.map((g) => [
      ...(design.factors.length ? design.factors.map((a) => fmtValue(g.axes[a])) : [g.label]),
      ...(reps ? [g.variants.length] : []),
      ...ov.varying.map((m) => cell(m, g)),
    ]),
  };
}

const PANEL_H = 110;
const COLUMNS = 4;

/** One figure: a block per stage, a panel per varying metric. */
export function overviewFigure(ov: Overview): VlSpec {
  const { design } = ov;
  const stages = [...new Set(ov.varying.map((m) => m.stage))];
  const independent = { scale: { x: 'independent', y: 'independent' } };
  const blocks = stages.map((stage) => ({
    title: { text: stage, anchor: 'start', fontSize: 13, offset: 6 },
    concat: ov.varying.filter((m) => m.stage === stage).map((m) => panel(m, design)),
    columns: COLUMNS,
    spacing: 24,
    resolve: independent,
  }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Every metric that differs between variants', anchor: 'start' },
    vconcat: blocks,
    spacing: 18,
    resolve: independent,
    config: { legend: { labelLimit: 320, orient: 'top' }, title: { subtitleColor: '#5b6475' } },
  };
}

function panel(m: MetricOverview, design: SweepDesign): VlSpec {
  const color = { field: 'series', type: 'nominal', title: null, scale: seriesScale(design), sort: design.series };
  const points: Record<string, unknown>[] = [];
  const single: Record<string, unknown>[] = [];
  for (const g of design.groups) {
    const s = m.byGroup.get(g.label);
    if (!s) continue;
    const at = design.xAxis ? { x: g.x! } : { x: g.label };
    points.push({ ...at, series: g.series, mean: s.mean, lo: s.sd === null ? s.mean : s.mean - s.sd, hi: s.sd === null ? s.mean : s.mean + s.sd, best: m.best === g.label });
    if (s.n > 1) for (const v of s.values) single.push({ ...at, series: g.series, value: v });
  }
  const subtitle = [m.better ? `${ARROW[m.better]} ${m.better} is better` : '', m.best ? `best: ${m.best}` : ''].filter(Boolean).join(', ');
  const title = { text: m.metric, ...(subtitle ? { subtitle } : {}), fontSize: 12, subtitleFontSize: 10, anchor: 'start' };
  // padding keeps the extreme dots (and the best variant's ring) off the panel's edge
  const y = (field: string): Record<string, unknown> => ({ field, type: 'quantitative', title: null, scale: { zero: false, padding: 10 }, axis: { tickCount: 4, format: '~g' } });
  const layers: VlSpec[] = [];
  if (design.xAxis) {
    const values = design.groups.map((g) => g.x!);
    const x = {
      field: 'x', type: 'quantitative', title: design.xAxis,
      // latent sizes 2, 4, 8, 16: evenly spaced on a log₂ axis, ticks only where variants are
      scale: logScale(values) ? { type: 'log', base: 2, nice: false } : { zero: false, nice: false },
      axis: { values: [...new Set(values)], format: '~g', grid: false },
    };
    // the line first: the figure's legend takes its symbols from it, not from the pale band
    layers.push({ mark: { type: 'line', strokeWidth: 1.6, point: { filled: true, size: 30 } }, encoding: { x, y: y('mean'), color } });
    if (single.length) layers.push({ mark: { type: 'area', opacity: 0.18 }, encoding: { x, y: y('lo'), y2: { field: 'hi' }, color } });
    if (single.length) layers.push({ data: { values: single }, mark: { type: 'point', size: 16, opacity: 0.6, strokeWidth: 1 }, encoding: { x, y: y('value'), color } });
    if (m.best) layers.push({ transform: [{ filter: 'datum.best' }], mark: { type: 'point', size: 220, color: '#1d2330', strokeWidth: 1.5, filled: false }, encoding: { x, y: y('mean') } });
    return { title, width: 170, height: PANEL_H, data: { values: points }, layer: layers };
  }
  const order = design.groups.map((g) => g.label);
  const width = Math.max(150, 44 * order.length);
  // about 6 px a character at the axis font: slant the labels only when they would collide
  const slant = Math.max(...order.map((l) => l.length)) * 6 > width / order.length;
  // the axis's name is in the legend and the table; each panel repeating it is noise
  const x = { field: 'x', type: 'nominal', sort: order, title: null, axis: { labelAngle: slant ? -30 : 0, labelLimit: 120 } };
  if (single.length) layers.push({ mark: { type: 'rule', strokeWidth: 2 }, encoding: { x, y: y('lo'), y2: { field: 'hi' }, color } });
  if (single.length) layers.push({ data: { values: single }, mark: { type: 'point', size: 18, opacity: 0.7, strokeWidth: 1 }, encoding: { x, y: y('value'), color } });
  layers.push({ mark: { type: 'point', filled: true, size: 70, opacity: 1 }, encoding: { x, y: y('mean'), color } });
  if (m.best) layers.push({ transform: [{ filter: 'datum.best' }], mark: { type: 'point', size: 260, color: '#1d2330', strokeWidth: 1.5, filled: false }, encoding: { x, y: y('mean') } });
  return { title, width, height: PANEL_H, data: { values: points }, layer: layers };
}

function logScale(values: number[]): boolean {
  const pos = values.filter((v) => v > 0);
  return pos.length === values.length && new Set(values).size >= 3 && Math.max(...pos) / Math.min(...pos) >= 8;
}
