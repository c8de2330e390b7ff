/**
 * A stage that keeps several cores busy (StageDef.cores, e.g. train.autoencoder
 * with threads: 2) takes as many of the local executor's --jobs slots.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { StageDef } from '../../src/core/stage-api.js';
import { parsePipeline } from '../../src/runner/pipeline.js';
import { planPipeline } from '../../src/runner/plan.js';
import { executePlan } from '../../src/runner/scheduler.js';
import { Store } from '../../src/runner/store.js';
import { tempDir } from './helpers.js';

let running = 0;
let peak = 0;

const busy: StageDef = {
  type: 'test.busy',
  description: 'occupies `cores` cores for a moment',
  inputs: {},
  outputs: { out: { kind: 'dir' } },
  params: { type: 'object', properties: { cores: { type: 'integer', default: 1 }, id: { type: 'integer', default: 0 } } },
  cores: (params) => params.cores as number,
  module: import.meta.url,
  async run(ctx) {
    writeFileSync(join(ctx.output('out'), 'done'), '');
    running++;
    peak = Math.max(peak, running);
    await sleep(150);
    running--;
  },
};

async function peakRunning(cores: number): Promise<number> {
  const stages = [1, 2, 3].map((i) => `  s${i}:\n    type: test.busy\n    with: { cores: ${cores}, id: ${i} }\n`).join('');
  const p = parsePipeline(`name: c\nstages:\n${stages}`, 'c.yaml', { registry: new Map([[busy.type, busy]]) });
  const plan = await planPipeline(p);
  const store = new Store(tempDir());
  await store.ensureLayout();
  running = 0;
  peak = 0;
  const results = await executePlan(plan, store, { jobs: 2, force: false, signal: new AbortController().signal });
  await store.close();
  expect([...results.values()].map((r) => r.error ?? r.status)).toEqual(['done', 'done', 'done']);
  return peak;
}

describe('cores of a stage', () => {
  it('are charged against --jobs: two-core stages run one at a time on --jobs 2, one-core stages two at a time', async () => {
    expect(await peakRunning(2)).toBe(1);
    expect(await peakRunning(1)).toBe(2);
  });
});

describe('CoreSlots.tryAcquire (what a queue worker asks before it claims a job)', () => {
  it('grants only free slots, caps a wide request at the capacity, and never overtakes a waiting wider stage', async () => {
    const { CoreSlots } = await import('../../src/runner/core-slots.js');
    const slots = new CoreSlots(2);
    const one = slots.tryAcquire(1)!;
    expect(one).toBeDefined();
    expect(slots.tryAcquire(2)).toBeUndefined(); // one core busy
    const waiting = slots.acquire(2); // a wide stage queues for both cores…
    one();
    const both = await waiting;
    expect(slots.tryAcquire(1)).toBeUndefined(); // …and holds them
    both();
    const all = slots.tryAcquire(5)!; // wider than the capacity: takes all of it
    expect(slots.tryAcquire(1)).toBeUndefined();
    all();
    const a = slots.tryAcquire(1)!;
    const wide = slots.acquire(2);
    expect(slots.tryAcquire(1)).toBeUndefined(); // a free core, but a wider stage waits first
    a();
    (await wide)();
    expect(slots.tryAcquire(2)).toBeDefined();
  });
});
