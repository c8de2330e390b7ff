/**
 * Executes a plan: ready tasks run concurrently (p-queue, up to `jobs`);
 * stages marked `cpu` run in a worker-thread pool so that independent branches
 * really use several cores. A failed task stops its dependents only.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { forcedKeys, type Plan, type Task } from './plan.js';
import { changedInputFiles } from './fingerprint.js';
import { CHEAP_HASH_BYTES, type Manifest, type Store, type LockInfo } from './store.js';
import { describeFsError, fsErrorCode, fsErrorLine, STORE_FATAL_CODES } from './durable.js';
import { isTableKind, type InputArtifact, type MetricValue, type ProgressEvent } from './stage-api.js';
import { executeStage, type StageMessage, type StageOutcome, type StageTask } from './execute-stage.js';

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
  /** The store's filesystem failed (full, read-only, I/O error): the whole run stopped. `error` is one line. */
  fatal?: boolean;
}

export type SchedulerEvent =
  | { type: 'start'; task: Task }
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
}

export async function executePlan(plan: Plan, store: Store, options: ExecuteOptions): Promise<Map<string, TaskResult>> {
  const { default: PQueue } = await import('p-queue');
  const queue = new PQueue({ concurrency: Math.max(1, options.jobs) });
  const results = new Map<string, TaskResult>();
  const emit = options.onEvent ?? (() => undefined);
  const pool = new LazyPool(Math.max(1, options.jobs));
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
  const ctx: ComputeContext = { plan, store, pool, signal, userSignal: options.signal, emit, stopAll };

  const runTask = async (task: Task): Promise<TaskResult> => {
    const depResults = await Promise.all(task.deps.map((k) => pending.get(k)!));
    const bad = depResults.find((r) => r.status === 'failed' || r.status === 'skipped' || r.status === 'interrupted');
    if (bad) {
      const upstream = plan.byKey.get(bad.key)!;
      const result: TaskResult = { key: task.key, status: 'skipped', seconds: 0, outputs: {}, metrics: {}, blockedBy: bad.blockedBy ?? upstream.stage.id };
      emit({ type: 'finish', task, result });
      return result;
    }
    if (!forced(task) && store.has(task.key) && !(await store.checkEntry(task.key, CHEAP_HASH_BYTES)).length) {
      const result = cachedResult(store, task.key);
      if (result) {
        await store.touch(task.key);
        emit({ type: 'finish', task, result });
        return result;
      }
    }
    return queue.add(async () => {
      const r = await compute(task, ctx, forced(task));
      emit({ type: 'finish', task, result: r });
      return r;
    }) as Promise<TaskResult>;
  };

  for (const task of plan.tasks) pending.set(task.key, runTask(task));
  for (const task of plan.tasks) results.set(task.key, await pending.get(task.key)!);
  await pool.destroy();
  return results;
}

function cachedResult(store: Store, key: string): TaskResult | undefined {
  const m = store.readManifest(key);
  if (!m) return undefined;
  return { key, status: 'cached', seconds: m.seconds, outputs: store.outputPaths(m), metrics: m.metrics };
}

interface ComputeContext {
  plan: Plan;
  store: Store;
  pool: LazyPool;
  /** Aborted by Ctrl-C or by a fatal store error. */
  signal: AbortSignal;
  /** Aborted by Ctrl-C only. */
  userSignal: AbortSignal;
  emit: (e: SchedulerEvent) => void;
  stopAll: AbortController;
}

async function compute(task: Task, ctx: ComputeContext, force: boolean): Promise<TaskResult> {
  const { plan, store, pool, signal, emit } = ctx;
  const stopped = (): TaskResult => (ctx.userSignal.aborted
    ? { key: task.key, status: 'interrupted', seconds: 0, outputs: {}, metrics: {}, error: 'interrupted' }
    : { key: task.key, status: 'skipped', seconds: 0, outputs: {}, metrics: {}, blockedBy: 'the store' });
  if (signal.aborted) return stopped();
  const onWait = (holder: LockInfo | undefined): void => emit({ type: 'waiting', task, holder });
  const started = performance.now();
  let temp: string | undefined;
  let locked = false;
  try {
    let claim: Awaited<ReturnType<Store['claim']>>;
    try {
      claim = await store.claim(task.key, signal, onWait, force);
    } catch (e) {
      if (signal.aborted) return stopped();
      throw e;
    }
    if (claim.cached) {
      const r = cachedResult(store, task.key);
      if (r) return r;
    }
    locked = !claim.cached;
    if (claim.quarantined) emit({ type: 'log', task, message: `cached entry was broken (${claim.quarantined[0]}); moved to quarantine/, recomputing` });
    emit({ type: 'start', task });
    temp = await store.createTemp(task.key);
    const def = task.stage.def;
    const outputs: StageTask['outputs'] = {};
    const relOutputs: Manifest['outputs'] = {};
    for (const [port, spec] of Object.entries(def.outputs)) {
      const rel = isTableKind(spec.kind) ? `${port}.arrow` : port;
      outputs[port] = { path: join(temp, rel), kind: spec.kind };
      relOutputs[port] = { kind: spec.kind, path: rel };
    }
    const inputs: StageTask['inputs'] = {};
    const axesOf = new Map(plan.pipeline.variants.map((v) => [v.id, v.axes]));
    for (const [port, refs] of Object.entries(task.inputs)) {
      const arts: InputArtifact[] = [];
      for (const r of refs) {
        const m = await soundInput(r.key, `${r.stage}.${r.port}`, task, ctx);
        const out = m.outputs[r.port]!;
        arts.push({
          path: join(store.entryDir(r.key), out.path), kind: out.kind, from: `${r.stage}.${r.port}`, key: r.key,
          stage: r.stage, variant: r.variant, axes: axesOf.get(r.variant) ?? {}, metrics: m.metrics,
          ...(plan.byKey.get(r.key)?.stage.def.metrics ? { metricInfo: plan.byKey.get(r.key)!.stage.def.metrics } : {}),
          ...(r.variants ? { usedBy: r.variants.map((v) => ({ variant: v, axes: axesOf.get(v) ?? {} })), replicates: plan.pipeline.replicates } : {}),
        });
      }
      inputs[port] = def.inputs[port]?.many || def.gather ? arts : arts[0]!;
    }
    const stageTask: StageTask = {
      type: task.stage.type, id: task.stage.id, params: task.stage.params, seed: task.seed, inputs, outputs, pipelineDir: plan.pipeline.dir,
    };
    const onMessage = (m: StageMessage): void => {
      if (m.type === 'progress') emit({ type: 'progress', task, event: m.event });
      else emit({ type: 'log', task, message: m.message });
    };
    const outcome = def.cpu && pool.available()
      ? await pool.run(stageTask, onMessage, signal)
      : await untilAborted(executeStage(def, stageTask, onMessage, signal), signal);
    if (signal.aborted) return stopped();
    if (!outcome.ok) {
      if (outcome.error.code && STORE_FATAL_CODES.has(outcome.error.code)) {
        return fatal(task, `${store.root}: ${describeFsError(outcome.error)}: stage "${task.stage.id}" could not write its output`, ctx);
      }
      return { key: task.key, status: 'failed', seconds: secondsSince(started), outputs: {}, metrics: {}, error: outcome.error.user ? outcome.error.message : (outcome.error.stack ?? outcome.error.message), userError: outcome.error.user };
    }
    const changed = await changedInputFiles(task.stage, plan.pipeline.dir, task.material.params, task.stamps);
    if (changed.length) {
      await store.discardTemp(temp);
      temp = undefined;
      const error = `${changed.join(', ')}: changed while this run was using ${changed.length > 1 ? 'them' : 'it'} (written after the stage's key was made, so the stage may have read other bytes); nothing was stored, run again`;
      return { key: task.key, status: 'failed', seconds: secondsSince(started), outputs: {}, metrics: {}, error, userError: true };
    }
    const seconds = secondsSince(started);
    const manifest = await store.publish(temp, {
      key: task.key, type: task.stage.type, stage: task.stage.id, material: task.material,
      outputs: relOutputs, metrics: outcome.metrics, seconds, created: new Date().toISOString(),
    }, { replace: force, signal });
    temp = undefined;
    return { key: task.key, status: 'done', seconds, outputs: store.outputPaths(manifest), metrics: manifest.metrics };
  } catch (e) {
    if (signal.aborted) return stopped();
    if (e instanceof CorruptInput) return { key: task.key, status: 'failed', seconds: secondsSince(started), outputs: {}, metrics: {}, error: e.message, userError: true };
    // outside the stage function, a filesystem error is the store's (full, read-only, permissions): it stops the run
    if (fsErrorCode(e) && (e as NodeJS.ErrnoException).syscall) return fatal(task, fsErrorLine(e), ctx);
    const err = e as Error;
    return { key: task.key, status: 'failed', seconds: secondsSince(started), outputs: {}, metrics: {}, error: err.stack ?? String(e) };
  } finally {
    if (temp) await store.discardTemp(temp).catch(() => undefined);
    if (locked) await store.release(task.key).catch(() => undefined);
  }
}

function fatal(task: Task, message: string, ctx: ComputeContext): TaskResult {
  ctx.stopAll.abort(new Error(message));
  return { key: task.key, status: 'failed', seconds: 0, outputs: {}, metrics: {}, error: message, userError: true, fatal: true };
}

class CorruptInput extends Error {}

/** The manifest of an input entry, checked by `Store.readInput`; a corrupt input's producer is recomputed once. */
async function soundInput(key: string, name: string, task: Task, ctx: ComputeContext, retried = false): Promise<Manifest> {
  const checked = await ctx.store.readInput(key, ctx.signal);
  if ('manifest' in checked) return checked.manifest;
  if (!checked.problems) throw new Error(`input ${name} vanished from the store`);
  const producer = ctx.plan.byKey.get(key);
  if (retried || !producer) {
    throw new CorruptInput(`input ${name} (entry ${key.slice(0, 12)}) is corrupt: ${checked.problems[0]}${checked.movedTo ? `; moved to ${checked.movedTo}` : ''}; run again to recompute it`);
  }
  ctx.emit({ type: 'log', task, message: `input ${name} is corrupt (${checked.problems[0]}); moved to quarantine/, recomputing it` });
  const redo = await compute(producer, ctx, false);
  if (redo.status !== 'done' && redo.status !== 'cached') throw new CorruptInput(`input ${name} was corrupt and recomputing it failed: ${redo.error ?? redo.status}`);
  return soundInput(key, name, task, ctx, true);
}

/** Stop waiting for an in-thread stage on Ctrl-C; its temp entry is discarded and the process exits. */
function untilAborted(work: Promise<StageOutcome>, signal: AbortSignal): Promise<StageOutcome> {
  if (signal.aborted) return Promise.resolve({ ok: false, error: { name: 'AbortError', message: 'interrupted', user: true } });
  return new Promise((res) => {
    const onAbort = (): void => res({ ok: false, error: { name: 'AbortError', message: 'interrupted', user: true } });
    signal.addEventListener('abort', onAbort, { once: true });
    work.then((o) => { signal.removeEventListener('abort', onAbort); res(o); }, (e: unknown) => {
      signal.removeEventListener('abort', onAbort);
      res({ ok: false, error: { name: 'Error', message: String(e), user: false } });
    });
  });
}

function secondsSince(t0: number): number {
  return Math.round((performance.now() - t0)) / 1000;
}

/** The worker pool, created on first use so runs without CPU-heavy stages never start threads. */
class LazyPool {
  private pool: import('piscina').Piscina | undefined;
  private readonly workerFile = join(fileURLToPath(new URL('.', import.meta.url)), 'worker.js');
  constructor(private readonly threads: number) {}

  /** From TypeScript sources (tests) there is no compiled worker: run inline instead. */
  available(): boolean {
    return existsSync(this.workerFile);
  }

  async run(task: StageTask, onMessage: (m: StageMessage) => void, signal: AbortSignal): Promise<StageOutcome> {
    if (!this.pool) {
      const { Piscina } = await import('piscina');
      this.pool = new Piscina({ filename: this.workerFile, maxThreads: this.threads, minThreads: 0, idleTimeout: 1000 });
    }
    const { port1, port2 } = new MessageChannel();
    port1.on('message', onMessage);
    try {
      return (await this.pool.run({ task, port: port2 }, { transferList: [port2], signal })) as StageOutcome;
    } catch (e) {
      if (signal.aborted) return { ok: false, error: { name: 'AbortError', message: 'interrupted', user: true } };
      const err = e as Error;
      return { ok: false, error: { name: err.name, message: err.message, stack: err.stack, user: false } };
    } finally {
      port1.close();
    }
  }

  async destroy(): Promise<void> {
    await this.pool?.destroy();
    this.pool = undefined;
  }
}
