/**
 * From a pipeline to the set of distinct computations: every stage of every
 * variant gets its content key; stages with equal keys (identical across
 * variants) become one task that runs once. A gathering stage (StageDef.gather)
 * becomes one task fed by every variant.
 */
import { contentKey, implementationFingerprint, inputStamps, isNumeric, keyParams, type ImplFingerprint, type KeyMaterial } from './fingerprint.js';
import type { Pipeline, StageInstance } from './pipeline.js';
import { PipelineError } from './errors.js';
import type { MissingVariant } from './stage-api.js';

export interface TaskInput {
  /** Key of the producing task. */
  key: string;
  stage: string;
  port: string;
  /** The variant it was read for (the first of `variants`). */
  variant: string;
  /** A gathering stage's input: every variant that reads this output (it is passed once). */
  variants?: string[];
}

export interface Task {
  key: string;
  material: KeyMaterial;
  impl: ImplFingerprint;
  /** The first instance (all instances of a task are identical computations). */
  stage: StageInstance;
  seed: number;
  /** Every (variant, stage id) this task serves. */
  instances: { variant: string; stage: string }[];
  /** Port → the upstream outputs it reads. */
  inputs: Record<string, TaskInput[]>;
  /** Keys of the tasks whose outputs it reads. */
  deps: string[];
  /** Versions of its input files when keyed (see inputStamps); checked again before its output is stored. */
  stamps: Record<string, string>;
  /** A gathering stage run without some variants' inputs (see partialGather): what failed. */
  missing?: MissingVariant[];
}

export interface Plan {
  pipeline: Pipeline;
  /** In a valid execution order. */
  tasks: Task[];
  byKey: Map<string, Task>;
  /** variant id → stage id → key */
  keys: Map<string, Map<string, string>>;
}

export interface PlanOptions {
  /** The identity of the numeric engine, asked for only when a numeric stage is planned. */
  engine?: () => unknown;
}

export async function planPipeline(p: Pipeline, options: PlanOptions = {}): Promise<Plan> {
  const byKey = new Map<string, Task>();
  const tasks: Task[] = [];
  const keys = new Map<string, Map<string, string>>();
  const gathering = new Set<string>();

  const addTask = async (s: StageInstance, seed: number, inputs: Record<string, TaskInput[]>, served: { variant: string; stage: string }[], gathers = false): Promise<string> => {
    const impl = implementationFingerprint(s.def);
    const stamps = await inputStamps(s, p.dir); // before hashing: a write while hashing changes them
    const material: KeyMaterial = {
      type: s.type,
      impl: impl.hash,
      params: await keyParams(s, p.dir),
      seed: s.def.seedless ? null : seed,
      // a gathering stage also depends on which variants read which output (its report's rows)
      inputs: Object.fromEntries(Object.entries(inputs).map(([port, refs]) => [port, refs.map((r) => `${r.key}:${r.port}${r.variants ? `@${r.variants.join('|')}` : ''}`)])),
      ...(isNumeric(s.def) && options.engine ? { engine: options.engine() } : {}),
      ...(gathers && p.replicates.length ? { replicates: p.replicates } : {}),
      ...(s.def.named ? { names: { stage: s.id, inputs: Object.fromEntries(Object.entries(inputs).map(([port, refs]) => [port, refs.map((r) => `${r.stage}.${r.port}`)])) } } : {}),
    };
    const key = contentKey(material);
    let task = byKey.get(key);
    if (!task) {
      const deps = [...new Set(Object.values(inputs).flat().map((r) => r.key))];
      task = { key, material, impl, stage: s, seed, instances: [], inputs, deps, stamps };
      byKey.set(key, task);
      tasks.push(task);
    }
    task.instances.push(...served);
    return key;
  };

  for (const v of p.variants) {
    const vkeys = new Map<string, string>();
    keys.set(v.id, vkeys);
    for (const id of v.order) {
      const s = settled(p, v.stages.get(id)!);
      if (s.def.gather && p.variants.length > 1) {
        gathering.add(id);
        continue;
      }
      const inputs: Record<string, TaskInput[]> = {};
      for (const [port, refs] of Object.entries(s.inputs)) {
        inputs[port] = refs.map((r) => {
          const key = vkeys.get(r.stage);
          if (!key) throw gatherError(p, r.stage, id);
          return { key, stage: r.stage, port: r.port, variant: v.id };
        });
      }
      vkeys.set(id, await addTask(s, s.seed ?? v.seed, inputs, [{ variant: v.id, stage: id }]));
    }
  }

  for (const id of gathering) {
    const first = p.variants[0]!;
    const s = settled(p, first.stages.get(id)!);
    const inputs: Record<string, TaskInput[]> = {};
    for (const v of p.variants) {
      for (const [port, refs] of Object.entries(v.stages.get(id)!.inputs)) {
        for (const r of refs) {
          const key = keys.get(v.id)!.get(r.stage);
          if (!key) throw gatherError(p, r.stage, id);
          (inputs[port] ??= []).push({ key, stage: r.stage, port: r.port, variant: v.id });
        }
      }
    }
    // an upstream output shared by several variants is passed once, with the list of its readers
    for (const port of Object.keys(inputs)) {
      const once = new Map<string, TaskInput>();
      for (const r of inputs[port]!) {
        const id = `${r.key}:${r.port}`;
        const kept = once.get(id);
        if (kept) kept.variants!.push(r.variant);
        else once.set(id, { ...r, variants: [r.variant] });
      }
      inputs[port] = [...once.values()];
    }
    // its parameters are equal in every variant (checked when parsing); its seed is the pipeline's own
    const key = await addTask(s, p.seed, inputs, p.variants.map((v) => ({ variant: v.id, stage: id })), true);
    for (const v of p.variants) keys.get(v.id)!.set(id, key);
  }
  return { pipeline: p, tasks, byKey, keys };
}

/** The stage with its parameters settled for this machine (StageDef.settle), as it will run and be keyed. */
function settled(p: Pipeline, s: StageInstance): StageInstance {
  if (!s.def.settle) return s;
  try {
    return { ...s, params: s.def.settle(s.params) };
  } catch (e) {
    throw new PipelineError([{ file: p.file, message: `stage "${s.id}": ${e instanceof Error ? e.message : String(e)}` }]);
  }
}

function gatherError(p: Pipeline, upstream: string, stage: string): PipelineError {
  return new PipelineError([{ file: p.file, message: `stage "${stage}" reads "${upstream}", which gathers all sweep variants; nothing can depend on a gathering stage` }]);
}

/**
 * The tasks `--force` recomputes: every task serving a named stage (all of
 * them for `true`) and everything downstream of one, so no dependent stays
 * cached from the bytes a forced stage replaced.
 */
export function forcedKeys(plan: Plan, force: boolean | string[]): Set<string> {
  const out = new Set<string>();
  if (force === false) return out;
  for (const t of plan.tasks) {
    // plan.tasks is in execution order: a task's dependencies are decided before it
    if (force === true || t.instances.some((i) => force.includes(i.stage)) || t.deps.some((d) => out.has(d))) out.add(t.key);
  }
  return out;
}

/** How the display and messages name a task: its stage id(s) and the variant(s) it serves. */
export function taskLabel(task: Task, variants: number): string {
  const ids = [...new Set(task.instances.map((i) => i.stage))].join('/');
  if (variants <= 1) return ids;
  const vs = [...new Set(task.instances.map((i) => i.variant))];
  return vs.length === variants ? `${ids} [all variants]` : vs.length === 1 ? `${ids} [${vs[0]}]` : `${ids} [${vs.length} variants]`;
}
