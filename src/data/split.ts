/**
 * Seeded train/validation/test partition, stratified by label when asked:
 * each label group is shuffled with its own stream and cut by largest-remainder
 * rounding, so every split gets each class in the requested proportion (±1).
 */
import { deriveSeed, Rng } from '../util/random.js';
import { readSpectraBatches, spectraHeader, SpectraWriter, type SpectraTable } from './arrow-io.js';
import { rechunk } from './rechunk.js';

export interface SplitFractions { train: number; validation: number; test: number }
export type SplitName = keyof SplitFractions;
export const SPLITS: SplitName[] = ['train', 'validation', 'test'];

/** Integer counts summing to n, proportional to the fractions (largest remainder). */
export function allocate(n: number, f: SplitFractions): Record<SplitName, number> {
  const total = f.train + f.validation + f.test;
  const exact = SPLITS.map((s) => (n * f[s]) / total);
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = SPLITS.map((_, i) => i).sort((a, b) => (exact[b]! - counts[b]!) - (exact[a]! - counts[a]!) || a - b);
  for (const i of order) {
    if (left <= 0) break;
    if (f[SPLITS[i]!] > 0) {
      counts[i]!++;
      left--;
    }
  }
  return { train: counts[0]!, validation: counts[1]!, test: counts[2]! };
}

export function splitIndices(n: number, labels: (string | null)[] | undefined, f: SplitFractions, stratify: boolean, seed: number): Record<SplitName, number[]> {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const key = stratify && labels ? `l:${labels[i] ?? '\u0000null'}` : 'all';
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(i);
  }
  const out: Record<SplitName, number[]> = { train: [], validation: [], test: [] };
  for (const [key, members] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const rng = new Rng(deriveSeed(seed, 'split', key));
    const shuffled = rng.shuffle([...members]);
    const counts = allocate(shuffled.length, f);
    let at = 0;
    for (const s of SPLITS) {
      out[s].push(...shuffled.slice(at, at + counts[s]));
      at += counts[s];
    }
  }
  // Keep the input order inside each split: stable, easy to compare with the source table.
  for (const s of SPLITS) out[s].sort((a, b) => a - b);
  return out;
}

/** The rows `idx` of a spectra table (all columns, clean and ragged grids included). */
export function subsetSpectra(t: SpectraTable, idx: number[]): SpectraTable {
  const d = t.d;
  const pick = (a: Float32Array) => {
    const out = new Float32Array(idx.length * d);
    idx.forEach((r, i) => out.set(a.subarray(r * d, (r + 1) * d), i * d));
    return out;
  };
  const out: SpectraTable = {
    ...t,
    n: idx.length,
    ids: idx.map((r) => t.ids[r]!),
    spectra: pick(t.spectra),
    columns: Object.fromEntries(Object.entries(t.columns).map(([k, v]) => [k, idx.map((r) => v[r]!)])),
    metadata: { ...t.metadata },
  };
  if (t.labels) out.labels = idx.map((r) => t.labels![r]!);
  if (t.clean) out.clean = pick(t.clean);
  if (t.ragged) out.ragged = { x: idx.map((r) => t.ragged!.x[r]!), y: idx.map((r) => t.ragged!.y[r]!) };
  return out;
}

/** Row count and labels of a spectra file, read batch by batch (what `splitIndices` needs). */
export async function splitKeys(input: string, signal?: AbortSignal): Promise<{ n: number; labels?: (string | null)[] }> {
  let n = 0;
  let labels: (string | null)[] | undefined;
  for await (const { t } of readSpectraBatches(input)) {
    if (signal?.aborted) throw new Error('aborted');
    n += t.n;
    if (t.labels) for (const l of t.labels) (labels ??= []).push(l);
  }
  return labels ? { n, labels } : { n };
}

/**
 * Write each split of a large file without loading it: one streamed pass per split,
 * its rows regrouped into record batches of `rows` rows, so the files are the bytes
 * `writeSpectra(subsetSpectra(...))` writes (which cuts at the same row counts).
 */
export async function writeSplitsStreamed(
  input: string, outputs: Record<SplitName, string>, parts: Record<SplitName, number[]>, rows: number,
  progress: (split: SplitName, done: number) => void, signal?: AbortSignal,
): Promise<void> {
  let n = 0;
  for (const s of SPLITS) n = Math.max(n, parts[s].at(-1) ?? -1);
  for (const s of SPLITS) {
    const keep = new Uint8Array(n + 1);
    for (const r of parts[s]) keep[r] = 1;
    let header: ReturnType<typeof spectraHeader> | undefined;
    let done = 0;
    async function* picked(): AsyncGenerator<{ t: SpectraTable }> {
      for await (const { first, t } of readSpectraBatches(input)) {
        if (signal?.aborted) throw new Error('aborted');
        const idx: number[] = [];
        for (let i = 0; i < t.n; i++) if (keep[first + i]) idx.push(i);
        const part = { ...subsetSpectra(t, idx), metadata: { ...t.metadata, split: s } };
        header ??= spectraHeader(part);
        yield { t: part };
      }
    }
    let writer: SpectraWriter | undefined;
    try {
      for await (const { t } of rechunk(picked(), rows)) {
        writer ??= new SpectraWriter(outputs[s], header!);
        writer.write(t);
        done += t.n;
        progress(s, done);
      }
      // an empty split is a file with the schema and no batches, as writeSpectra writes it
      writer ??= new SpectraWriter(outputs[s], header!);
      writer.close();
    } catch (e) {
      writer?.abort();
      throw e;
    }
  }
}
