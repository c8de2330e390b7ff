/**
 * One batch of rows through a range of preprocessing steps: the unit of work the
 * streaming `preprocess` hands to worker threads. Every step acts on each row on its
 * own, given statistics fitted beforehand on the whole table, so a batch's result
 * does not depend on how the table was cut (nor on the blocks a batch is run in).
 */
import { StageError } from '../../core/stage-api.js';
import { float32Into } from './row-kernels.js';
import { applyStep, contiguousRows, fitsStatistics, stepName, stepWhere, type Step, type StepStats, type Work } from './steps.js';

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
 * Float64 working buffers this thread keeps between batches: a block's rows live in them
 * until `packInto` copies them out, so 10⁵ spectra cost no allocation (and no garbage
 * collection) per batch. Slot 0: the spectra's rows, 1: the clean track's.
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

function rows(data: Float32Array, from: number, n: number, d: number, slot: number): Float64Array[] {
  const all = scratchBuffer(slot, n * d);
  all.set(data.subarray(from * d, (from + n) * d));
  return Array.from({ length: n }, (_, i) => all.subarray(i * d, (i + 1) * d));
}

/** The rows into `out` from row `at` on. */
function packInto(r: Float64Array[], d: number, out: Float32Array | Float64Array, at: number): void {
  const flat = contiguousRows(r, d);
  if (flat && out instanceof Float32Array) float32Into(flat, out, at * d);
  else if (flat) out.set(flat, at * d);
  else for (let i = 0; i < r.length; i++) out.set(r[i]!, (at + i) * d);
}

/** The result's buffers a worker can hand over instead of copying (each the result's own). */
export function resultBuffers(r: ChunkResult): ArrayBuffer[] {
  if (!r.ok) return [];
  return [...new Set([r.spectra.buffer as ArrayBuffer, ...(r.clean ? [r.clean.buffer as ArrayBuffer] : [])])];
}

/** Steps that act on each row alone and log nothing, given their statistics: a batch of them may be cut in blocks. */
const ROW_BY_ROW = new Set(['crop', 'baseline', 'smooth', 'derivative', 'normalize', 'log', 'standardize']);

/**
 * Rows per block: the batch goes through its steps a block at a time, so the float64
 * rows stay in this core's cache from the float32 input to the float32 output (a whole
 * batch at once streamed 8 MB through memory per step). The whole batch when a step
 * logs a per-batch message (despike's count) or fits statistics not given.
 */
function blockRows(job: ChunkJob, n: number): number {
  for (let k = job.from; k < job.to; k++) {
    const step = job.steps[k]!;
    if (!ROW_BY_ROW.has(stepName(step)) || (fitsStatistics(step) && !job.stats[k])) return n;
  }
  return Math.max(1, Math.floor(BLOCK_VALUES / Math.max(1, job.d)));
}

/** ~128 KiB of float64 a track: a block's rows stay within L2. */
const BLOCK_VALUES = 16_384;

/**
 * `ownsInput`: the job's arrays are this call's own (a worker's copy of them), so the
 * result may be written over them (each block's output over input rows already read),
 * sparing a fresh 4–8 MB buffer a batch whose every page costs a fault on first touch;
 * never when the caller may read them afterwards.
 */
export function runChunk(job: ChunkJob, ownsInput = false): ChunkResult {
  const n = job.ids.length;
  const block = blockRows(job, n);
  const axis = Float64Array.from(job.axis);
  const logs: string[] = [];
  const float64 = job.float64 === true;
  let result: Extract<ChunkResult, { ok: true }> | undefined;
  for (let from = 0; from < n || (n === 0 && !result); from += block) {
    const m = Math.min(block, n - from);
    const ids = block === n ? job.ids : job.ids.slice(from, from + m);
    // steps work on these rows in place (or replace them); both buffers are free again once this block is packed
    const w: Work = { ids, axis, xs: ids.map(() => axis), spectrum: rows(job.spectra, from, m, job.d, 0) };
    if (job.clean) w.clean = rows(job.clean, from, m, job.d, 1);
    try {
      for (let k = job.from; k < job.to; k++) {
        const step = job.steps[k]!;
        const stats = job.stats[k];
        applyStep(step, w, undefined, { where: stepWhere(job.where, k, step), log: (message) => logs.push(message), ...(stats ? { stats } : {}) });
      }
    } catch (e) {
      // the first failing block's error, as the stage reports the first failing batch's
      const err = e as Error;
      return { ok: false, message: err.message, user: err instanceof StageError };
    }
    const d = w.axis!.length;
    if (!result) {
      const output = (input: Float32Array | undefined) => (float64 ? new Float64Array(n * d) : ownsInput && input && d === job.d ? input.subarray(0, n * d) : new Float32Array(n * d));
      result = { ok: true, spectra: output(job.spectra), axis: w.axis!, logs };
      if (w.clean) result.clean = output(job.clean);
    }
    packInto(w.spectrum, d, result.spectra, from);
    if (w.clean) packInto(w.clean, d, result.clean!, from);
  }
  return result!;
}
