/**
 * Executes a plan: the coordinator's side. Cached tasks are reused; ready tasks
 * are handed to the executor (p-queue bounds how many at once), which computes
 * them into the store: locally (CPU-heavy stages in worker threads), on queue
 * workers or as batch jobs. A failed task stops its dependents only (a gathering
 * stage that tolerates it runs on what the other variants made); a failing
 * store filesystem stops the run.
 */
import { forcedKeys, taskLabel, type Plan, type Task } from './plan.js';
import { CHEAP_HASH_BYTES, type Store, type LockInfo } from './store.js';
import type { MetricValue, MissingVariant, ProgressEvent } from './stage-api.js';
import { firstLine, partialGather } from './partial-gather.js';
import { stageJob, type ComputedBy } from './stage-job.js';
import type { Executor } from './executors/executor.js';
import { localExecutor } from './executors/local.js';

export type TaskStatus = 'done' | 'cached' | 'failed' | 'skipped' | 'interrupted';

export interface TaskResult {
  key: string;
  status: TaskStatus;
  seconds: number;
  outputs: Record<string, string>;
  metrics: Record<string, MetricValue>;
  error?: string;
  /** The error came from user input (no stack trace is worth showing). */
  userError?: boolean;
  /** For skipped tasks: the failed upstream stage. */
  blockedBy?: string;
  /** For skipped tasks: the first line of that stage's error. */
  cause?: string;
  /** A gathering stage that ran without some variants' inputs (InputPortSpec.partial): what failed. `key` is then its own. */
  missing?: MissingVariant[];
  /** The store's filesystem failed (full, read-only, I/O error), or the queue's Redis stayed away: the whole run stopped. `error` is one line. */
  fatal?: boolean;
  /** Who computed it (absent for cached and skipped tasks). */
  host?: string;
  worker?: string;
}

export type SchedulerEvent =
  | { type: 'start'; task: Task; by?: ComputedBy }
  | { type: 'progress'; task: Task; event: ProgressEvent }
  | { type: 'log'; task: Task; message: string }
  | { type: 'waiting'; task: Task; holder: LockInfo | undefined }
  | { type: 'finish'; task: Task; result: TaskResult };

export interface ExecuteOptions {
  jobs: number;
  /** true: recompute everything; a list: recompute these stage ids. */
  force: boolean | string[];
  signal: AbortSignal;
  onEvent?: (e: SchedulerEvent) => void;
  /** Computes ready tasks; the local executor (threads of this process) by default. */
  executor?: Executor;
}

interface ComputeContext {
  plan: Plan;
  store: Store;
  executor: Executor;
  /** Aborted by Ctrl-C or by a fatal store error. */
  signal: AbortSignal;
  /** Aborted by Ctrl-C only. */
  userSignal: AbortSignal;
  emit: (e: SchedulerEvent) => void;
  stopAll: AbortController;
}

export async function executePlan(plan: Plan, store: Store, options: ExecuteOptions): Promise<Map<string, TaskResult>> {
  const { default: PQueue } = await import('p-queue');
  const executor = options.executor ?? localExecutor(store, options.jobs);
  const queue = new PQueue({ concurrency: Math.max(1, executor.concurrency(options.jobs)) });
  const results = new Map<string, TaskResult>();
  const emit = options.onEvent ?? (() => undefined);
  // a failing store filesystem stops the whole run, not just one stage
  const stopAll = new AbortController();
  const signal = AbortSignal.any([options.signal, stopAll.signal]);
  // registered before anything is looked up, so that `cache gc` spares what this run uses
  await store.holdKeys(plan.tasks.map((t) => t.key));
  await store.waitForGc(options.signal);
  await store.cleanStale();

  const forcedSet = forcedKeys(plan, options.force);
  const forced = (t: Task): boolean => forcedSet.has(t.key);
  const pending = new Map<string, Promise<TaskResult>>();
  const ctx: ComputeContext = { plan, store, executor, signal, userSignal: options.signal, emit, stopAll };

  const runTask = async (planned: Task): Promise<TaskResult> => {
    const depResults = await Promise.all(planned.deps.map((k) => pending.get(k)!));
    const bad = depResults.find((r) => r.status === 'failed' || r.status === 'skipped' || r.status === 'interrupted');
    if (bad && options.signal.aborted) {
      // Ctrl-C: nothing upstream failed, the run stopped before this stage
      const result: TaskResult = { key: planned.key, status: 'interrupted', seconds: 0, outputs: {}, metrics: {}, error: 'interrupted' };
      emit({ type: 'finish', task: planned, result });
      return result;
    }
    const settledDeps = new Map(depResults.map((r) => [r.key, r]));
    const partial = bad ? partialGather(planned, plan, (k) => settledDeps.get(k)!) : undefined;
    if (bad && !partial) {
      const upstream = plan.byKey.get(bad.key)!;
      const cause = bad.cause ?? (bad.error !== undefined ? firstLine(bad.error) : undefined);
      const result: TaskResult = {
        key: planned.key, status: 'skipped', seconds: 0, outputs: {}, metrics: {}, blockedBy: bad.blockedBy ?? upstream.stage.id, ...(cause !== undefined ? { cause } : {}),
      };
      emit({ type: 'finish', task: planned, result });
      return result;
    }
    const task = partial ?? planned;
    // --force names the planned task; a partial run of it is forced alike
    const force = forced(planned);
    if (partial) await store.holdKeys([partial.key]);
    const withMissing = (r: TaskResult): TaskResult => (partial?.missing ? { ...r, missing: partial.missing } : r);
    if (!force && store.has(task.key) && !(await store.checkEntry(task.key, CHEAP_HASH_BYTES)).length) {
      const result = cachedResult(store, task.key);
      if (result) {
        await store.touch(task.key);
        emit({ type: 'finish', task, result: withMissing(result) });
        return withMissing(result);
      }
    }
    return queue.add(async () => {
      const r = withMissing(await compute(task, ctx, force));
      emit({ type: 'finish', task, result: r });
      return r;
    }) as Promise<TaskResult>;
  };

  try {
    for (const task of plan.tasks) pending.set(task.key, runTask(task));
    // keyed by the planned key (a partial gathering run's result carries its own)
    for (const task of plan.tasks) results.set(task.key, await pending.get(task.key)!);
  } finally {
    if (!options.executor) await executor.close();
  }
  return results;
}

function cachedResult(store: Store, key: string): TaskResult | undefined {
  const m = store.readManifest(key);
  if (!m) return undefined;
  return { key, status: 'cached', seconds: m.seconds, outputs: store.outputPaths(m), metrics: m.metrics };
}

/** Hands the task to the executor; a corrupt input's producer is recomputed once, then the task again. */
async function compute(task: Task, ctx: ComputeContext, force: boolean, retried = false): Promise<TaskResult> {
  const { plan, store, signal, emit } = ctx;
  const stopped = (): TaskResult => (ctx.userSignal.aborted
    ? { key: task.key, status: 'interrupted', seconds: 0, outputs: {}, metrics: {}, error: 'interrupted' }
    : { key: task.key, status: 'skipped', seconds: 0, outputs: {}, metrics: {}, blockedBy: 'the store' });
  if (signal.aborted) return stopped();
  const job = stageJob(task, plan, force, taskLabel(task, plan.pipeline.variants.length));
  const outcome = await ctx.executor.compute(task.stage.def, job, {
    signal,
    onStart: (by) => emit({ type: 'start', task, ...(by ? { by } : {}) }),
    onMessage: (m) => emit(m.type === 'progress' ? { type: 'progress', task, event: m.event } : { type: 'log', task, message: m.message }),
    onWaiting: (holder) => emit({ type: 'waiting', task, holder }),
  });
  const by = { host: outcome.host, worker: outcome.worker };
  if (outcome.status === 'interrupted' || signal.aborted) return stopped();
  if (outcome.status === 'failed') {
    if (outcome.fatal) {
      ctx.stopAll.abort(new Error(outcome.error));
      return { key: task.key, status: 'failed', seconds: 0, outputs: {}, metrics: {}, error: outcome.error, userError: true, fatal: true, ...by };
    }
    const producer = outcome.corruptInput ? plan.byKey.get(outcome.corruptInput.key) : undefined;
    if (producer && !retried) {
      emit({ type: 'log', task, message: `${outcome.corruptInput!.note}; moved to quarantine/, recomputing it` });
      const redo = await compute(producer, ctx, false, true);
      if (redo.status === 'done' || redo.status === 'cached') return compute(task, ctx, force, true);
      return { key: task.key, status: 'failed', seconds: 0, outputs: {}, metrics: {}, userError: true, ...by, error: `${outcome.corruptInput!.note} and recomputing it failed: ${redo.error ?? redo.status}` };
    }
    return { key: task.key, status: 'failed', seconds: outcome.seconds, outputs: {}, metrics: {}, error: outcome.error, userError: outcome.userError, ...by };
  }
  const manifest = store.readManifest(task.key);
  if (!manifest) {
    return {
      key: task.key, status: 'failed', seconds: outcome.seconds, outputs: {}, metrics: {}, userError: true, ...by,
      error: `${by.worker} on ${by.host} published ${task.key.slice(0, 12)}, but it is not in ${store.root}: do the workers and this coordinator share one store directory?`,
    };
  }
  return { key: task.key, status: outcome.status, seconds: manifest.seconds, outputs: store.outputPaths(manifest), metrics: manifest.metrics, ...by };
}
