/**
 * The shared memory between a training's own thread (thread 0) and its worker
 * threads. A step is handed over without messages (postMessage per step would
 * cost about as much as a small step): the training thread writes each worker's
 * shard and bumps its SEQ; every thread computes its shard's gradient into its
 * own gradient buffer and stores the step's number in its slot of READY; once
 * every slot holds it, every thread sums all gradients in shard order and steps
 * its own Adam — the same numbers on the same engine, so every copy of the
 * weights stays bitwise the same without being sent — and the worker stores SEQ
 * into DONE (after which its buffers may be rewritten).
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

/** STEP: train on the shard; CHECK: copy your weights into the weights buffer (to compare the copies); STOP: exit. */
export const CMD = { STEP: 1, STOP: 2, CHECK: 3 } as const;

/** Stored in every READY slot by close(): threads waiting for the others' gradients give up. */
export const STOPPED = -1;

/** Buffers of one worker; `weights`, `grads` and `ready` are shared by all threads. */
export interface WorkerBuffers {
  control: SharedArrayBuffer;
  /** The batch size of this step (float64 slot 0) and this shard's loss share (slot 1). */
  scalars: SharedArrayBuffer;
  /** Float32: x rows, y rows (maxRows × d each), the shard's batch-norm moments (layout.normFloats). */
  data: SharedArrayBuffer;
  /** Float32 [layout.paramFloats]: the initial weights, and a copy's weights on CHECK. */
  weights: SharedArrayBuffer;
  /** Float32 [layout.paramFloats] per thread, thread 0 first: each thread's shard gradient. */
  grads: SharedArrayBuffer[];
  /** Int32 per thread: the step whose gradient the thread has written. */
  ready: SharedArrayBuffer;
}

export interface WorkerSetup {
  config: AutoencoderConfig;
  backend: BackendName;
  /** Whether specflow's wasm kernels are installed in the training thread (they are, except in benchmarks of stock wasm). */
  wasmFixes: boolean;
  learningRate: number;
  /** This worker's thread number (1…threads − 1) and the number of threads. */
  index: number;
  threads: number;
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
    moments: new Float32Array(data, 8 * rows, layout.normFloats),
  };
}

export function dataBytes(maxRows: number, d: number, layout: ParamLayout): number {
  return 4 * (2 * maxRows * d + layout.normFloats);
}

/** acc = Σ grads[s] over the first `shards` buffers, in shard order (a small monomorphic loop V8 optimises). */
export function sumShards(acc: Float32Array, grads: Float32Array[], shards: number): void {
  acc.set(grads[0]!);
  for (let s = 1; s < shards; s++) {
    const g = grads[s]!;
    for (let j = 0; j < acc.length; j++) acc[j] = acc[j]! + g[j]!;
  }
}

/** What a worker posts: once ready (with the engine it computes on), or when a step failed. */
export type WorkerReport =
  | { type: 'ready'; backend: string }
  | { type: 'error'; message: string; name: string };
