/** `specflow run FILE`: plan, execute (cached where possible), record, summarise. */
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { backendEnvironmentProblem } from '../ml/backend.js';
import { engineIdentity, pinEngine } from '../ml/engine-identity.js';
import { UserError } from '../runner/errors.js';
import { forcedKeys, planPipeline, type Plan } from '../runner/plan.js';
import { executePlan, type TaskResult } from '../runner/scheduler.js';
import { createExecutor, executorName } from '../runner/executors/index.js';
import { buildRecord, jsonSummary, newRunId, type RunRecord } from '../runner/records.js';
import type { Store } from '../runner/store.js';
import { openStore, pipelineFrom, type GlobalOptions, type PipelineArgs } from './common.js';
import { describeForecast, forecast, forecastSummary } from './forecast.js';
import { plainDisplay, ttyDisplay, taskLabel } from './display.js';

export interface RunArgs extends PipelineArgs, GlobalOptions {
  jobs?: number;
  force?: boolean | string[];
  dryRun?: boolean;
  json?: boolean;
  executor?: string;
  redis?: string;
}

/** `run --force FILE`: the variadic --force takes FILE as a stage name; an existing file at its end is the pipeline. */
export function pipelineArgument(file: string | undefined, args: RunArgs): string {
  if (file !== undefined) return file;
  const last = Array.isArray(args.force) ? args.force[args.force.length - 1] : undefined;
  if (last !== undefined && existsSync(last) && statSync(last).isFile()) {
    (args.force as string[]).pop();
    return last;
  }
  throw new UserError('run: give the pipeline file, e.g. specflow run pipelines/quickstart.yaml (with --force STAGE…, put the file first)');
}

export async function runCommand(file: string, args: RunArgs): Promise<number> {
  const store = openStore(args);
  executorName(args.executor); // a typo is refused before anything runs or the store is created
  // refused before anything runs, rather than as a failure of the first training stage
  const envProblem = args.dryRun ? undefined : backendEnvironmentProblem();
  if (envProblem) throw new UserError(envProblem);
  // the store is created (or a path that cannot be one refused) only once the pipeline is valid
  const pipeline = await pipelineFrom(file, args, store, args.dryRun ? undefined : () => store.ensureLayout());
  const plan = await planPipeline(pipeline, { engine: engineIdentity });
  const jobs = args.jobs ?? availableParallelism();
  const force = args.force === undefined ? false : args.force === true || (Array.isArray(args.force) && args.force.length === 0) ? true : args.force;
  if (Array.isArray(force)) {
    const known = new Set(pipeline.variants.flatMap((v) => [...v.stages.keys()]));
    const unknown = force.filter((s) => !known.has(s));
    if (unknown.length) {
      process.stderr.write(`--force: unknown stage ${unknown.map((s) => `"${s}"`).join(', ')} (stages: ${[...known].join(', ')})\n`);
      return 1;
    }
  }
  if (args.dryRun) return dryRun(plan, store, force, args.json ?? false);
  await store.ensureLayout(); // (when the parsed pipeline came from the cache)
  // the stages compute on the engine their keys name, or fail; never on a quiet fallback
  if (plan.tasks.some((t) => t.material.engine !== undefined)) pinEngine();

  const executor = await createExecutor(store, { executor: args.executor, redis: args.redis, jobs, warn: (m) => process.stderr.write(`${m}\n`) });
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\ninterrupted: stopping stages (Ctrl-C again to quit at once)…\n');
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  const variants = pipeline.variants.length;
  const display = !args.json && process.stderr.isTTY ? await ttyDisplay(variants) : plainDisplay(variants);
  const started = new Date();
  const runId = newRunId(started);
  let record: RunRecord;
  let results: Map<string, TaskResult>;
  try {
    results = await executePlan(plan, store, { jobs, force, signal: controller.signal, onEvent: (e) => display.handle(e), executor });
    record = buildRecord(plan, results, runId, started, jobs, executor.name);
  } catch (e) {
    await store.close().catch(() => undefined);
    if (controller.signal.aborted) process.exit(130);
    throw e;
  } finally {
    await executor.close().catch(() => undefined);
    display.stop();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  const fatal = [...results.values()].find((r) => r.fatal);
  if (fatal) {
    // the store's filesystem failed, or Redis is gone: one line saying so; a record only if it still fits
    record.status = 'failed';
    await store.writeRun(runId, record).catch(() => undefined);
    await store.close().catch(() => undefined);
    process.stderr.write(`specflow: ${fatal.error}\n`);
    // a lost Redis leaves BullMQ's reconnection delays behind (up to 5 s) even once its connections are dropped
    if (executor.name === 'queue') process.exit(1);
    return 1;
  }
  let recordPath: string;
  try {
    recordPath = await store.writeRun(runId, record);
  } finally {
    await store.close().catch(() => undefined);
  }
  if (args.json) process.stdout.write(`${JSON.stringify(jsonSummary(record), null, 2)}\n`);
  else printSummary(plan, record, recordPath);
  if (controller.signal.aborted || record.status === 'interrupted') {
    // interrupted whatever stage it was in (even one that finished meanwhile); an in-thread
    // stage may still be running: its temp entry is gone and nothing waits for it
    process.exit(130);
  }
  return record.status === 'ok' ? 0 : 1;
}

function printSummary(plan: Plan, record: RunRecord, recordPath: string): void {
  const byKey = new Map(record.stages.map((s) => [s.key, s]));
  const unique = [...byKey.values()];
  const count = (st: string): number => unique.filter((s) => s.status === st).length;
  const parts = [`${count('done')} computed`, `${count('cached')} cached`];
  if (count('failed')) parts.push(`${count('failed')} failed`);
  if (count('skipped')) parts.push(`${count('skipped')} skipped`);
  if (count('interrupted')) parts.push(`${count('interrupted')} interrupted`);
  const variants = plan.pipeline.variants.length;
  const out: string[] = [];
  out.push(`${record.name}: ${unique.length} distinct stage${unique.length === 1 ? '' : 's'}${variants > 1 ? ` over ${variants} variants` : ''}: ${parts.join(', ')} in ${record.seconds.toFixed(1)}s`);
  for (const s of unique.filter((x) => x.status === 'failed')) {
    out.push(`\nstage "${taskLabel(plan.byKey.get(s.key)!, variants)}" (${s.type}) failed:\n  ${(s.error ?? '').split('\n').join('\n  ')}`);
  }
  const skipped = unique.filter((x) => x.status === 'skipped');
  if (skipped.length) out.push(`not run because an upstream stage failed: ${skipped.map((s) => s.id).join(', ')}`);
  for (const s of unique.filter((x) => x.missing)) {
    out.push(`${s.id} ran without what failed: ${s.missing!.map((m) => `${m.variant} (${m.stage})`).join(', ')}`);
  }
  // where to look: the outputs of the stages nothing else reads
  const consumed = new Set(plan.tasks.flatMap((t) => t.deps));
  for (const s of unique.filter((x) => !consumed.has(x.key) && (x.status === 'done' || x.status === 'cached'))) {
    for (const [port, path] of Object.entries(s.outputs)) {
      const html = join(path, 'index.html');
      out.push(`${s.id}.${port}: ${existsSync(html) ? html : path}`);
    }
  }
  out.push(`run record: ${recordPath}`);
  process.stderr.write(`${out.join('\n')}\n`);
}

async function dryRun(plan: Plan, store: Store, force: boolean | string[], json: boolean): Promise<number> {
  const variants = plan.pipeline.variants.length;
  const forcedSet = forcedKeys(plan, force);
  const cachedKey = (key: string): boolean => store.has(key) && !forcedSet.has(key);
  const forecasts = await forecast(plan, store, (key) => !cachedKey(key));
  const rows = plan.tasks.map((t) => {
    const forced = forcedSet.has(t.key);
    const cached = cachedKey(t.key);
    const f = forecasts.get(t.key);
    return { label: taskLabel(t, variants), type: t.stage.type, key: t.key, cached, forced, ...(f ? { forecast: f } : {}) };
  });
  if (json) {
    process.stdout.write(`${JSON.stringify({ pipeline: plan.pipeline.file, tasks: rows }, null, 2)}\n`);
    return 0;
  }
  for (const r of rows) process.stdout.write(`${r.cached ? '= cached   ' : r.forced ? '! forced   ' : '▶ would run'}  ${r.label}  (${r.type})  ${r.key.slice(0, 12)}${describeForecast(r.forecast)}\n`);
  const torun = rows.filter((r) => !r.cached).length;
  process.stdout.write(`${torun} of ${rows.length} distinct stages would run${forecastSummary(forecasts)}\n`);
  return 0;
}
