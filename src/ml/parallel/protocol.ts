/**
 * The shared memory between a training's own thread (thread 0) and its worker
 * threads. A step is handed over without messages (postMessage per step would
 * cost about as much as a small step): the training thread writes each worker's
 * shard (for a denoising autoencoder its target rows and the seeds of their
 * noise, which the worker draws) and bumps its SEQ; every thread computes its shard's gradient into its
 * own gradient buffer and stores the step's number in its READY flag. Each
 * trainable tensor has one owner thread (`owners`, balanced by size): once every
 * READY flag holds the step, each thread sums its own tensors' gradients over
 * the shards in shard order, steps Adam on them (their Adam state lives in the
 * owner alone), writes their new values into the shared weights and stores the
 * step in its PUBLISHED flag; once every PUBLISHED flag holds it, each thread
 * loads the tensors it does not own from the shared weights. So every thread
 * ends the step with the same bits, as if each had summed everything and
 * stepped its own Adam on all of it (Adam is elementwise), for 1/threads of
 * the work. A worker then stores SEQ into DONE.
 *
 * Buffer reuse follows from the two barriers: a thread writes its gradient for
 * the next step only after every thread has published this one (so has read
 * every gradient), and its weights only after every thread has reported the
 * next step's gradient (so has loaded this step's weights). A worker reads its
 * shard's rows, seeds, row count and batch size at the start of a step, so the
 * training thread may hand it the next step's once every thread has published
 * (having read the workers' losses and moments of this step first): the worker
 * starts it as soon as it has loaded the others' weights.
 *
 * Evaluation (the validation loss) is shared out too: for EVAL the training
 * thread writes a worker's rows of a chunk and its batch-norm running
 * statistics (kept by the training thread alone) into the worker's data
 * buffer; the worker computes its rows' inference loss into its scalars and
 * stores SEQ into DONE, which the training thread awaits.
 */
import type { AutoencoderConfig } from '../autoencoder.js';
import type { BackendName } from '../backend.js';
import type { NoiseSpec } from '../metrics.js';
import type { ParamLayout } from './shard.js';

/** Int32 slots of the control array. */
export const CTRL = {
  /** Bumped by the training thread to hand over a command. */
  SEQ: 0,
  CMD: 1,
  /** Rows in this step's shard. */
  ROWS: 2,
  /** Where this step's input comes from (INPUT). */
  INPUT: 3,
  /** Set by the worker to SEQ when the command is done. */
  DONE: 4,
  /** 0 ok, 1 failed (the message follows by postMessage). */
  STATUS: 5,
  LENGTH: 6,
} as const;

/** The input of a shard: its own x rows; the target rows (an autoencoder of its own input); or
 * the target rows with noise the worker draws from its rows' seeds (a denoising autoencoder). */
export const INPUT = { ROWS: 0, TARGET: 1, NOISY_TARGET: 2 } as const;

/** A mini-batch of b rows (row-major): its target y and its input x, or the seeds of the rows'
 * noise (metrics.ts addRowNoise) when the input is y with noise not drawn yet. */
export type Batch =
  | { y: Float32Array; x: Float32Array; b: number; seeds?: undefined }
  | { y: Float32Array; x?: undefined; b: number; seeds: Uint32Array };

/** STEP: train on the shard; CHECK: compare your tensors with the shared weights (STATUS 1 and an error if they differ);
 * EVAL: the inference loss of the shard's rows with the running statistics in `moments`; STOP: exit. */
export const CMD = { STEP: 1, STOP: 2, CHECK: 3, EVAL: 4 } as const;

/** Rows of one evaluation chunk: the validation loss is computed this many rows at a time (split between the threads). */
export const EVAL_ROWS = 256;

/** Stored in every flag by close(): threads waiting for the others give up. */
export const STOPPED = -1;

/** The flags array: thread t's READY flag is at READY + t, its PUBLISHED flag at PUBLISHED(threads) + t. */
export const FLAGS = { READY: 0, PUBLISHED: (threads: number): number => threads, length: (threads: number): number => 2 * threads } as const;

/** Buffers of one worker; `weights`, `grads` and `flags` are shared by all threads. */
export interface WorkerBuffers {
  control: SharedArrayBuffer;
  /** The batch size of this step (float64 slot 0) and this shard's loss share (slot 1; for EVAL the shard's mean loss). */
  scalars: SharedArrayBuffer;
  /** Float32: x rows, y rows (maxRows × d each), the shard's batch-norm moments (layout.normFloats; for EVAL the running ones);
   * then Uint32: the seeds of the shard's rows' noise (maxRows). */
  data: SharedArrayBuffer;
  /** Float32 [layout.paramFloats]: the weights, each tensor written by its owner after each step. */
  weights: SharedArrayBuffer;
  /** Float32 [layout.paramFloats] per thread, thread 0 first: each thread's shard gradient. */
  grads: SharedArrayBuffer[];
  /** Int32 [FLAGS.length(threads)]: per thread, the last step whose gradient it has written (READY) and
   * whose owned tensors it has updated in `weights` (PUBLISHED). */
  flags: SharedArrayBuffer;
  /** Float64: every thread's per-step phase times, when SPECFLOW_TEAM_TRACE asks for them (./trace.ts). */
  trace?: SharedArrayBuffer;
}

export interface WorkerSetup {
  config: AutoencoderConfig;
  backend: BackendName;
  /** Whether specflow's wasm kernels are installed in the training thread (they are, except in benchmarks of stock wasm). */
  wasmFixes: boolean;
  learningRate: number;
  /** A denoising autoencoder's noise, drawn by each thread for its shard's rows. */
  noise?: NoiseSetup;
  /** This worker's thread number (1…threads − 1) and the number of threads. */
  index: number;
  threads: number;
  /** The owner thread of each trainable tensor, in the layout's order (./shard.ts ownership). */
  owners: number[];
  maxRows: number;
  layout: ParamLayout;
  buffers: WorkerBuffers;
}

/** The noise model and the data's statistics it is scaled by (as trainAutoencoder computed them). */
export interface NoiseSetup {
  spec: NoiseSpec;
  stats: { sd: number; mean: number };
}

/** Typed views of a worker's data buffer. */
export function dataViews(data: SharedArrayBuffer, maxRows: number, d: number, layout: ParamLayout) {
  const rows = maxRows * d;
  return {
    x: new Float32Array(data, 0, rows),
    y: new Float32Array(data, 4 * rows, rows),
    moments: new Float32Array(data, 8 * rows, layout.normFloats),
    seeds: new Uint32Array(data, 4 * (2 * rows + layout.normFloats), maxRows),
  };
}

export function dataBytes(maxRows: number, d: number, layout: ParamLayout): number {
  return 4 * (2 * maxRows * d + layout.normFloats + maxRows);
}

/** What a worker posts: once ready (with the engine it computes on), or when a step failed. */
export type WorkerReport =
  | { type: 'ready'; backend: string }
  | { type: 'error'; message: string; name: string };
