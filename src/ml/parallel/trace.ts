/**
 * Per-step timestamps of a training team's phases on every thread, for
 * benchmarks (bench/team-trace.mjs): on only when SPECFLOW_TEAM_TRACE names a
 * file, which the team writes when it closes. Each thread writes its own rows
 * of one shared Float64Array, in milliseconds of the monotonic clock every
 * thread of the process reads alike (process.hrtime; performance.now() counts
 * from each thread's own start), so tracing adds a store per phase and nothing
 * when off.
 */
import { writeFileSync } from 'node:fs';

/** A step's phases, in the order a thread passes them. */
export const PHASES = [
  /** The step begins (the training thread: step() is called; a worker: it wakes to the new SEQ). */
  'start',
  /** Its shard's forward and backward pass are done (a denoising shard's noise included). */
  'gradient',
  /** Its gradients of the others' tensors are in the shared buffer and its READY flag is set. */
  'ready',
  /** Every thread's READY flag holds the step. */
  'allReady',
  /** Its own tensors' gradients are summed, Adam has stepped them, their values are published. */
  'published',
  /** Every thread's PUBLISHED flag holds the step. */
  'allPublished',
  /** The training thread only: the next step is handed over to the workers. */
  'handedOver',
  /** The others' tensors are loaded (the training thread: the running moments updated too). */
  'end',
] as const;

export type Phase = (typeof PHASES)[number];

/** Steps kept per thread (a ring: step s in row s % STEPS). */
const STEPS = 4096;

/** The buffer of a team of `threads` threads, when tracing is on. */
export function traceBuffer(threads: number): SharedArrayBuffer | undefined {
  return process.env.SPECFLOW_TEAM_TRACE ? new SharedArrayBuffer(8 * threads * STEPS * PHASES.length) : undefined;
}

/** Thread `thread`'s marks; a no-op without a buffer. */
export function tracer(buffer: SharedArrayBuffer | undefined, thread: number): (step: number, phase: Phase) => void {
  if (!buffer) return () => undefined;
  const t = new Float64Array(buffer);
  const index = Object.fromEntries(PHASES.map((p, i) => [p, i])) as Record<Phase, number>;
  return (step, phase) => {
    const row = (thread * STEPS + (step % STEPS)) * PHASES.length;
    if (phase === 'start') t.fill(0, row, row + PHASES.length);
    const [sec, ns] = process.hrtime();
    t[row + index[phase]] = sec * 1e3 + ns / 1e6;
  };
}

/** Writes the trace to SPECFLOW_TEAM_TRACE: per thread, per step number (1…steps), the phases' times (0: not reached). */
export function writeTrace(buffer: SharedArrayBuffer | undefined, threads: number, steps: number): void {
  const file = process.env.SPECFLOW_TEAM_TRACE;
  if (!buffer || !file) return;
  const t = new Float64Array(buffer);
  const rows = (thread: number) => Array.from({ length: Math.min(steps, STEPS - 1) }, (_, k) => {
    const step = steps - Math.min(steps, STEPS - 1) + k + 1;
    const at = (thread * STEPS + (step % STEPS)) * PHASES.length;
    return [step, ...t.subarray(at, at + PHASES.length)];
  });
  writeFileSync(file, JSON.stringify({ phases: PHASES, threads: Array.from({ length: threads }, (_, i) => rows(i)) }));
}
