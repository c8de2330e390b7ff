/**
 * Vega-Lite specifications of the report's figures. Pure functions from plain
 * numbers to JSON specs; rendering to SVG happens elsewhere.
 */
export type VlSpec = Record<string, unknown>;
type Row = Record<string, number | string | boolean | null>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const WIDTH = 560;
const HEIGHT = 220;

// Vega cuts legend labels at 160 px; spectrum ids with their labels and curve names run longer
const CONFIG = { legend: { labelLimit: 320 } };

function base(title: string, values: Row[], extra: VlSpec = {}): VlSpec {
  return { $schema: SCHEMA, title, width: WIDTH, height: HEIGHT, data: { values }, config: CONFIG, ...extra };
}

export function axisTitle(name: string, unit: string): string {
  return unit ? `${name || 'axis'} (${unit})` : name || 'channel';
}

/** Keep at most `max` points of a curve: plots of 4000-channel spectra need no more. */
export function thin(n: number, max = 500): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const step = (n - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => Math.round(i * step));
}

export interface Series {
  name: string;
  values: ArrayLike<number>;
  sd?: ArrayLike<number>;
}

/** Lines along the spectral axis, optionally with ± sd bands. */
export function spectraChart(title: string, axis: ArrayLike<number>, xTitle: string, series: Series[], opts: { yTitle?: string; legend?: string; dash?: Record<string, number[]>; colors?: Record<string, string> } = {}): VlSpec {
  const idx = thin(axis.length);
  const values: Row[] = [];
  for (const [order, s] of series.entries()) {
    for (const i of idx) {
      const v = s.values[i]!;
      const row: Row = { x: axis[i]!, y: v, series: s.name, order };
      if (s.sd) { row.lo = v - s.sd[i]!; row.hi = v + s.sd[i]!; }
      values.push(row);
    }
  }
  const named = opts.colors ? series.map((s) => s.name).filter((n) => opts.colors![n]) : [];
  const color = {
    field: 'series', type: 'nominal', title: opts.legend || null,
    // fixed colours where the caller names them; series are drawn in the order given, so later ones lie on top
    ...(named.length === series.length ? { scale: { domain: named, range: named.map((n) => opts.colors![n]) }, sort: null } : {}),
  };
  const x = { field: 'x', type: 'quantitative', title: xTitle, scale: { zero: false, nice: false } };
  const layers: VlSpec[] = [];
  if (series.some((s) => s.sd)) {
    // the legend comes from the lines: the bands' pale fill makes unreadable swatches
    layers.push({ mark: { type: 'area', opacity: 0.18 }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: opts.yTitle ?? 'intensity' }, y2: { field: 'hi' }, color: { ...color, legend: null } } });
  }
  const strokeDash = opts.dash
    ? { field: 'series', type: 'nominal', legend: null, scale: { domain: Object.keys(opts.dash), range: Object.values(opts.dash) } }
    : undefined;
  layers.push({ mark: { type: 'line', strokeWidth: 1.4, clip: true }, encoding: { x, y: { field: 'y', type: 'quantitative', title: opts.yTitle ?? 'intensity' }, color, order: { field: 'order', type: 'quantitative' }, ...(strokeDash ? { strokeDash } : {}) } });
  // independent legends: with a shared one, the bands' `legend: null` would hide the lines' legend too
  return base(title, values, { layer: layers, ...(layers.length > 1 ? { resolve: { legend: { color: 'independent' } } } : {}) });
}

/** Curves of y against x, one line per series (training curves, elbow, sweeps). */
export function linesChart(title: string, rows: { x: number; y: number; series: string }[], xTitle: string, yTitle: string, opts: { logY?: boolean; points?: boolean; ruleX?: number; ruleLabel?: string } = {}): VlSpec {
  // k, epochs, latent sizes: ticks at 2.2, 2.4, … would suggest values that cannot exist
  const integerX = rows.every((r) => Number.isInteger(r.x));
  const layers: VlSpec[] = [{
    mark: { type: 'line', point: opts.points ?? rows.length < 60, strokeWidth: 1.6 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle, scale: { zero: false }, ...(integerX ? { axis: { tickMinStep: 1, format: 'd' } } : {}) },
      y: { field: 'y', type: 'quantitative', title: yTitle, scale: opts.logY ? { type: 'log' } : { zero: false } },
      color: { field: 'series', type: 'nominal', title: null },
    },
  }];
  if (opts.ruleX !== undefined) {
    layers.push({ data: { values: [{ x: opts.ruleX, label: opts.ruleLabel ?? '' }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#444' }, encoding: { x: { field: 'x', type: 'quantitative' } } });
  }
  return base(title, rows, { layer: layers });
}

/** A scatter of 2-D points coloured by a category. */
export function scatterChart(title: string, rows: { x: number; y: number; group: string }[], xTitle: string, yTitle: string, legend: string, colorScale?: { domain: string[]; range: string[] }): VlSpec {
  return base(title, rows, {
    width: 380, height: 320,
    mark: { type: 'circle', size: 28, opacity: 0.75 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle, scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: yTitle, scale: { zero: false } },
      color: { field: 'group', type: 'nominal', title: legend, ...(colorScale ? { scale: colorScale } : {}) },
    },
  });
}

/**
 * Histogram of values by group, the groups' bars stacked (a bin's total is its height), with an
 * optional vertical threshold. Overlaid translucent bars mixed their colours where groups share
 * a bin, so no colour in the legend matched the bars; `colors` fixes a colour per group.
 */
export function histogramChart(title: string, rows: { value: number; group: string }[], xTitle: string, threshold?: number, colors?: Record<string, string>): VlSpec {
  const groups = [...new Set(rows.map((r) => r.group))];
  const fixed = colors && groups.every((g) => colors[g]) ? { scale: { domain: groups, range: groups.map((g) => colors[g]!) } } : {};
  const layers: VlSpec[] = [{
    mark: { type: 'bar', stroke: 'white', strokeWidth: 0.5 },
    encoding: {
      x: { field: 'value', type: 'quantitative', bin: { maxbins: 40 }, title: xTitle },
      y: { aggregate: 'count', type: 'quantitative', title: 'spectra', stack: 'zero', axis: { tickMinStep: 1, format: 'd' } },
      color: { field: 'group', type: 'nominal', title: null, ...fixed },
    },
  }];
  if (threshold !== undefined && Number.isFinite(threshold)) {
    layers.push({ data: { values: [{ t: threshold }] }, mark: { type: 'rule', color: '#c00', strokeDash: [5, 3], strokeWidth: 2 }, encoding: { x: { field: 't', type: 'quantitative' } } });
  }
  return base(title, rows, { layer: layers });
}

/** Bars along the spectral axis (feature relevance). */
export function barsChart(title: string, rows: { x: number; y: number }[], xTitle: string, yTitle: string): VlSpec {
  return base(title, rows, {
    mark: { type: rows.length > 120 ? 'area' : 'bar', ...(rows.length > 120 ? { line: true, opacity: 0.6 } : {}) },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle, scale: { zero: false, nice: false } },
      y: { field: 'y', type: 'quantitative', title: yTitle },
    },
  });
}

/** A grid image (digit pixel relevance). */
export function heatmapChart(title: string, grid: number[][], legend: string): VlSpec {
  const rows: Row[] = [];
  grid.forEach((r, i) => r.forEach((v, j) => rows.push({ row: i, col: j, v })));
  return base(title, rows, {
    width: 240, height: 240,
    mark: 'rect',
    encoding: {
      x: { field: 'col', type: 'ordinal', title: null, axis: null },
      y: { field: 'row', type: 'ordinal', title: null, axis: null },
      color: { field: 'v', type: 'quantitative', title: legend, scale: { scheme: 'viridis' } },
    },
  });
}
