/**
 * The queue executor, coordinator side: each ready stage becomes a BullMQ job
 * whose id is its content key, so coordinators asking for the same stage share
 * one job and one computation. It waits in the lane of its cores (queue-common.ts). Workers (`specflow worker`, queue-worker.ts)
 * compute it into the shared store and report progress through the job; the
 * coordinator waits for the job's end (QueueEvents, with a poll of the job's
 * state so that a missed event or a job withdrawn by someone else never hangs it,
 * and a line saying what the job is doing when the wait grows long).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Store } from '../store.js';
import type { ComputedBy, JobOutcome, StageJob } from '../stage-job.js';
import type { Executor, ExecutorHooks } from './executor.js';
import {
  ATTEMPTS, BACKOFF_MS, PREFIX, WAITERS_KEY, connection, laneOf, laneQueue, liveWorkers, openRedis, type QueueProgress, type QueueResult,
} from './queue-common.js';
import { STOP_REDIS_MS, abandon, redisAddress, redisTimeoutMs, watchRedis, within } from './redis-watch.js';

const POLL_MS = 1_000;
/** Silence (no progress from the job) after which a wait says what it waits for; then twice as long each time, up to the cap. */
const REPORT_AFTER_MS = 30_000;
const REPORT_CAP_MS = 300_000;
/** Finished jobs stay this long so that late coordinators read their result; then BullMQ drops them. */
const KEEP_FINISHED_S = 3_600;

export interface QueueExecutorOptions {
  redis: string;
  /** Told once when no worker is registered, and when Redis is lost or back. */
  warn?: (message: string) => void;
  /** How long a lost Redis may stay away before the waits fail (default SPECFLOW_REDIS_TIMEOUT). */
  redisTimeoutMs?: number;
}

interface Waiting {
  job: StageJob;
  hooks: ExecutorHooks;
  by?: ComputedBy;
  /** Polls the job's state; started with the wait, because an event may end the wait before the add returns. */
  timer?: NodeJS.Timeout;
  /** The job is in the queue (added, or found there): from now on its state is polled. */
  queued: boolean;
  started: number;
  /** The job's last sign of life (its progress), and the silence after which the wait reports. */
  lastSign: number;
  reportAfter: number;
  finish(outcome: JobOutcome): void;
}

export async function queueExecutor(store: Store, options: QueueExecutorOptions): Promise<Executor> {
  const redis = await openRedis(options.redis);
  const { Queue, QueueEvents } = await import('bullmq');
  type StageQueue = InstanceType<typeof Queue<StageJob, QueueResult>>;
  const me = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const waiting = new Map<string, Waiting>();
  const withdrawals: Promise<void>[] = [];
  const address = redisAddress(options.redis);
  const timeoutMs = options.redisTimeoutMs ?? redisTimeoutMs();
  /** Set once Redis stayed away too long: every wait, and every stage handed over later, fails with it. */
  let gone: string | undefined;
  const lostRedis = (): JobOutcome => ({ host: '?', worker: '?', status: 'failed', seconds: 0, metrics: {}, error: gone!, userError: true, fatal: true });
  // workers go on computing without Redis; this run waits for it to come back, for a while
  const watch = watchRedis(redis, {
    timeoutMs,
    lost: () => options.warn?.(`specflow: lost its connection to Redis at ${address}; waiting up to ${timeoutMs / 1000} s for it to come back (SPECFLOW_REDIS_TIMEOUT)`),
    back: (seconds) => options.warn?.(`specflow: Redis at ${address} is back after ${seconds.toFixed(1)} s`),
    gaveUp: (reason) => {
      gone = `no answer from Redis at ${address} for ${timeoutMs / 1000} s (${reason}); stages that workers finish stay in the store for the next run`;
      for (const w of [...waiting.values()]) w.finish(lostRedis());
    },
  });

  if ((await liveWorkers(redis)).length === 0) {
    options.warn?.(`no specflow worker is registered on ${options.redis}: stages wait until one starts (specflow worker --redis ${options.redis} --store DIR)`);
  }

  /** Each lane's queue, opened when a stage first needs it; its events end and report the waits. */
  const lanes = new Map<number, Promise<StageQueue>>();
  const connections: { close(): Promise<unknown>; disconnect(): Promise<unknown> }[] = [];
  const openLane = async (lane: number): Promise<StageQueue> => {
    const queue = new Queue<StageJob, QueueResult>(laneQueue(lane), { connection: connection(options.redis), prefix: PREFIX });
    const events = new QueueEvents(laneQueue(lane), { connection: connection(options.redis), prefix: PREFIX });
    queue.on('error', () => undefined);
    events.on('error', () => undefined);
    connections.push(events, queue);
    events.on('progress', ({ jobId, data }) => progress(jobId, data as QueueProgress));
    events.on('completed', ({ jobId, returnvalue }) => waiting.get(jobId)?.finish(returnvalue as QueueResult));
    events.on('failed', ({ jobId, failedReason }) => {
      // BullMQ says 'failed' only once no attempt is left (a retried attempt goes back to wait)
      const w = waiting.get(jobId);
      w?.finish(failure(w, failedReason));
    });
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return queue;
  };
  const queueOf = (job: StageJob): Promise<StageQueue> => {
    const lane = laneOf(job.cores);
    if (!lanes.has(lane)) lanes.set(lane, openLane(lane));
    return lanes.get(lane)!;
  };

  /** A worker's report on a job: it started (where), a progress event, a log line. */
  const progress = (jobId: string, p: QueueProgress): void => {
    const w = waiting.get(jobId);
    if (!w) return;
    w.lastSign = Date.now();
    if (p.type === 'start') {
      w.by = { host: p.host, worker: p.worker };
      w.hooks.onStart(w.by);
    } else {
      w.hooks.onMessage(p);
    }
  };

  const failure = (w: Waiting, reason: string): JobOutcome => ({
    host: w.by?.host ?? '?', worker: w.by?.worker ?? '?', status: 'failed', seconds: 0, metrics: {},
    error: `queue job ${w.job.key.slice(0, 12)} failed (tried up to ${ATTEMPTS} times): ${reason}`,
  });

  /** Add the job unless one with its id is queued or running; a finished one is replaced. */
  const enqueue = async (job: StageJob): Promise<JobOutcome | undefined> => {
    const queue = await queueOf(job);
    const existing = await queue.getJob(job.key);
    if (existing) {
      const state = await existing.getState();
      if (state === 'completed' || state === 'failed' || state === 'unknown') {
        if (!job.force && store.has(job.key)) return storeOutcome(store, job.key, existing.returnvalue);
        await existing.remove().catch(() => undefined);
      }
    }
    await queue.add(job.type, job, {
      jobId: job.key, attempts: ATTEMPTS, backoff: { type: 'exponential', delay: BACKOFF_MS },
      removeOnComplete: { age: KEEP_FINISHED_S }, removeOnFail: { age: KEEP_FINISHED_S },
    });
    return undefined;
  };

  /** Its state, in case an event was missed; a job that vanished unfinished is added again. */
  const poll = async (w: Waiting): Promise<void> => {
    const job = await (await queueOf(w.job)).getJob(w.job.key);
    if (!job) {
      const done = !w.job.force && store.has(w.job.key) ? storeOutcome(store, w.job.key) : await enqueue(w.job);
      if (done) w.finish(done);
      return;
    }
    const state = await job.getState();
    if (state === 'completed') {
      // a completed job always ends the wait, even one whose result cannot be read
      const returned = job.returnvalue as QueueResult | null | undefined;
      w.finish(returned ?? (store.has(w.job.key) ? storeOutcome(store, w.job.key) : failure(w, 'it completed without a result')));
    } else if (state === 'failed') {
      w.finish(failure(w, job.failedReason));
    } else if (Date.now() - w.lastSign >= w.reportAfter) {
      w.lastSign = Date.now();
      w.reportAfter = Math.min(REPORT_CAP_MS, w.reportAfter * 2);
      w.hooks.onMessage({ type: 'log', message: await waitLine(w, state, job.processedBy) });
    }
  };

  /** What a long wait waits for: the job's state, who runs it, or that nobody could. */
  const waitLine = async (w: Waiting, state: string, processedBy: string | undefined): Promise<string> => {
    const head = `still waiting for queue job ${w.job.key.slice(0, 12)} after ${Math.round((Date.now() - w.started) / 1000)} s`;
    if (state === 'active') return `${head}: active on worker ${processedBy ?? '?'}`;
    const where = state === 'waiting' || state === 'prioritized' ? 'waiting in the queue' : state === 'delayed' ? 'delayed before another try' : state;
    const workers = await liveWorkers(redis).catch(() => undefined);
    const who = workers === undefined ? '' : workers.length === 0 ? '; no specflow worker is registered' : `; ${workers.length} live worker${workers.length > 1 ? 's' : ''}, busy with ${workers.reduce((n, x) => n + x.jobs.length, 0)} stage(s)`;
    return `${head}: ${where}${who}`;
  };

  /** Ctrl-C: stop waiting; the job goes only if no other coordinator waits for it and no worker has it yet. */
  const withdraw = async (stage: StageJob): Promise<void> => {
    const { key } = stage;
    await redis.srem(WAITERS_KEY(key), me);
    if ((await redis.scard(WAITERS_KEY(key))) > 0) return;
    const job = await (await queueOf(stage)).getJob(key);
    if (!job) return;
    const state = await job.getState();
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') await job.remove().catch(() => undefined);
  };

  // most stages take one core: that lane is ready before the first stage comes
  lanes.set(1, openLane(1));
  await lanes.get(1);

  return {
    name: 'queue',
    // workers decide how much runs at once; the coordinator offers every ready stage
    concurrency: () => Number.MAX_SAFE_INTEGER,
    async compute(_def, job, hooks) {
      const interrupted: JobOutcome = { host: '?', worker: '?', status: 'interrupted', seconds: 0, metrics: {}, error: 'interrupted' };
      if (hooks.signal.aborted) return interrupted;
      if (gone) return lostRedis();
      // fails at once while Redis is away: the wait below then fails or goes on with it
      await redis.sadd(WAITERS_KEY(job.key), me).catch(() => undefined);
      return new Promise<JobOutcome>((resolve) => {
        const now = Date.now();
        const w: Waiting = {
          job, hooks, queued: false, started: now, lastSign: now, reportAfter: REPORT_AFTER_MS,
          finish: (outcome) => {
            if (waiting.get(job.key) !== w) return;
            waiting.delete(job.key);
            clearInterval(w.timer);
            hooks.signal.removeEventListener('abort', onAbort);
            if (outcome.status !== 'interrupted') void redis.srem(WAITERS_KEY(job.key), me).catch(() => undefined);
            resolve(outcome);
          },
        };
        let added: Promise<unknown> = Promise.resolve();
        const onAbort = (): void => {
          // after the add has landed: a job added after its withdrawal would stay queued with nobody waiting for it
          withdrawals.push(added.then(() => withdraw(job)).catch(() => undefined));
          w.finish(interrupted);
        };
        waiting.set(job.key, w);
        hooks.signal.addEventListener('abort', onAbort, { once: true });
        // the poll's timer exists from the start, so that whatever ends the wait (an event may
        // arrive before the add returns) clears it: a timer left behind would keep the run alive for ever
        w.timer = setInterval(() => { if (w.queued && !watch.down) poll(w).catch(() => undefined); }, POLL_MS);
        const enqueued = enqueue(job);
        added = enqueued.catch(() => undefined);
        enqueued.then((done) => {
          if (done) w.finish(done);
          else w.queued = true;
        }, (e: unknown) => w.finish({ ...interrupted, status: 'failed', error: `cannot queue the stage: ${(e as Error).message}`, infrastructure: true }));
      });
    },
    async close() {
      for (const w of waiting.values()) clearInterval(w.timer);
      // withdrawing and closing need Redis: a lost one gets STOP_REDIS_MS, and Ctrl-C still ends the run
      await within(watch.down ? 0 : STOP_REDIS_MS, Promise.all(withdrawals));
      if (!watch.down) await within(STOP_REDIS_MS, Promise.all(connections.map((c) => c.close())));
      watch.stop();
      abandon(connections);
      redis.disconnect();
    },
  };
}

/** The entry is already in the store: published by a job this coordinator did not see finish. */
function storeOutcome(store: Store, key: string, returned?: QueueResult): JobOutcome {
  const m = store.readManifest(key);
  return { host: returned?.host ?? '?', worker: returned?.worker ?? '?', status: returned?.status === 'done' ? 'done' : 'cached', seconds: m?.seconds ?? 0, metrics: m?.metrics ?? {} };
}
