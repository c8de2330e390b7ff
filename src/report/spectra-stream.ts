/**
 * What the report draws from a spectra table, read record batch by record
 * batch: a table of 10⁶ spectra (gigabytes) is summarised by a few group means
 * and a handful of example rows, so the report never holds it whole. Sums run
 * in table row order, so the means and sds are the bits a whole-table pass gives.
 */
import type { Cell } from '../data/arrow-io.js';

export interface SpectraHead {
  n: number;
  d: number;
  axis: Float64Array;
  axisName: string;
  axisUnit: string;
  ragged: boolean;
  hasClean: boolean;
}

export interface GroupStats {
  label: string;
  count: number;
  values: Float64Array;
  sd: Float64Array;
}

/** A row read back: its index in the table, id, label, spectrum and clean spectrum. */
export interface PickedRow {
  row: number;
  id: string;
  label: string | null;
  spectrum: Float32Array;
  clean?: Float32Array;
}

/** The rows of each label (row order), labels in natural order; 'all' without labels. */
export function groupRows(labels: Cell[] | undefined, n: number): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const l = labels ? String(labels[i] ?? '(none)') : 'all';
    let arr = m.get(l);
    if (!arr) { arr = []; m.set(l, arr); }
    arr.push(i);
  }
  return new Map([...m].sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true })));
}

/** Round-robin over labels so the examples show every group. */
export function pickExamples(groups: Map<string, number[]>, count: number): number[] {
  const lists = [...groups.values()];
  const out: number[] = [];
  for (let r = 0; out.length < count && lists.some((l) => l.length > r); r++) {
    for (const l of lists) if (l[r] !== undefined && out.length < count) out.push(l[r]!);
  }
  return out;
}

/** Ids and labels (and any other scalar columns asked for), without the spectra. */
export async function scalarColumns(path: string, names: string[]): Promise<{ n: number; columns: Record<string, Cell[]> }> {
  const { readScalarColumns } = await import('../data/arrow-io.js');
  return readScalarColumns(path, names);
}

/**
 * One pass over the table: its shape, and the rows `wanted` accepts (by row
 * number and id) copied out. `stats` (label → rows) adds per-label sums, then a
 * second pass the squared deviations: mean ± sd of those groups.
 */
export async function streamSpectra(
  path: string,
  wanted: (row: number, id: string) => boolean,
  stats?: { groups: Map<string, number[]>; labels: Cell[] | undefined },
): Promise<{ head: SpectraHead | undefined; rows: PickedRow[]; groups: GroupStats[] }> {
  const { readSpectraBatches } = await import('../data/arrow-io.js');
  let head: SpectraHead | undefined;
  const rows: PickedRow[] = [];
  // label → slot of the groups summed; other labels are skipped
  const slot = new Map<string, number>();
  stats?.groups.forEach((_, label) => slot.set(label, slot.size));
  const sums: Float64Array[] = [];
  const groupOf = (row: number): number | undefined => (stats ? slot.get(stats.labels ? String(stats.labels[row] ?? '(none)') : 'all') : undefined);
  for await (const { first, t } of readSpectraBatches(path)) {
    head ??= { n: 0, d: t.d, axis: t.axis, axisName: t.axisName, axisUnit: t.axisUnit, ragged: t.ragged !== undefined, hasClean: t.clean !== undefined };
    head.n += t.n;
    if (head.ragged) continue;
    const d = t.d;
    for (let i = 0; i < t.n; i++) {
      const r = first + i;
      if (wanted(r, t.ids[i]!)) {
        rows.push({
          row: r, id: t.ids[i]!, label: t.labels?.[i] ?? null, spectrum: t.spectra.slice(i * d, (i + 1) * d),
          ...(t.clean ? { clean: t.clean.slice(i * d, (i + 1) * d) } : {}),
        });
      }
      const g = groupOf(r);
      if (g === undefined) continue;
      const s = (sums[g] ??= new Float64Array(d));
      for (let j = 0; j < d; j++) s[j]! += t.spectra[i * d + j]!;
    }
  }
  if (!stats || !head || head.ragged) return { head, rows, groups: [] };
  const groups = [...stats.groups].map(([label, idx], g) => {
    const mean = sums[g] ?? new Float64Array(head!.d);
    for (let j = 0; j < mean.length; j++) mean[j]! /= idx.length;
    return { label, count: idx.length, values: mean, sd: new Float64Array(head!.d) };
  });
  for await (const { first, t } of readSpectraBatches(path)) {
    const d = t.d;
    for (let i = 0; i < t.n; i++) {
      const g = groupOf(first + i);
      if (g === undefined) continue;
      const { values: mean, sd } = groups[g]!;
      for (let j = 0; j < d; j++) sd[j]! += (t.spectra[i * d + j]! - mean[j]!) ** 2;
    }
  }
  for (const { sd, count } of groups) for (let j = 0; j < sd.length; j++) sd[j] = Math.sqrt(sd[j]! / Math.max(1, count - 1));
  return { head, rows, groups };
}
