/** `specflow status FILE [--explain]`: what is cached, what would run, and why. */
import { planPipeline, type Plan, type Task } from '../runner/plan.js';
import type { KeyMaterial } from '../runner/fingerprint.js';
import type { RunRecord, StageRecord } from '../runner/records.js';
import type { Store } from '../runner/store.js';
import { canonicalJson } from '../runner/fingerprint.js';
import { existingStore, pipelineFrom, type GlobalOptions, type PipelineArgs } from './common.js';
import { backendEnvironmentProblem } from '../ml/backend.js';
import { engineIdentity, type EngineIdentity } from '../ml/engine-identity.js';
import { UserError } from '../runner/errors.js';
import { describeForecast, forecast, forecastSummary, type Forecast } from './forecast.js';

export interface StatusArgs extends PipelineArgs, GlobalOptions {
  explain?: boolean;
  json?: boolean;
}

export interface StageStatus {
  id: string;
  variant: string;
  key: string;
  cached: boolean;
  reasons: string[];
  /** For a stage that would run, when earlier failures under the same keys repeat (see forecast). */
  forecast?: Forecast;
}

export async function statusCommand(file: string, args: StatusArgs): Promise<number> {
  const store = existingStore(args);
  const pipeline = await pipelineFrom(file, args, store);
  const envProblem = backendEnvironmentProblem();
  if (envProblem) throw new UserError(envProblem);
  const plan = await planPipeline(pipeline, { engine: engineIdentity });
  const statuses = await explainPlan(plan, store);
  const forecasts = await forecast(plan, store, (key) => !store.has(key));
  for (const s of statuses) { const f = forecasts.get(s.key); if (f) s.forecast = f; }
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ pipeline: file, stages: statuses }, null, 2)}\n`);
    return 0;
  }
  const variants = plan.pipeline.variants.length;
  let lastVariant = '';
  for (const s of statuses) {
    if (variants > 1 && s.variant !== lastVariant) {
      process.stdout.write(`variant ${s.variant}\n`);
      lastVariant = s.variant;
    }
    const indent = variants > 1 ? '  ' : '';
    process.stdout.write(`${indent}${s.cached ? '= cached   ' : '▶ would run'}  ${s.id}  ${s.key.slice(0, 12)}${describeForecast(s.forecast)}\n`);
    if (args.explain && !s.cached) for (const r of s.reasons) process.stdout.write(`${indent}      ${r}\n`);
  }
  const distinct = new Map(statuses.map((s) => [s.key, s.cached]));
  const torun = [...distinct.values()].filter((c) => !c).length;
  process.stdout.write(`${torun === 0 ? 'up to date' : `${torun} of ${distinct.size} distinct stages would run${forecastSummary(forecasts)}`}\n`);
  return 0;
}

/** For each stage of each variant: cached or not, and why not, against the most recent run of this pipeline. */
export async function explainPlan(plan: Plan, store: Store): Promise<StageStatus[]> {
  const previous = await previousStages(plan, store);
  const out: StageStatus[] = [];
  for (const v of plan.pipeline.variants) {
    for (const id of v.order) {
      const key = plan.keys.get(v.id)!.get(id)!;
      const task = plan.byKey.get(key)!;
      const cached = store.has(key);
      const reasons = cached ? [] : explain(task, previous.get(`${v.id}\0${id}`) ?? previous.get(`default\0${id}`), store);
      out.push({ id, variant: v.id, key, cached, reasons });
    }
  }
  return out;
}

async function previousStages(plan: Plan, store: Store): Promise<Map<string, StageRecord>> {
  const map = new Map<string, StageRecord>();
  const ids = (await store.runIds()).reverse();
  for (const runId of ids.slice(0, 50)) {
    const rec = store.readRun<RunRecord>(runId);
    if (!rec || rec.pipeline_path !== plan.pipeline.absPath) continue;
    for (const s of rec.stages) {
      const k = `${s.variant}\0${s.id}`;
      if (!map.has(k) && s.material) map.set(k, s);
    }
  }
  return map;
}

/** "report ← clean.spectra, codes.codes" for the names a stage's output shows (StageDef.named). */
function namesOf(names: KeyMaterial['names']): string {
  if (!names) return '(none)';
  return `${names.stage} ← ${[...new Set(Object.values(names.inputs).flat())].join(', ')}`;
}

function explain(task: Task, prev: StageRecord | undefined, store: Store): string[] {
  if (!prev) return ['never run before (no earlier run of this pipeline records this stage)'];
  if (prev.key === task.key) return ['its output is no longer in the store (removed by `cache gc`, or the run that made it failed)'];
  const reasons: string[] = [];
  const a: KeyMaterial = prev.material;
  const b: KeyMaterial = task.material;
  if (a.type !== b.type) reasons.push(`stage type changed: ${a.type} → ${b.type}`);
  if (a.impl !== b.impl) {
    const changed = Object.keys({ ...prev.impl?.files, ...task.impl.files })
      .filter((f) => prev.impl?.files?.[f] !== task.impl.files[f]);
    const pk = Object.keys({ ...prev.impl?.packages, ...task.impl.packages })
      .filter((n) => prev.impl?.packages?.[n] !== task.impl.packages[n])
      .map((n) => `${n} ${prev.impl?.packages?.[n] ?? '∅'} → ${task.impl.packages[n] ?? '∅'}`);
    const what = [...changed.map((f) => `source ${f}`), ...pk];
    reasons.push(`implementation changed${what.length ? `: ${what.join(', ')}` : ''}`);
  }
  for (const name of new Set([...Object.keys(a.params), ...Object.keys(b.params)])) {
    const x = a.params[name];
    const y = b.params[name];
    if (canonicalJson(x) !== canonicalJson(y)) {
      const isFile = (v: unknown): boolean => typeof v === 'object' && v !== null && 'files' in (v as object);
      reasons.push(isFile(x) || isFile(y) ? `input file of parameter "${name}" changed${changedFiles(x, y)}` : `parameter "${name}" changed: ${short(x)} → ${short(y)}`);
    }
  }
  if (a.seed !== b.seed) reasons.push(`seed changed: ${a.seed} → ${b.seed}`);
  if (canonicalJson(a.names) !== canonicalJson(b.names)) reasons.push(`the stage names it shows changed: ${namesOf(a.names)} → ${namesOf(b.names)}`);
  reasons.push(...engineChanges(a.engine as EngineIdentity | undefined, b.engine as EngineIdentity | undefined));
  // a gathering stage's inputs also name the variants reading each output (`key:port@v1|v2`)
  const outputsOnly = (refs: string[] | undefined) => canonicalJson((refs ?? []).map((r) => r.replace(/@.*$/, '')));
  for (const port of new Set([...Object.keys(a.inputs), ...Object.keys(b.inputs)])) {
    if (canonicalJson(a.inputs[port]) === canonicalJson(b.inputs[port])) continue;
    if (outputsOnly(a.inputs[port]) === outputsOnly(b.inputs[port])) {
      reasons.push(`the sweep's variants changed: the same outputs of input "${port}" are read by other variants`);
      continue;
    }
    // name only the inputs whose entry differs from last time: the others of a many-input port did not change
    const before = new Set((a.inputs[port] ?? []).map((r) => r.replace(/@.*$/, '')));
    const changed = (task.inputs[port] ?? []).filter((r) => !before.has(`${r.key}:${r.port}`));
    const upstream = [...new Set(changed.map((r) => (store.has(r.key) ? `${r.stage} (its output changed)` : `${r.stage} (which would re-run)`)))];
    reasons.push(`input "${port}" changed: ${upstream.join(', ') || 'rewired'}`);
  }
  return reasons.length ? reasons : ['key changed'];
}

/** Why a numeric stage's engine identity differs (records from before it was keyed have none). */
function engineChanges(a: EngineIdentity | undefined, b: EngineIdentity | undefined): string[] {
  if (canonicalJson(a) === canonicalJson(b)) return [];
  if (!a || !b) return [`numeric engine now part of the key (backend ${b?.backend ?? a?.backend})`];
  const out: string[] = [];
  if (a.backend !== b.backend) out.push(`backend changed: ${a.backend} → ${b.backend}`);
  if (canonicalJson(a.kernels) !== canonicalJson(b.kernels) && a.backend === b.backend) out.push('wasm kernels changed (kernel build or its .wasm files)');
  const versions = Object.keys({ ...a.tfjs, ...b.tfjs }).filter((n) => a.tfjs?.[n] !== b.tfjs?.[n]).map((n) => `${n} ${a.tfjs?.[n] ?? '∅'} → ${b.tfjs?.[n] ?? '∅'}`);
  if (versions.length) out.push(`tfjs versions changed: ${versions.join(', ')}`);
  return out.length ? out : ['numeric engine changed'];
}

/** Which of a file parameter's files (keyed `{files: {path: hash}}`) changed, appeared or went: `: a.csv, b.csv (new)`. */
function changedFiles(x: unknown, y: unknown): string {
  const files = (v: unknown): Record<string, string> => ((v as { files?: Record<string, string> } | undefined)?.files ?? {});
  const [a, b] = [files(x), files(y)];
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((f) => a[f] !== b[f]);
  return names.length ? `: ${names.map((f) => (!(f in a) ? `${f} (new)` : !(f in b) ? `${f} (gone)` : f)).join(', ')}` : '';
}

function short(v: unknown): string {
  const s = v === undefined ? '(unset)' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}
