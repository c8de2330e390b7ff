/** SpectraTable ↔ row-wise Float64 working copy for the preprocessing steps. */
import type { SpectraTable } from '../arrow-io.js';
import type { Work } from './steps.js';

/** Float64 rows as views of one buffer (one allocation, a typed-array copy, no per-value work). */
function rowsOf(data: Float32Array, n: number, d: number): Float64Array[] {
  const all = new Float64Array(n * d);
  all.set(data);
  const rows = new Array<Float64Array>(n);
  for (let i = 0; i < n; i++) rows[i] = all.subarray(i * d, (i + 1) * d);
  return rows;
}

export function toWork(t: SpectraTable): Work {
  if (t.ragged) {
    return { ids: t.ids, axis: null, xs: t.ragged.x.map((x) => Float64Array.from(x)), spectrum: t.ragged.y.map((y) => Float64Array.from(y)) };
  }
  const axis = Float64Array.from(t.axis);
  const w: Work = { ids: t.ids, axis, xs: t.ids.map(() => axis), spectrum: rowsOf(t.spectra, t.n, t.d) };
  if (t.clean) w.clean = rowsOf(t.clean, t.n, t.d);
  return w;
}

/** The processed table: same ids, labels, metadata columns; new values and axis. */
export function fromWork(t: SpectraTable, w: Work, steps: string): SpectraTable {
  const out: SpectraTable = { ...t, metadata: { ...t.metadata, preprocess: steps } };
  delete out.ragged;
  delete out.clean;
  if (!w.axis) {
    out.d = 0;
    out.axis = new Float64Array(0);
    out.spectra = new Float32Array(0);
    out.ragged = { x: w.xs, y: w.spectrum.map((y) => Float32Array.from(y)) };
    return out;
  }
  const d = w.axis.length;
  const pack = (rows: Float64Array[]) => {
    const a = new Float32Array(rows.length * d);
    for (let i = 0; i < rows.length; i++) a.set(rows[i]!, i * d);
    return a;
  };
  out.d = d;
  out.axis = w.axis;
  out.spectra = pack(w.spectrum);
  if (w.clean) out.clean = pack(w.clean);
  return out;
}
