/**
 * The shared memory between a training's own thread and one of its worker
 * threads. A step is handed over without messages (postMessage per step would
 * cost about as much as a small step): the training thread writes the shard and
 * bumps SEQ; the worker, blocked in Atomics.wait on SEQ, computes, writes its
 * gradient, loss and batch-norm moments, and stores SEQ into DONE.
 */
import type { AutoencoderConfig } from '../autoencoder.js';
import type { BackendName } from '../backend.js';
import type { ParamLayout } from './shard.js';

/** Int32 slots of the control array. */
export const CTRL = {
  /** Bumped by the training thread to hand over a command. */
  SEQ: 0,
  CMD: 1,
  /** Rows in this step's shard. */
  ROWS: 2,
  /** 1 when the target is the input (no separate y rows were written). */
  SAME: 3,
  /** Set by the worker to SEQ when the command is done. */
  DONE: 4,
  /** 0 ok, 1 failed (the message follows by postMessage). */
  STATUS: 5,
  LENGTH: 6,
} as const;

export const CMD = { STEP: 1, STOP: 2 } as const;

/** Buffers of one worker. The weights buffer is shared by all workers (read only while they compute). */
export interface WorkerBuffers {
  control: SharedArrayBuffer;
  /** The batch size of this step (float64 slot 0) and this shard's loss share (slot 1). */
  scalars: SharedArrayBuffer;
  /** Float32: x rows, y rows (maxRows × d each), the gradient (layout.paramFloats), the moments (layout.normFloats). */
  data: SharedArrayBuffer;
  weights: SharedArrayBuffer;
}

export interface WorkerSetup {
  config: AutoencoderConfig;
  backend: BackendName;
  /** Whether specflow's wasm kernels are installed in the training thread (they are, except in benchmarks of stock wasm). */
  wasmFixes: boolean;
  maxRows: number;
  layout: ParamLayout;
  buffers: WorkerBuffers;
}

/** Typed views of a worker's data buffer. */
export function dataViews(data: SharedArrayBuffer, maxRows: number, d: number, layout: ParamLayout) {
  const rows = maxRows * d;
  return {
    x: new Float32Array(data, 0, rows),
    y: new Float32Array(data, 4 * rows, rows),
    grads: new Float32Array(data, 8 * rows, layout.paramFloats),
    moments: new Float32Array(data, 4 * (2 * rows + layout.paramFloats), layout.normFloats),
  };
}

export function dataBytes(maxRows: number, d: number, layout: ParamLayout): number {
  return 4 * (2 * maxRows * d + layout.paramFloats + layout.normFloats);
}

/** What a worker posts: once ready (with the engine it computes on), or when a step failed. */
export type WorkerReport =
  | { type: 'ready'; backend: string }
  | { type: 'error'; message: string; name: string };
