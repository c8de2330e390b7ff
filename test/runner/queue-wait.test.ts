/**
 * The queue coordinator's wait for a job, against a fake BullMQ whose jobs this
 * test moves by hand, so that the racy moments happen every time: a job that
 * completes while the coordinator is still adding it, a missed 'completed'
 * event, a job that waits for long. (queue.test.ts runs the real thing.)
 */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StageDef } from '../../src/core/stage-api.js';
import type { ExecutorHooks } from '../../src/runner/executors/executor.js';
import type { StageMessage } from '../../src/runner/execute-stage.js';
import type { JobOutcome, StageJob } from '../../src/runner/stage-job.js';
import { Store } from '../../src/runner/store.js';
import { tempDir } from './helpers.js';

interface FakeJob { id: string; state: string; returnvalue: JobOutcome | null; failedReason: string; processedBy?: string }

const fake = vi.hoisted(() => ({
  jobs: new Map<string, FakeJob>(),
  events: undefined as undefined | EventEmitter,
  /** Called inside Queue.add, after the job exists and before add returns. */
  onAdd: undefined as undefined | ((id: string) => void),
  /** Awaited inside Queue.add before the job exists (the add still on its way to Redis). */
  beforeAdd: undefined as undefined | (() => Promise<void>),
  queueNames: [] as string[],
}));

vi.mock('bullmq', async () => {
  const { EventEmitter: Emitter } = await import('node:events');
  const view = (j: FakeJob): unknown => ({
    id: j.id, returnvalue: j.returnvalue, failedReason: j.failedReason, processedBy: j.processedBy,
    getState: async () => fake.jobs.get(j.id)?.state ?? 'unknown',
    remove: async () => { fake.jobs.delete(j.id); },
  });
  class Queue extends Emitter {
    constructor(readonly name: string) { super(); fake.queueNames.push(name); }
    async waitUntilReady(): Promise<void> {}
    async close(): Promise<void> {}
    async disconnect(): Promise<void> {}
    async getJob(id: string): Promise<unknown> {
      const j = fake.jobs.get(id);
      return j ? view(j) : undefined;
    }
    async add(_name: string, _data: unknown, opts: { jobId: string }): Promise<void> {
      await fake.beforeAdd?.();
      if (!fake.jobs.has(opts.jobId)) fake.jobs.set(opts.jobId, { id: opts.jobId, state: 'waiting', returnvalue: null, failedReason: '' });
      fake.onAdd?.(opts.jobId);
    }
  }
  class QueueEvents extends Emitter {
    constructor() { super(); fake.events = this; }
    async waitUntilReady(): Promise<void> {}
    async close(): Promise<void> {}
    async disconnect(): Promise<void> {}
  }
  return { Queue, QueueEvents };
});

vi.mock('ioredis', () => {
  class Redis {
    private readonly sets = new Map<string, Set<string>>();
    readonly options: Record<string, unknown> = {};
    on(): this { return this; }
    off(): this { return this; }
    async connect(): Promise<void> {}
    async ping(): Promise<string> { return 'PONG'; }
    async sadd(k: string, v: string): Promise<number> { this.sets.set(k, (this.sets.get(k) ?? new Set()).add(v)); return 1; }
    async srem(k: string, v: string): Promise<number> { return this.sets.get(k)?.delete(v) ? 1 : 0; }
    async scard(k: string): Promise<number> { return this.sets.get(k)?.size ?? 0; }
    async scan(): Promise<[string, string[]]> { return ['0', []]; }
    async mget(): Promise<(string | null)[]> { return []; }
    disconnect(): void {}
  }
  return { Redis };
});

const { queueExecutor } = await import('../../src/runner/executors/queue.js');

const def = { type: 'test.x' } as unknown as StageDef;

function stageJob(key: string): StageJob {
  return { key, label: `s ${key.slice(0, 4)}`, type: 'test.x', stage: 's', params: {}, seed: 1, pipelineDir: '/', material: {} as StageJob['material'], fingerprint: 'f', inputs: {}, force: false, resources: {}, pathParams: [], stamps: {}, cores: 1 };
}

const done: JobOutcome = { host: 'h', worker: 'w', status: 'done', seconds: 0.1, metrics: {} };

function hooks(messages: StageMessage[] = []): ExecutorHooks {
  return { signal: new AbortController().signal, onStart: () => undefined, onMessage: (m) => messages.push(m), onWaiting: () => undefined };
}

describe('queue coordinator: waiting for a job', () => {
  let store: Store;
  beforeEach(async () => {
    vi.useFakeTimers();
    fake.jobs.clear();
    fake.onAdd = undefined;
    fake.beforeAdd = undefined;
    store = new Store(tempDir('specflow-queue-wait-'));
    await store.ensureLayout();
  });
  afterEach(() => { vi.useRealTimers(); });

  it('a job that completes while the coordinator is still adding it: the wait ends and leaves no timer behind (the run would never exit)', async () => {
    const executor = await queueExecutor(store, { redis: 'redis://fake:1' });
    const key = 'a'.repeat(64);
    // a worker finishes the job between the coordinator's add and the add's reply
    fake.onAdd = (id) => {
      fake.jobs.set(id, { id, state: 'completed', returnvalue: done, failedReason: '' });
      fake.events!.emit('completed', { jobId: id, returnvalue: done });
    };
    const outcome = await executor.compute(def, stageJob(key), hooks());
    expect(outcome.status).toBe('done');
    await vi.advanceTimersByTimeAsync(0);
    await executor.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a missed completed event: the poll of the job\'s state ends the wait', async () => {
    const executor = await queueExecutor(store, { redis: 'redis://fake:1' });
    const key = 'b'.repeat(64);
    const waited = executor.compute(def, stageJob(key), hooks());
    await vi.advanceTimersByTimeAsync(10);
    fake.jobs.get(key)!.state = 'completed';
    fake.jobs.get(key)!.returnvalue = done;
    await vi.advanceTimersByTimeAsync(1_500);
    expect((await waited).status).toBe('done');
    await executor.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a job failed for good while no event came: the wait ends with its reason', async () => {
    const executor = await queueExecutor(store, { redis: 'redis://fake:1' });
    const key = 'c'.repeat(64);
    const waited = executor.compute(def, stageJob(key), hooks());
    await vi.advanceTimersByTimeAsync(10);
    Object.assign(fake.jobs.get(key)!, { state: 'failed', failedReason: 'job stalled more than allowable limit' });
    await vi.advanceTimersByTimeAsync(1_500);
    const outcome = await waited;
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toMatch(/job stalled more than allowable limit/);
    await executor.close();
  });

  it('Ctrl-C while the job is being added: the job is withdrawn once the add has landed, not left queued with nobody waiting', async () => {
    const executor = await queueExecutor(store, { redis: 'redis://fake:1' });
    const key = 'e'.repeat(64);
    const controller = new AbortController();
    let land: () => void = () => undefined;
    const landed = new Promise<void>((r) => { land = r; });
    // Ctrl-C while the add is on its way; the withdrawal's own look-up finds nothing yet
    fake.beforeAdd = async () => {
      controller.abort();
      for (let i = 0; i < 50; i++) await Promise.resolve();
    };
    fake.onAdd = () => land();
    const outcome = await executor.compute(def, stageJob(key), { ...hooks(), signal: controller.signal });
    expect(outcome.status).toBe('interrupted');
    await landed;
    await executor.close();
    expect(fake.jobs.has(key)).toBe(false);
  });

  it('a long wait says what the job is doing: its state, and who runs it', async () => {
    const executor = await queueExecutor(store, { redis: 'redis://fake:1' });
    const key = 'd'.repeat(64);
    const messages: StageMessage[] = [];
    const waited = executor.compute(def, stageJob(key), hooks(messages));
    await vi.advanceTimersByTimeAsync(29_000);
    expect(messages).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    const lines = (): string[] => messages.map((m) => (m.type === 'log' ? m.message : ''));
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(/still waiting for queue job dddddddddddd .*: waiting in the queue; no specflow worker is registered/);
    Object.assign(fake.jobs.get(key)!, { state: 'active', processedBy: 'node7:4242' });
    await vi.advanceTimersByTimeAsync(61_000);
    expect(lines().at(-1)).toMatch(/active on worker node7:4242/);
    Object.assign(fake.jobs.get(key)!, { state: 'completed', returnvalue: done });
    await vi.advanceTimersByTimeAsync(1_500);
    expect((await waited).status).toBe('done');
    await executor.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
