/**
 * What `status` and `run --dry-run` can say beyond "would run": a stage that failed last
 * time under the same key runs again (failures are never cached) and, being the same
 * computation, fails again unless something outside its key changed; what is downstream of
 * it is then skipped, and a gathering stage (the sweep's report) runs without those
 * variants — reusing the partial result cached for the same failures, if there is one.
 * Saying "would run" for all of them promised a full report the run does not make.
 */
import { firstLine, partialGather, type UpstreamOutcome } from '../runner/partial-gather.js';
import type { Plan } from '../runner/plan.js';
import type { RunRecord } from '../runner/records.js';
import type { Store } from '../runner/store.js';

export interface Forecast {
  /** The stage failed last time with this key (its error's first line). */
  failedBefore?: string;
  /** Downstream of such a stage: skipped if it fails again. */
  skippedIf?: { stage: string; error: string };
  /** A gathering stage: if those stages fail again, it runs without these variants; `reused` when that result is cached. */
  partial?: { without: { variant: string; stage: string; error: string }[]; key: string; reused: boolean };
}

/** How many earlier runs of the pipeline are read (as for `status --explain`). */
const RUNS = 50;

/** Forecasts by task key, for the tasks that would run (`runs(key)`), from this pipeline's recent run records. */
export async function forecast(plan: Plan, store: Store, runs: (key: string) => boolean): Promise<Map<string, Forecast>> {
  const lastError = new Map<string, string>();
  const seen = new Set<string>();
  for (const id of (await store.runIds()).reverse().slice(0, RUNS)) {
    const rec = store.readRun<RunRecord>(id);
    if (!rec || rec.pipeline_path !== plan.pipeline.absPath) continue;
    for (const s of rec.stages) {
      if (seen.has(s.key)) continue; // the latest run with this key decides
      seen.add(s.key);
      if (s.status === 'failed') lastError.set(s.key, firstLine(s.error ?? 'failed'));
    }
  }
  const out = new Map<string, Forecast>();
  if (!lastError.size) return out;
  // the scheduler's view if every such stage fails again: failed, skipped behind it, or fine
  const outcome = new Map<string, UpstreamOutcome>();
  for (const task of plan.tasks) {
    const before = lastError.get(task.key);
    if (before !== undefined && runs(task.key)) {
      outcome.set(task.key, { status: 'failed', error: before });
      out.set(task.key, { failedBefore: before });
      continue;
    }
    const bad = task.deps.map((k) => ({ k, o: outcome.get(k)! })).find(({ o }) => o.status !== 'ok');
    if (!bad || !runs(task.key)) { outcome.set(task.key, { status: 'ok' }); continue; }
    const partial = partialGather(task, plan, (k) => outcome.get(k)!);
    if (partial) {
      outcome.set(task.key, { status: 'ok' });
      const without = partial.missing!.map(({ variant, stage, error }) => ({ variant, stage, error }));
      out.set(task.key, { partial: { without, key: partial.key, reused: store.has(partial.key) } });
      continue;
    }
    const stage = bad.o.blockedBy ?? plan.byKey.get(bad.k)!.stage.id;
    const error = bad.o.cause ?? bad.o.error ?? 'failed';
    outcome.set(task.key, { status: 'skipped', blockedBy: stage, cause: error });
    out.set(task.key, { skippedIf: { stage, error } });
  }
  return out;
}

/** One line's worth: what happens to a task that would run, when earlier failures repeat. */
export function describeForecast(f: Forecast | undefined): string {
  if (!f) return '';
  if (f.failedBefore !== undefined) return `  — failed last time with this key: ${f.failedBefore}`;
  if (f.skippedIf) return `  — skipped if ${f.skippedIf.stage} fails again (${f.skippedIf.error})`;
  if (f.partial) {
    const lost = f.partial.without.map((m) => `${m.variant} (${m.stage})`).join(', ');
    const what = f.partial.reused ? `the partial result ${f.partial.key.slice(0, 12)} made without ${f.partial.without.length === 1 ? 'it' : 'them'} is reused` : `it runs without ${f.partial.without.length === 1 ? 'it' : 'them'}`;
    return `  — if ${lost} fail${f.partial.without.length === 1 ? 's' : ''} again, ${what}`;
  }
  return '';
}

/** The summary's addition: the run is not going to succeed as things stand. */
export function forecastSummary(forecasts: Map<string, Forecast>): string {
  const failing = [...forecasts.values()].filter((f) => f.failedBefore !== undefined).length;
  return failing ? `; ${failing} of them failed last time with the same key (the run exits 1 if they fail again)` : '';
}
