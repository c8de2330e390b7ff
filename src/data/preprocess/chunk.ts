/**
 * One batch of rows through a range of preprocessing steps: the unit of work the
 * streaming `preprocess` hands to worker threads. Every step acts on each row on its
 * own, given statistics fitted beforehand on the whole table, so a batch's result
 * does not depend on how the table was cut.
 */
import { StageError } from '../../core/stage-api.js';
import { applyStep, stepName, type Step, type StepStats, type Work } from './steps.js';

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

function rows(data: Float32Array, n: number, d: number): Float64Array[] {
  const all = new Float64Array(n * d);
  all.set(data);
  return Array.from({ length: n }, (_, i) => all.subarray(i * d, (i + 1) * d));
}

function pack(r: Float64Array[], d: number, float64: boolean): Float32Array | Float64Array {
  const out = float64 ? new Float64Array(r.length * d) : new Float32Array(r.length * d);
  const flat = contiguous(r, d);
  if (flat) out.set(flat);
  else for (let i = 0; i < r.length; i++) out.set(r[i]!, i * d);
  return out;
}

/** The rows as one array when they are consecutive views of one buffer (as the steps leave them): one copy, not n. */
function contiguous(r: Float64Array[], d: number): Float64Array | undefined {
  if (r.length === 0) return undefined;
  const first = r[0]!;
  for (let i = 1; i < r.length; i++) {
    if (r[i]!.buffer !== first.buffer || r[i]!.byteOffset !== first.byteOffset + i * d * 8 || r[i]!.length !== d) return undefined;
  }
  return first.length === d ? new Float64Array(first.buffer, first.byteOffset, r.length * d) : undefined;
}

/** The result's buffers a worker can hand over instead of copying (each the result's own). */
export function resultBuffers(r: ChunkResult): ArrayBuffer[] {
  if (!r.ok) return [];
  return [r.spectra.buffer as ArrayBuffer, ...(r.clean ? [r.clean.buffer as ArrayBuffer] : [])];
}

export function runChunk(job: ChunkJob): ChunkResult {
  const n = job.ids.length;
  const axis = Float64Array.from(job.axis);
  const w: Work = { ids: job.ids, axis, xs: job.ids.map(() => axis), spectrum: rows(job.spectra, n, job.d) };
  if (job.clean) w.clean = rows(job.clean, n, job.d);
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
