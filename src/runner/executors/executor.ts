/**
 * The executor interface. The coordinator (scheduler.ts) plans, keys, checks the
 * cache, orders the DAG and records; an executor only computes one ready stage
 * into the store and reports back. `local` computes in this process and its
 * worker threads, `queue` hands the stage to BullMQ workers on any host, `slurm`
 * submits it as a batch job.
 */
import type { StageMessage } from '../execute-stage.js';
import type { LockInfo } from '../store.js';
import type { StageDef } from '../stage-api.js';
import type { ComputedBy, JobOutcome, StageJob } from '../stage-job.js';

export type ExecutorName = 'local' | 'queue' | 'slurm';
export const EXECUTORS: readonly ExecutorName[] = ['local', 'queue', 'slurm'];

export interface ExecutorHooks {
  signal: AbortSignal;
  /** Computation has begun (the stage left a queue), on `by`. */
  onStart(by?: ComputedBy): void;
  onMessage(m: StageMessage): void;
  /** Another process holds the key's lock: we wait for its entry. */
  onWaiting(holder: LockInfo | undefined): void;
}

export interface Executor {
  readonly name: ExecutorName;
  /** How many stages the coordinator should hand over at once, given `--jobs`. */
  concurrency(jobs: number): number;
  compute(def: StageDef, job: StageJob, hooks: ExecutorHooks): Promise<JobOutcome>;
  /** Ctrl-C or end of run: release connections, withdraw what still waits. */
  close(): Promise<void>;
}
