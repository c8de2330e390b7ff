/**
 * One batch of rows through a range of preprocessing steps: the unit of work the
 * streaming `preprocess` hands to worker threads. Every step acts on each row on its
 * own, given statistics fitted beforehand on the whole table, so a batch's result
 * does not depend on how the table was cut.
 */
import { StageError } from '../../core/stage-api.js';
import { applyStep, contiguousRows, stepName, type Step, type StepStats, type Work } from './steps.js';

export interface ChunkJob {
  steps: (Step | string)[];
  /** Apply steps[from..to). */
  from: number;
  to: number;
  ids: string[];
  axis: Float64Array;
  d: number;
  spectra: Float32Array;
  clean?: Float32Array;
  /** Per step index: statistics fitted on the whole table, or null. */
  stats: (StepStats | null)[];
  /** Stage id, for messages. */
  where: string;
  /** Return the rows as float64 (for fitting statistics on them exactly as the in-memory path does). */
  float64?: boolean;
}

export type ChunkResult =
  | { ok: true; spectra: Float32Array | Float64Array; clean?: Float32Array | Float64Array; axis: Float64Array; logs: string[] }
  | { ok: false; message: string; user: boolean };

/**
 * Float64 working buffers this thread keeps between batches: a batch's rows live in them
 * until `pack` copies them out, so 10⁵ spectra cost no allocation (and no garbage
 * collection) per batch. Slots 0–1: the tracks' rows; 2–3: spares for steps' output.
 */
const scratch: Float64Array[] = [];

function scratchBuffer(slot: number, length: number): Float64Array {
  let b = scratch[slot];
  if (!b || b.length < length) {
    b = new Float64Array(length);
    scratch[slot] = b;
  }
  return b.subarray(0, length);
}

function rows(data: Float32Array, n: number, d: number, slot: number): Float64Array[] {
  const all = scratchBuffer(slot, n * d);
  all.set(data.subarray(0, n * d));
  return Array.from({ length: n }, (_, i) => all.subarray(i * d, (i + 1) * d));
}

function pack(r: Float64Array[], d: number, float64: boolean): Float32Array | Float64Array {
  const out = float64 ? new Float64Array(r.length * d) : new Float32Array(r.length * d);
  const flat = contiguousRows(r, d);
  if (flat) out.set(flat);
  else for (let i = 0; i < r.length; i++) out.set(r[i]!, i * d);
  return out;
}

/** The result's buffers a worker can hand over instead of copying (each the result's own). */
export function resultBuffers(r: ChunkResult): ArrayBuffer[] {
  if (!r.ok) return [];
  return [r.spectra.buffer as ArrayBuffer, ...(r.clean ? [r.clean.buffer as ArrayBuffer] : [])];
}

export function runChunk(job: ChunkJob): ChunkResult {
  const n = job.ids.length;
  const axis = Float64Array.from(job.axis);
  // steps move rows between these four buffers (a spare taken, the input's handed back);
  // all four are free again once this batch is packed
  const w: Work = { ids: job.ids, axis, xs: job.ids.map(() => axis), spectrum: rows(job.spectra, n, job.d, 0), spare: [scratchBuffer(2, n * job.d)] };
  if (job.clean) {
    w.clean = rows(job.clean, n, job.d, 1);
    w.spare!.push(scratchBuffer(3, n * job.d));
  }
  const logs: string[] = [];
  try {
    for (let k = job.from; k < job.to; k++) {
      const step = job.steps[k]!;
      const stats = job.stats[k];
      applyStep(step, w, undefined, { where: `${job.where} step ${k + 1} (${stepName(step)})`, log: (m) => logs.push(m), ...(stats ? { stats } : {}) });
    }
  } catch (e) {
    const err = e as Error;
    return { ok: false, message: err.message, user: err instanceof StageError };
  }
  const d = w.axis!.length;
  const float64 = job.float64 === true;
  const out: ChunkResult = { ok: true, spectra: pack(w.spectrum, d, float64), axis: w.axis!, logs };
  if (w.clean) out.clean = pack(w.clean, d, float64);
  return out;
}
