/**
 * From a pipeline to the set of distinct computations: every stage of every
 * variant gets its content key; stages with equal keys (identical across
 * variants) become one task that runs once.
 */
import { contentKey, implementationFingerprint, keyParams, type ImplFingerprint, type KeyMaterial } from './fingerprint.js';
import type { Pipeline, StageInstance } from './pipeline.js';

export interface Task {
  key: string;
  material: KeyMaterial;
  impl: ImplFingerprint;
  /** The first instance (all instances of a task are identical computations). */
  stage: StageInstance;
  seed: number;
  /** Every (variant, stage id) this task serves. */
  instances: { variant: string; stage: string }[];
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
  for (const v of p.variants) {
    const vkeys = new Map<string, string>();
    keys.set(v.id, vkeys);
    for (const id of v.order) {
      const s = v.stages.get(id)!;
      const impl = implementationFingerprint(s.def);
      const inputs: Record<string, string[]> = {};
      for (const [port, refs] of Object.entries(s.inputs)) {
        inputs[port] = refs.map((r) => `${vkeys.get(r.stage)!}:${r.port}`);
      }
      const material: KeyMaterial = {
        type: s.type,
        impl: impl.hash,
        params: await keyParams(s, p.dir),
        seed: s.def.seedless ? null : v.seed,
        inputs,
      };
      const key = contentKey(material);
      vkeys.set(id, key);
      let task = byKey.get(key);
      if (!task) {
        const deps = [...new Set(Object.values(s.inputs).flat().map((r) => vkeys.get(r.stage)!))];
        task = { key, material, impl, stage: s, seed: v.seed, instances: [], deps };
        byKey.set(key, task);
        tasks.push(task);
      }
      task.instances.push({ variant: v.id, stage: id });
    }
  }
  return { pipeline: p, tasks, byKey, keys };
}
