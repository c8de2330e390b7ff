/**
 * The scheduler's side of a sweep with a failed variant: a gathering stage whose
 * input port tolerates missing entries (InputPortSpec.partial) runs on what the
 * other variants made and is told what failed; every other stage is skipped as before.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StageError, type MissingVariant, type StageDef } from '../../src/core/stage-api.js';
import { parsePipeline } from '../../src/runner/pipeline.js';
import { planPipeline, type Plan } from '../../src/runner/plan.js';
import { executePlan, type TaskResult } from '../../src/runner/scheduler.js';
import { Store } from '../../src/runner/store.js';
import { tempDir } from './helpers.js';

/** The values that fail, as the "data" a user fixes between runs (a module variable: not in any key). */
let failing = new Set<number>();
let gathered: { variants: string[]; missing: MissingVariant[] }[] = [];

const value: StageDef = {
  type: 'u.value',
  description: 'writes its parameter; fails for the values in `failing`',
  inputs: {},
  outputs: { out: { kind: 'dir' } },
  params: { type: 'object', properties: { v: { type: 'integer' } } },
  module: import.meta.url,
  async run(ctx) {
    if (failing.has(ctx.params.v as number)) throw new StageError(`v=${String(ctx.params.v)} is too large\nsecond line`);
    writeFileSync(join(ctx.output('out'), 'v'), String(ctx.params.v));
  },
};

const after: StageDef = {
  type: 'u.after',
  description: 'reads one value',
  inputs: { in: { kind: 'dir' } },
  outputs: { out: { kind: 'dir' } },
  params: { type: 'object', properties: {} },
  module: import.meta.url,
  async run(ctx) { writeFileSync(join(ctx.output('out'), 'x'), ''); },
};

const gatherDef = (type: string, partial: boolean): StageDef => ({
  type,
  description: 'sees every variant',
  inputs: { items: { kind: 'dir', many: true, partial } },
  outputs: { out: { kind: 'dir' } },
  params: { type: 'object', properties: {} },
  gather: true,
  seedless: true,
  module: import.meta.url,
  async run(ctx) {
    const items = (ctx.inputs.items ?? []) as { variant?: string; usedBy?: { variant: string }[] }[];
    gathered.push({ variants: items.flatMap((a) => a.usedBy?.map((u) => u.variant) ?? [a.variant!]), missing: ctx.missing ?? [] });
    writeFileSync(join(ctx.output('out'), 'n'), String(items.length));
  },
});

const registry = new Map([value, after, gatherDef('u.tolerant', true), gatherDef('u.strict', false)].map((d) => [d.type, d]));

async function run(yaml: string, store: Store, force: boolean | string[] = false): Promise<{ plan: Plan; results: Map<string, TaskResult>; of: (stage: string) => TaskResult }> {
  const plan = await planPipeline(parsePipeline(yaml, 'p.yaml', { registry }));
  const results = await executePlan(plan, store, { jobs: 1, force, signal: new AbortController().signal });
  const of = (stage: string): TaskResult => results.get(plan.keys.get(plan.pipeline.variants[0]!.id)!.get(stage)!)!;
  return { plan, results, of };
}

async function freshStore(): Promise<Store> {
  const store = new Store(tempDir());
  await store.ensureLayout();
  return store;
}

const sweep = (values: number[], gather = 'u.tolerant', chain = false): string =>
  `name: p\nsweep: { v: [${values.join(', ')}] }\nstages:\n  val: { type: u.value, with: { v: "\${v}" } }\n${chain ? '  next: { type: u.after, in: val }\n' : ''}  all: { type: ${gather}, in: [${chain ? 'next' : 'val'}] }\n`;

describe('a gathering stage whose port tolerates missing entries', () => {
  it('runs with the variants that succeeded, told which variant failed in which stage with the error\'s first line', async () => {
    failing = new Set([70]);
    gathered = [];
    const store = await freshStore();
    const { plan, of } = await run(sweep([2, 3, 70]), store);
    const all = of('all');
    expect(all.status).toBe('done');
    expect(gathered).toEqual([{ variants: ['v=2', 'v=3'], missing: [{ variant: 'v=70', axes: { v: 70 }, stage: 'val', error: 'v=70 is too large' }] }]);
    // its entry is keyed by what failed, not by the plan's key (which names the complete gathering)
    const planned = plan.keys.get('v=2')!.get('all')!;
    expect(all.key).not.toBe(planned);
    expect(store.has(all.key)).toBe(true);
    expect(store.has(planned)).toBe(false);
    expect(all.missing?.map((m) => m.variant)).toEqual(['v=70']);
    await store.close();
  });

  it('names the stage that failed, not the one skipped because of it', async () => {
    failing = new Set([70]);
    gathered = [];
    const store = await freshStore();
    const { of } = await run(sweep([2, 70], 'u.tolerant', true), store);
    expect(of('all').status).toBe('done');
    expect(gathered[0]!.missing).toEqual([{ variant: 'v=70', axes: { v: 70 }, stage: 'val', error: 'v=70 is too large' }]);
    await store.close();
  });

  it('reuses its result when the same variant fails the same way again; recomputes the full one once it succeeds', async () => {
    failing = new Set([70]);
    gathered = [];
    const store = await freshStore();
    const first = (await run(sweep([2, 70]), store)).of('all');
    const again = (await run(sweep([2, 70]), store)).of('all');
    expect(again.status).toBe('cached');
    expect(again.key).toBe(first.key);
    expect(again.missing?.map((m) => m.variant)).toEqual(['v=70']);
    expect(gathered).toHaveLength(1);
    // --force of the gathering stage recomputes the partial run too
    expect((await run(sweep([2, 70]), store, ['all'])).of('all').status).toBe('done');
    expect(gathered).toHaveLength(2);

    failing = new Set();
    const fixed = await run(sweep([2, 70]), store);
    const full = fixed.of('all');
    expect(full.status).toBe('done');
    expect(full.key).toBe(fixed.plan.keys.get('v=2')!.get('all'));
    expect(full.missing).toBeUndefined();
    expect(gathered.at(-1)).toEqual({ variants: ['v=2', 'v=70'], missing: [] });
    await store.close();
  });

  it('another failure (another variant, another error) is another result', async () => {
    failing = new Set([70]);
    const store = await freshStore();
    const a = (await run(sweep([2, 3, 70]), store)).of('all');
    failing = new Set([3]);
    // forced, so that v=3's value (cached by the first run) is computed again, and fails
    const b = (await run(sweep([2, 3, 70]), store, ['val'])).of('all');
    expect(b.status).toBe('done');
    expect(b.key).not.toBe(a.key);
    expect(b.missing?.map((m) => m.variant)).toEqual(['v=3']);
    await store.close();
  });

  it('is skipped when no variant has all its inputs', async () => {
    failing = new Set([2, 70]);
    gathered = [];
    const store = await freshStore();
    const all = (await run(sweep([2, 70]), store)).of('all');
    expect(all.status).toBe('skipped');
    expect(all.blockedBy).toBe('val');
    expect(gathered).toHaveLength(0);
    await store.close();
  });
});

describe('stages that do not tolerate missing entries keep being skipped', () => {
  it('a gathering stage without `partial`', async () => {
    failing = new Set([70]);
    gathered = [];
    const store = await freshStore();
    const all = (await run(sweep([2, 70], 'u.strict'), store)).of('all');
    expect(all.status).toBe('skipped');
    expect(all.blockedBy).toBe('val');
    expect(gathered).toHaveLength(0);
    await store.close();
  });

  it('a tolerant gathering stage in an unswept pipeline, whose one variant failed', async () => {
    failing = new Set([70]);
    gathered = [];
    const store = await freshStore();
    const all = (await run('name: p\nstages:\n  val: { type: u.value, with: { v: 70 } }\n  all: { type: u.tolerant, in: [val] }\n', store)).of('all');
    expect(all.status).toBe('skipped');
    expect(gathered).toHaveLength(0);
    await store.close();
  });

  it('a stage downstream of a failed one in the same variant, with the cause of the skip', async () => {
    failing = new Set([70]);
    const store = await freshStore();
    const { plan, results } = await run(sweep([2, 70], 'u.tolerant', true), store);
    const next = results.get(plan.keys.get('v=70')!.get('next')!)!;
    expect(next.status).toBe('skipped');
    expect(next.blockedBy).toBe('val');
    expect(next.cause).toBe('v=70 is too large');
    await store.close();
  });
});
