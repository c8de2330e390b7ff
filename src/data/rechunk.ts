/**
 * Regroup a stream of spectra batches into chunks of exactly `rows` rows (the last
 * may be shorter). Streaming stages use it so that their chunks start at the same
 * rows as the in-memory path's internal batches (e.g. a model's 256-row batches),
 * which keeps the two paths' results bit-identical whatever the file's batch size.
 */
import { sliceSpectra, type SpectraTable } from './arrow-io.js';

export async function* rechunk(batches: AsyncIterable<{ t: SpectraTable }>, rows: number): AsyncGenerator<{ first: number; t: SpectraTable }> {
  let parts: SpectraTable[] = [];
  let pending = 0;
  let first = 0;
  for await (const { t } of batches) {
    parts.push(t);
    pending += t.n;
    while (pending >= rows) {
      const all = concatSpectra(parts);
      yield { first, t: sliceSpectra(all, 0, rows) };
      first += rows;
      pending -= rows;
      parts = pending > 0 ? [sliceSpectra(all, rows, all.n)] : [];
    }
  }
  if (pending > 0) yield { first, t: concatSpectra(parts) };
}

/** Rows of several tables with the same columns, one after another. */
export function concatSpectra(parts: SpectraTable[]): SpectraTable {
  if (parts.length === 1) return parts[0]!;
  const head = parts[0]!;
  const d = head.d;
  const n = parts.reduce((s, p) => s + p.n, 0);
  const join = (pick: (p: SpectraTable) => Float32Array): Float32Array => {
    const out = new Float32Array(n * d);
    let at = 0;
    for (const p of parts) {
      out.set(pick(p), at);
      at += p.n * d;
    }
    return out;
  };
  const out: SpectraTable = {
    ...head, n, ids: parts.flatMap((p) => p.ids), spectra: join((p) => p.spectra),
    columns: Object.fromEntries(Object.keys(head.columns).map((k) => [k, parts.flatMap((p) => p.columns[k]!)])),
  };
  if (head.labels) out.labels = parts.flatMap((p) => p.labels!);
  if (head.clean) out.clean = join((p) => p.clean!);
  return out;
}
