/**
 * `preprocess` for tables larger than memory: record batches are read one at a
 * time, run through the steps on the worker-thread pool (chunk.ts), and written in
 * order. Statistics a step fits on the whole table (MSC reference, standardize
 * mean/sd) come from earlier passes over the batches — or from the `fit` set, held
 * in memory — accumulated in row order with the same code as the in-memory path,
 * so the output is the same bits as `applyStep` on the whole table.
 */
import { StageError } from '../../core/stage-api.js';
import { readSpectraBatches, spectraHeader, SpectraWriter, type SpectraTable } from '../arrow-io.js';
import { ChunkPool, inOrder } from '../chunk-pool.js';
import { runChunk, type ChunkJob, type ChunkResult } from './chunk.js';
import { applyStep, fitsStatistics, prepareSteps, stepName, stepWhere, type Step, type StepStats, type Work } from './steps.js';
import { addRows, addSquaredDeviations, finishSd } from './transform.js';
import { RateMeter } from '../../util/progress.js';

export interface StreamOptions {
  input: string;
  output: string;
  /** Rows in the input (for progress). */
  rows: number;
  steps: (Step | string)[];
  /** Statistics source when given (the training split), already loaded; must not need `resample`. */
  fit?: Work;
  /** The `preprocess` metadata of the output (step history). */
  history(inputMetadata: Record<string, string>): string;
  where: string;
  log(message: string): void;
  progress(fraction: number, message: string): void;
  signal: AbortSignal;
}

type Ok = Extract<ChunkResult, { ok: true }>;

export async function preprocessStreamed(o: StreamOptions): Promise<{ n: number; d: number }> {
  const pool = new ChunkPool<ChunkJob, ChunkResult>(new URL('./chunk-worker.js', import.meta.url), runChunk);
  const stats: (StepStats | null)[] = o.steps.map(() => null);
  const statSteps = o.steps.map((s, k) => [k, fitsStatistics(s)] as const).filter(([, kind]) => kind !== undefined);
  const passes = o.fit ? 1 : 1 + statSteps.reduce((s, [, kind]) => s + (kind === 'standardize' ? 2 : 1), 0);
  let passNo = 0;

  /** One pass: every batch through steps[0..to), results handed over in row order. */
  const pass = async (what: string, to: number, float64: boolean, consume: (r: Ok, t: SpectraTable) => void): Promise<void> => {
    passNo++;
    const rate = new RateMeter();
    let done = 0;
    // one batch more in flight than threads: both stay busy while this thread reads and writes
    await inOrder(readSpectraBatches(o.input), pool.threads + 1, async ({ t }) => {
      if (o.signal.aborted) throw new Error('aborted');
      const job: ChunkJob = {
        steps: o.steps, from: 0, to, ids: t.ids, axis: t.axis, d: t.d, spectra: t.spectra, stats, where: o.where, float64,
        ...(t.clean && !float64 ? { clean: t.clean } : {}),
      };
      return pool.run(job, [t.spectra.buffer as ArrayBuffer, ...(job.clean ? [job.clean.buffer as ArrayBuffer] : [])]);
    }, (r, { t }) => {
      if (!r.ok) throw r.user ? new StageError(r.message) : new Error(r.message);
      consume(r, t);
      done += t.n;
      o.progress(((passNo - 1) + done / Math.max(1, o.rows)) / passes, rate.message(`pass ${passNo}/${passes} (${what})`, done, o.rows, (passes - passNo) * o.rows));
    });
  };

  try {
    await prepareSteps(o.steps); // for the fit set, and for batches run in this thread
    if (o.fit) {
      const fit = o.fit;
      o.steps.forEach((step, k) => {
        applyStep(step, fit, undefined, { where: `${stepWhere(o.where, k, step)}, fit set`, log: () => undefined, fitted: (s) => { stats[k] = s; } });
      });
      for (const [k] of statSteps) if (!stats[k]) throw new Error(`step ${k + 1} fitted no statistics`);
    } else {
      for (const [k, kind] of statSteps) {
        let n = 0;
        let sum: Float64Array | undefined;
        const rowsOf = (r: Ok, t: SpectraTable) => {
          const d = r.axis.length;
          return Array.from({ length: t.n }, (_, i) => r.spectra.subarray(i * d, (i + 1) * d));
        };
        await pass(`${stepName(o.steps[k]!)} statistics`, k, true, (r, t) => {
          sum ??= new Float64Array(r.axis.length);
          addRows(rowsOf(r, t), sum);
          n += t.n;
        });
        if (!sum || n === 0) throw new StageError('no spectra to fit statistics on', o.where);
        for (let j = 0; j < sum.length; j++) sum[j]! /= n;
        const mean = sum;
        if (kind === 'msc') {
          stats[k] = { msc: mean };
          continue;
        }
        const ss = new Float64Array(mean.length);
        await pass('standardize spread', k, true, (r, t) => addSquaredDeviations(rowsOf(r, t), mean, ss));
        stats[k] = { standardize: { mean, sd: finishSd(ss, n) } };
        o.log(`standardize: statistics fitted on these spectra (${n} spectra, streamed)`);
      }
    }

    let writer: SpectraWriter | undefined;
    let n = 0;
    let d = 0;
    let logged = false;
    try {
      await pass('steps', o.steps.length, false, (r, t) => {
        const out: SpectraTable = {
          ...t, d: r.axis.length, axis: r.axis, spectra: r.spectra as Float32Array,
          metadata: { ...t.metadata, preprocess: o.history(t.metadata) },
        };
        delete out.clean;
        if (r.clean) out.clean = r.clean as Float32Array;
        writer ??= new SpectraWriter(o.output, spectraHeader(out));
        writer.write(out);
        if (!logged) {
          for (const m of r.logs) o.log(`${m} (first batch of ${t.n})`);
          logged = true;
        }
        n += t.n;
        d = out.d;
      });
      if (!writer) throw new StageError('no spectra to preprocess', o.where);
      writer.close();
    } catch (e) {
      writer?.abort();
      throw e;
    }
    return { n, d };
  } finally {
    await pool.destroy();
  }
}
