/**
 * Which variant used which artifact in a report fed by a sweep, and each
 * variant's numeric metrics (`stage.metric`) gathered from the artifacts it read.
 */
import type { InputArtifact, MetricInfo } from '../core/stage-api.js';
import type { VariantMetrics } from './overview.js';

export function variantTable(arts: InputArtifact[]): VariantMetrics[] {
  const byVariant = new Map<string, VariantMetrics>();
  for (const a of arts) {
    for (const r of readersOf(a)) if (!byVariant.has(r.variant)) byVariant.set(r.variant, { variant: r.variant, axes: r.axes, values: {} });
  }
  for (const [v, used] of usedByVariant(arts, [...byVariant.keys()])) {
    const row = byVariant.get(v)!;
    for (const a of used) for (const [k, x] of Object.entries(a.metrics ?? {})) if (isFiniteNumber(x)) row.values[`${a.stage ?? a.from}.${k}`] = x;
  }
  return [...byVariant.values()];
}

/** What the producing stages declare about their metrics, as `stage.metric` → declaration. */
export function metricInfoOf(arts: InputArtifact[]): Record<string, MetricInfo> {
  const out: Record<string, MetricInfo> = {};
  for (const a of arts) for (const [k, info] of Object.entries(a.metricInfo ?? {})) out[`${a.stage ?? a.from}.${k}`] = info;
  return out;
}

/** The sweep's replicate axes, as the runner passes them to a gathering stage. */
export function replicatesOf(arts: InputArtifact[]): string[] {
  return arts.find((a) => a.replicates)?.replicates ?? [];
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

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
