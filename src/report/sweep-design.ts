/**
 * The shape of a sweep as a reader of its comparison sees it: which axes are
 * factors (what was varied on purpose) and which are replicates (seeds:
 * repetitions of one experiment), the groups of variants that differ only in
 * their replicates, the numeric factor to draw along, and one colour per series
 * used by every figure of the report.
 */

export interface VariantAxes {
  variant: string;
  axes: Record<string, unknown>;
}

export interface Group {
  /** The factors' values, e.g. `dense` or `arch=dense, loss=mse`. */
  label: string;
  /** Factor values (replicate axes left out). */
  axes: Record<string, unknown>;
  /** Colour key: the factors other than the x axis. */
  series: string;
  /** The value of the numeric x axis, when there is one. */
  x?: number;
  /** Variant ids, one per replicate, in sweep order. */
  variants: string[];
}

export interface SweepDesign {
  /** Every swept axis, in sweep order. */
  axes: string[];
  replicates: string[];
  /** Axes that are not replicates. */
  factors: string[];
  /** A numeric factor with several values: the x of line panels. */
  xAxis?: string;
  groups: Group[];
  groupOf: Map<string, Group>;
  /** Series in sweep order, and their colours. */
  series: string[];
  colors: Record<string, string>;
  /** Most replicates in any group (1: no replicates). */
  maxReplicates: number;
}

// Vega's tableau10: distinct, colour-blind-tolerable hues, the same in every figure
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#ff9da6', '#9d755d', '#bab0ac'];

export function paletteColor(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

export function fmtValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const label = (axes: Record<string, unknown>, names: string[], all: string): string =>
  names.length === 0 ? all : names.length === 1 ? fmtValue(axes[names[0]!]) : names.map((a) => `${a}=${fmtValue(axes[a])}`).join(', ');

export function sweepDesign(variants: VariantAxes[], replicateAxes: string[]): SweepDesign {
  const axes = [...new Set(variants.flatMap((v) => Object.keys(v.axes)))];
  const replicates = axes.filter((a) => replicateAxes.includes(a));
  const factors = axes.filter((a) => !replicates.includes(a));
  const numeric = (a: string): boolean => variants.every((v) => typeof v.axes[a] === 'number');
  const xAxis = factors.find((a) => numeric(a) && new Set(variants.map((v) => v.axes[a])).size > 1);
  const others = factors.filter((a) => a !== xAxis);
  const groups: Group[] = [];
  const groupOf = new Map<string, Group>();
  for (const v of variants) {
    const lab = label(v.axes, factors, 'all variants');
    let g = groups.find((x) => x.label === lab);
    if (!g) {
      g = {
        label: lab,
        axes: Object.fromEntries(factors.map((a) => [a, v.axes[a]])),
        series: label(v.axes, others, xAxis ? 'all variants' : lab),
        ...(xAxis ? { x: v.axes[xAxis] as number } : {}),
        variants: [],
      };
      groups.push(g);
    }
    g.variants.push(v.variant);
    groupOf.set(v.variant, g);
  }
  const series = [...new Set(groups.map((g) => g.series))];
  const colors = Object.fromEntries(series.map((s, i) => [s, paletteColor(i)]));
  const maxReplicates = Math.max(1, ...groups.map((g) => g.variants.length));
  return { axes, replicates, factors, xAxis, groups, groupOf, series, colors, maxReplicates };
}

/** A variant's name for a panel title: its factors, then its replicate (`dense · seed 2`). */
export function variantLabel(design: SweepDesign, variant: string, axes: Record<string, unknown>): string {
  const g = design.groupOf.get(variant);
  const reps = design.replicates.filter((a) => a in axes).map((a) => `${a} ${fmtValue(axes[a])}`);
  return [g && design.factors.length ? g.label : '', ...(design.maxReplicates > 1 ? reps : [])].filter(Boolean).join(' · ') || variant;
}

/** The colour scale every figure uses for the series (same order, same colours). */
export function seriesScale(design: SweepDesign): { domain: string[]; range: string[] } {
  return { domain: design.series, range: design.series.map((s) => design.colors[s]!) };
}
