/**
 * A gathering stage whose upstream stages failed for some variants: with every
 * port it reads through tolerating that (InputPortSpec.partial), it runs on the
 * artifacts that exist, told which variants failed where. That description
 * enters the content key, so the same failure again reuses the result and a
 * later run where every variant succeeds computes the full one (its plan key).
 */
import { contentKey } from './fingerprint.js';
import type { Plan, Task, TaskInput } from './plan.js';
import type { MissingVariant } from './stage-api.js';

/** What the scheduler knows of an upstream task once it settled. */
export interface UpstreamOutcome {
  status: string;
  error?: string;
  /** For a skipped task: the failed stage that blocked it, and that stage's first error line. */
  blockedBy?: string;
  cause?: string;
}

/** The task as it can run without the failed upstream outputs, or undefined when it cannot (it is skipped). */
export function partialGather(task: Task, plan: Plan, upstream: (key: string) => UpstreamOutcome): Task | undefined {
  const { def } = task.stage;
  if (!def.gather || plan.pipeline.variants.length < 2) return undefined;
  const lost = (r: TaskInput): boolean => ['failed', 'skipped', 'interrupted'].includes(upstream(r.key).status);
  const inputs: Record<string, TaskInput[]> = {};
  const missing: MissingVariant[] = [];
  const axesOf = new Map(plan.pipeline.variants.map((v) => [v.id, v.axes]));
  for (const [port, refs] of Object.entries(task.inputs)) {
    const gone = refs.filter(lost);
    if (gone.length && !def.inputs[port]?.partial) return undefined;
    inputs[port] = refs.filter((r) => !lost(r));
    for (const r of gone) {
      const u = upstream(r.key);
      const why = u.status === 'skipped' ? { stage: u.blockedBy ?? r.stage, error: u.cause ?? 'not run' } : { stage: r.stage, error: firstLine(u.error ?? u.status) };
      for (const variant of r.variants ?? [r.variant]) missing.push({ variant, axes: axesOf.get(variant) ?? {}, ...why });
    }
  }
  const order = plan.pipeline.variants.map((v) => v.id);
  const failedVariants = new Set(missing.map((m) => m.variant));
  if (!order.some((v) => !failedVariants.has(v))) return undefined;
  // one line per variant and failure, in the sweep's order (the key must not depend on completion order)
  const seen = new Set<string>();
  const described = missing
    .filter((m) => { const id = `${m.variant}\0${m.stage}\0${m.error}`; if (seen.has(id)) return false; seen.add(id); return true; })
    .sort((a, b) => order.indexOf(a.variant) - order.indexOf(b.variant) || byCodeUnits(a.stage, b.stage) || byCodeUnits(a.error, b.error));
  const material = { ...task.material, missing: described };
  const deps = [...new Set(Object.values(inputs).flat().map((r) => r.key))];
  return { ...task, key: contentKey(material), material, inputs, deps, missing: described };
}

/** Not localeCompare: a key must not depend on the machine's locale. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** An error's first line: what a report and a key keep of it (a stack trace's frames vary with the install). */
export function firstLine(error: string): string {
  return error.split('\n', 1)[0]!.trim();
}
