/**
 * Computes one StageJob into a store: take the key's lock (or find the entry
 * published meanwhile), run the stage into a temp directory, publish it. The
 * same function serves the local executor, a queue worker and a SLURM batch job,
 * so an entry is produced the same way wherever it is computed.
 */
import { hostname } from 'node:os';
import type { StageMessage } from './execute-stage.js';
import type { StageRunner } from './stage-pool.js';
import type { LockInfo, Store } from './store.js';
import type { StageDef } from './stage-api.js';
import { outputLayout, stageTaskFor, type ComputedBy, type JobOutcome, type StageJob } from './stage-job.js';

export interface ComputeHooks {
  signal: AbortSignal;
  runStage: StageRunner;
  /** Says who computes it (this process); called once the lock is held. */
  by?: ComputedBy;
  onStart?: () => void;
  onMessage?: (m: StageMessage) => void;
  onWaiting?: (holder: LockInfo) => void;
}

export function localIdentity(): ComputedBy {
  return { host: hostname(), worker: `pid ${process.pid}` };
}

export async function computeEntry(store: Store, def: StageDef, job: StageJob, hooks: ComputeHooks): Promise<JobOutcome> {
  const by = hooks.by ?? localIdentity();
  const { signal } = hooks;
  const interrupted = (): JobOutcome => ({ ...by, status: 'interrupted', seconds: 0, metrics: {}, error: 'interrupted' });
  const cachedOutcome = (): JobOutcome | undefined => {
    const m = store.readManifest(job.key);
    return m ? { ...by, status: 'cached', seconds: m.seconds, metrics: m.metrics } : undefined;
  };
  if (signal.aborted) return interrupted();
  let lock: 'acquired' | 'exists';
  try {
    lock = await store.acquire(job.key, signal, hooks.onWaiting);
  } catch (e) {
    if (signal.aborted) return interrupted();
    throw e;
  }
  if (lock === 'exists' && !job.force) {
    const r = cachedOutcome();
    if (r) return r;
  }
  const started = performance.now();
  let temp: string | undefined;
  try {
    hooks.onStart?.();
    temp = await store.createTemp(job.key);
    const task = stageTaskFor(store, def, job, temp);
    const outcome = await hooks.runStage(def, task, hooks.onMessage ?? (() => undefined), signal);
    if (signal.aborted) {
      await store.discardTemp(temp);
      return interrupted();
    }
    if (!outcome.ok) {
      await store.discardTemp(temp);
      const e = outcome.error;
      return { ...by, status: 'failed', seconds: secondsSince(started), metrics: {}, error: e.user ? e.message : (e.stack ?? e.message), userError: e.user };
    }
    const seconds = secondsSince(started);
    if (job.force && store.has(job.key)) await store.removeEntry(job.key);
    await store.publish(temp, {
      key: job.key, type: job.type, stage: job.stage, material: job.material,
      outputs: outputLayout(def), metrics: outcome.metrics, seconds, created: new Date().toISOString(),
    });
    temp = undefined;
    return { ...by, status: 'done', seconds, metrics: outcome.metrics };
  } catch (e) {
    if (temp) await store.discardTemp(temp).catch(() => undefined);
    if (signal.aborted) return interrupted();
    const err = e as Error;
    return { ...by, status: 'failed', seconds: secondsSince(started), metrics: {}, error: err.stack ?? String(e), infrastructure: true };
  } finally {
    await store.release(job.key);
  }
}

export function secondsSince(t0: number): number {
  return Math.round((performance.now() - t0)) / 1000;
}
