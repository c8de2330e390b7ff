/**
 * A StageJob is everything needed to compute one task into a store, as plain
 * JSON: it travels to a worker thread, a queue worker on another host (BullMQ
 * job data) or a SLURM batch job (a file). Inputs are named by content key, not
 * by path, because each host may mount the shared store elsewhere.
 */
import { executionFingerprint, type KeyMaterial } from './fingerprint.js';
import type { Plan, Task } from './plan.js';
import { isTableKind, type MetricValue, type MissingVariant, type StageDef, type StageResources } from './stage-api.js';

export interface JobInput {
  key: string;
  port: string;
  stage: string;
  variant: string;
  axes: Record<string, unknown>;
  usedBy?: { variant: string; axes: Record<string, unknown> }[];
  /** How the producing stage's metrics read (which way is better), for reports. */
  metricInfo?: StageDef['metrics'];
  /** With usedBy: the pipeline's replicate axes. */
  replicates?: string[];
}

export interface StageJob {
  key: string;
  /** How the coordinator names the task (`ae [latent_dim=4]`), for messages. */
  label: string;
  type: string;
  stage: string;
  params: Record<string, unknown>;
  seed: number;
  pipelineDir: string;
  material: KeyMaterial;
  /** The coordinator's executionFingerprint of the stage type; a worker must have the same. */
  fingerprint: string;
  inputs: Record<string, JobInput[]>;
  /** A gathering stage run without some variants' inputs: what failed (StageContext.missing). */
  missing?: MissingVariant[];
  /** Recompute even if the store has the entry (`--force`). */
  force: boolean;
  resources: StageResources;
  /** Cores one run keeps busy (StageDef.cores on the settled parameters: a `threads: auto` was settled by the
   * coordinator and is in the key, so the job needs the same cores on whichever worker runs it). */
  cores: number;
  /** File parameters and the stamps of their files when the key was made: a file written since fails the job. */
  pathParams: string[];
  stamps: Record<string, string>;
}

/** Where a stage was computed, for the display and the run record. */
export interface ComputedBy {
  host: string;
  /** `pid 1234` locally; a queue worker's id; a SLURM job id. */
  worker: string;
}

export interface JobOutcome extends ComputedBy {
  /** `cached`: another process published the entry while we waited for its lock. */
  status: 'done' | 'cached' | 'failed' | 'interrupted';
  seconds: number;
  metrics: Record<string, MetricValue>;
  error?: string;
  /** The error came from user input (a StageError): not worth a stack trace, nor a retry. */
  userError?: boolean;
  /** The failure was the machine's, not the stage's: worth another try elsewhere. */
  infrastructure?: boolean;
  /** The store's filesystem failed (full, read-only, I/O error), or the queue's Redis stayed away: the run cannot go on; `error` is one line. */
  fatal?: boolean;
  /** An input entry was corrupt (now in quarantine/): its producer must be recomputed first. */
  corruptInput?: { key: string; note: string };
}

export const DEFAULT_RESOURCES: Required<StageResources> = { cpus: 1, memory: '2G', time: '1:00:00' };

export function stageJob(task: Task, plan: Plan, force: boolean, label: string): StageJob {
  const axesOf = new Map(plan.pipeline.variants.map((v) => [v.id, v.axes]));
  const inputs: Record<string, JobInput[]> = {};
  for (const [port, refs] of Object.entries(task.inputs)) {
    inputs[port] = refs.map((r) => ({
      key: r.key, port: r.port, stage: r.stage, variant: r.variant, axes: axesOf.get(r.variant) ?? {},
      ...(plan.byKey.get(r.key)?.stage.def.metrics ? { metricInfo: plan.byKey.get(r.key)!.stage.def.metrics } : {}),
      ...(r.variants ? { usedBy: r.variants.map((v) => ({ variant: v, axes: axesOf.get(v) ?? {} })), replicates: plan.pipeline.replicates } : {}),
    }));
  }
  const def = task.stage.def;
  return {
    key: task.key, label, type: task.stage.type, stage: task.stage.id, params: task.stage.params, seed: task.seed,
    pipelineDir: plan.pipeline.dir, material: task.material, fingerprint: executionFingerprint(def, task.material.engine), inputs, force,
    ...(task.missing ? { missing: task.missing } : {}),
    resources: atLeastCores({ ...DEFAULT_RESOURCES, ...def.resources, ...task.stage.resources }, stageCores(def, task.stage.params)),
    cores: stageCores(def, task.stage.params), pathParams: task.stage.pathParams, stamps: task.stamps,
  };
}

/** The cores one run of a stage with these (settled) parameters keeps busy (StageDef.cores), at least 1. */
export function stageCores(def: StageDef, params: Record<string, unknown>): number {
  const n = def.cores?.(params) ?? 1;
  return Number.isFinite(n) ? Math.max(1, Math.floor(n)) : 1;
}

/** A batch job asks for at least the cores its stage keeps busy, whatever `resources:` says. */
function atLeastCores(r: StageResources, cores: number): StageResources {
  return cores > (r.cpus ?? 1) ? { ...r, cpus: cores } : r;
}

/** Output ports of a stage and where each goes inside an entry directory. */
export function outputLayout(def: StageDef): Record<string, { kind: string; path: string }> {
  return Object.fromEntries(Object.entries(def.outputs).map(([port, spec]) => [port, { kind: spec.kind, path: isTableKind(spec.kind) ? `${port}.arrow` : port }]));
}

/** Why `who`, computing on `engine`, must not compute `job` under its key (another implementation or engine), or undefined. */
export function fingerprintMismatch(def: StageDef, job: StageJob, who: string, engine: unknown, backend: string): string | undefined {
  const mine = executionFingerprint(def, engine);
  if (mine === job.fingerprint) return undefined;
  return `${who} refuses stage "${job.label}" (${job.type}, key ${job.key.slice(0, 12)}): its implementation fingerprint ${mine.slice(0, 12)} differs from the coordinator's ${job.fingerprint.slice(0, 12)} (another specflow version, plugin or backend; its backend: ${backend})`;
}
