/**
 * How many threads one training uses: the `threads:` parameter of
 * train.autoencoder (a count, or `auto`), SPECFLOW_THREADS when the pipeline
 * says auto, and the machine. Decided when the pipeline is planned, never from
 * the load at run time, because the count changes the trained weights (the
 * batch is split into that many shards) and so enters the content key.
 *
 * Cheap to import (no tfjs): stage modules call it while planning.
 */
import { availableParallelism } from 'node:os';
import { resolvedBackend } from '../engine-identity.js';

/** `auto` never uses more threads than this: the shards' gradients are summed on one thread, so the
 * gain flattens beyond a few threads while the copies of the model grow. */
export const MAX_AUTO_THREADS = 4;

/** `auto` gives each thread at least this many rows of a mini-batch (an architecture not in
 * MIN_ROWS_PER_THREAD_BY_ARCH): below it the per-step handoff costs more than the thread saves. */
export const MIN_ROWS_PER_THREAD = 64;

/**
 * The same per architecture, from the wall time of 2 threads over 1 per steady-state epoch on a quiet
 * 2-core machine (`BENCH_BATCH=N node bench/run.mjs train-threads`, load average 1.3–2.3, 2026-12-01):
 * dense 4000 × 1024 at 64 rows a thread 0.98, at 128 rows 0.77–0.92, at 256 rows 0.83 — its per-row
 * compute is small against its 560k weights; Conv-1D 1000 × 512 at 32 rows 0.56–0.67, at 64 rows 0.62;
 * Transformer at 32 rows 0.89–1.01, at 64 rows 0.61. The Transformer again after two rounds of
 * data-parallel work (`BENCH_ARCHS=transformer BENCH_BATCH=N ...`, load average 1.4–1.7, 2026-12-02):
 * at 8 rows 0.83, at 16 rows 0.56–0.69, at 32 rows 0.59–0.85 — so from 16 rows (batch 32).
 */
export const MIN_ROWS_PER_THREAD_BY_ARCH: Readonly<Record<string, number>> = { dense: 128, conv1d: 32, transformer: 16 };

/** An explicit count beyond this is surely a typo (and would start that many tfjs instances). */
export const MAX_THREADS = 64;

export type ThreadsRequest = number | 'auto';

/** The problem with SPECFLOW_THREADS, if any (unset, `auto` or an integer 1..MAX_THREADS are fine). */
export function threadsEnvironmentProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env.SPECFLOW_THREADS?.trim();
  if (v === undefined || v === '' || v === 'auto') return undefined;
  if (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= MAX_THREADS) return undefined;
  return `SPECFLOW_THREADS=${v}: use auto or a whole number of threads from 1 to ${MAX_THREADS}`;
}

/** What the environment asks for when a pipeline says `threads: auto`. */
function environmentRequest(env: NodeJS.ProcessEnv): ThreadsRequest {
  const problem = threadsEnvironmentProblem(env);
  if (problem) throw new Error(problem);
  const v = env.SPECFLOW_THREADS?.trim();
  return v === undefined || v === '' || v === 'auto' ? 'auto' : Number(v);
}

/** `auto`: the machine's cores (at most MAX_AUTO_THREADS), as many as get `minRows` rows of a batch each. */
export function autoThreads(batchSize: number, cores = availableParallelism(), minRows = MIN_ROWS_PER_THREAD): number {
  return Math.max(1, Math.min(cores, MAX_AUTO_THREADS, Math.floor(batchSize / minRows)));
}

/** The fewest rows of a batch per thread that `auto` gives a network of this architecture. */
export function minRowsPerThread(arch: string): number {
  return MIN_ROWS_PER_THREAD_BY_ARCH[arch] ?? MIN_ROWS_PER_THREAD;
}

/**
 * The thread count a training with these parameters runs with. tfjs-node
 * computes with its own native thread pool and cannot be started in worker
 * threads, so there it is always 1 (and the key says 1).
 */
export function resolveThreads(
  request: ThreadsRequest, batchSize: number,
  env: NodeJS.ProcessEnv = process.env, cores = availableParallelism(), minRows = MIN_ROWS_PER_THREAD,
): number {
  if (resolvedBackend(env) === 'node') return 1;
  const wanted = request === 'auto' ? environmentRequest(env) : request;
  return wanted === 'auto' ? autoThreads(batchSize, cores, minRows) : wanted;
}
