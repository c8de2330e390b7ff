/**
 * From a pipeline to the set of distinct computations: every stage of every
 * variant gets its content key; stages with equal keys (identical across
 * variants) become one task that runs once. A gathering stage (StageDef.gather)
 * becomes one task fed by every variant.
 */
import { contentKey, implementationFingerprint, keyParams, type ImplFingerprint, type KeyMaterial } from './fingerprint.js';
import type { Pipeline, StageInstance } from './pipeline.js';
import { PipelineError } from './errors.js';

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
}

export interface Plan {
  pipeline: Pipeline;
  /** In a valid execution order. */
  tasks: Task[];
  byKey: Map<string, Task>;
  /** variant id → stage id → key */
  keys: Map<string, Map<string, string>>;
}

export async function planPipeline(p: Pipeline): Promise<Plan> {
  const byKey = new Map<string, Task>();
  const tasks: Task[] = [];
  const keys = new Map<string, Map<string, string>>();
  const gathering = new Set<string>();

  const addTask = async (s: StageInstance, seed: number, inputs: Record<string, TaskInput[]>, served: { variant: string; stage: string }[]): Promise<string> => {
    const impl = implementationFingerprint(s.def);
    const material: KeyMaterial = {
      type: s.type,
      impl: impl.hash,
      params: await keyParams(s, p.dir),
      seed: s.def.seedless ? null : seed,
      // a gathering stage also depends on which variants read which output (its report's rows)
      inputs: Object.fromEntries(Object.entries(inputs).map(([port, refs]) => [port, refs.map((r) => `${r.key}:${r.port}${r.variants ? `@${r.variants.join('|')}` : ''}`)])),
    };
    const key = contentKey(material);
    let task = byKey.get(key);
    if (!task) {
      const deps = [...new Set(Object.values(inputs).flat().map((r) => r.key))];
      task = { key, material, impl, stage: s, seed, instances: [], inputs, deps };
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
      const s = v.stages.get(id)!;
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
      vkeys.set(id, await addTask(s, v.seed, inputs, [{ variant: v.id, stage: id }]));
    }
  }

  for (const id of gathering) {
    const first = p.variants[0]!;
    const s = first.stages.get(id)!;
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
    const key = await addTask(s, first.seed, inputs, p.variants.map((v) => ({ variant: v.id, stage: id })));
    for (const v of p.variants) keys.get(v.id)!.set(id, key);
  }
  return { pipeline: p, tasks, byKey, keys };
}

function gatherError(p: Pipeline, upstream: string, stage: string): PipelineError {
  return new PipelineError([{ file: p.file, message: `stage "${stage}" reads "${upstream}", which gathers all sweep variants; nothing can depend on a gathering stage` }]);
}

/** How the display and messages name a task: its stage id(s) and the variant(s) it serves. */
export function taskLabel(task: Task, variants: number): string {
  const ids = [...new Set(task.instances.map((i) => i.stage))].join('/');
  if (variants <= 1) return ids;
  const vs = [...new Set(task.instances.map((i) => i.variant))];
  return vs.length === variants ? `${ids} [all variants]` : vs.length === 1 ? `${ids} [${vs[0]}]` : `${ids} [${vs.length} variants]`;
}
