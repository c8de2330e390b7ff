/**
 * The queue executor, worker side (`specflow worker`): pulls stage jobs from
 * BullMQ and computes each into this host's view of the shared store with the
 * same computeEntry the local executor uses. Every stage runs in a worker thread,
 * so the main thread keeps renewing BullMQ's job locks while a stage trains; a
 * worker that dies stops renewing them, and BullMQ's stalled-job check hands its
 * jobs to another worker.
 *
 * Cores: `--concurrency` is the cores the worker keeps busy, and a stage takes
 * as many as it needs (StageDef.cores; one wider than the worker runs alone).
 * BullMQ hands out a queue's next job without saying what it needs, so jobs wait
 * in one queue per core class (a lane, queue-common.ts) and the worker fetches
 * by hand (Worker.getNextJob), asking a lane only when that many cores are free:
 * it never claims a job it cannot start while another worker idles. Fetching by
 * hand means renewing the locks of its jobs and running BullMQ's stalled check
 * itself, as BullMQ's own loop would, and waiting for work on the lanes' markers
 * (the sorted sets BullMQ's add touches for its workers to wake up on).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Job, Worker } from 'bullmq';
import { computeEntry } from '../compute-entry.js';
import { CoreSlots } from '../core-slots.js';
import { backendSelection } from '../fingerprint.js';
import { loadRegistry } from '../registry.js';
import { packageVersions } from '../records.js';
import { StagePool } from '../stage-pool.js';
import type { Store } from '../store.js';
import { fingerprintMismatch, stageCores, type StageJob } from '../stage-job.js';
import type { ProgressEvent } from '../stage-api.js';
import {
  HEARTBEAT_MS, LANES, PREFIX, WORKER_KEY, WORKER_TTL_MS, connection, laneQueue, openRedis, type QueueProgress, type QueueResult, type WorkerInfo,
} from './queue-common.js';
import { STOP_REDIS_MS, abandon, isConnectionError, redisAddress, watchRedis, within } from './redis-watch.js';

export interface QueueWorkerOptions {
  redis: string;
  store: Store;
  /** Cores kept busy at most: a stage takes StageDef.cores of them (at most all). */
  concurrency: number;
  /** BullMQ's job lock: a worker that stops renewing it for this long has stalled (default 30 s). */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for (default 30 s). */
  stalledIntervalMs?: number;
  /** One line per event, for the worker's log. */
  log: (line: string) => void;
  /** One line about Redis itself (lost, back): for stderr. */
  warn: (line: string) => void;
  /** How long a lost Redis may stay away before the worker gives up (`gaveUp`). */
  redisTimeoutMs: number;
  /** The identity of the engine this process computes numeric stages on (see executionFingerprint). */
  engine: unknown;
}

export interface QueueWorker {
  id: string;
  /** Abort running stages (their jobs go back to the queue) and disconnect; bounded even when Redis is gone. */
  close(): Promise<void>;
  /** Settles with a one-line message when Redis stayed away for longer than redisTimeoutMs. */
  gaveUp: Promise<string>;
}

/** Progress lines per stage per second at most; the last epoch always goes through. */
const PROGRESS_EVERY_MS = 250;
/** An idle worker asks its lanes when a job is added to one (BullMQ's marker), when a stage of its own ends, and at least this often. */
const IDLE_POLL_MS = 500;
/** BullMQ's defaults, which its own fetch loop would apply. */
const LOCK_MS = 30_000;
const STALLED_CHECK_MS = 30_000;

interface Lane { cores: number; bull: Worker<StageJob, QueueResult> }
interface Running {
  job: Job<StageJob, QueueResult>;
  token: string;
  lane: Lane;
  label: string;
  /** Its lock was not renewed (this worker stalled): BullMQ may have given the job to another worker. */
  lost?: boolean;
  /** Its end is being told to BullMQ (after a Redis outage, that may take until Redis is back). */
  reporting?: boolean;
  /** The stage has stopped computing (its store lock released, its temp entry gone or published). */
  computed?: Promise<void>;
  /** …and BullMQ was told how it ended. */
  settled?: Promise<void>;
}

export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const { store, concurrency } = options;
  const registry = await loadRegistry();
  // before anything keeps the process alive (Redis, timers, threads): a bad --store is one line and exit 1
  await store.ensureLayout();
  const redis = await openRedis(options.redis);
  const id = `${hostname()}:${process.pid}`;
  const address = redisAddress(options.redis);
  const timeoutS = options.redisTimeoutMs / 1000;
  /** Wakes the fetch loop (a stage ended, Redis is back, the worker stops). */
  let wake: () => void = () => undefined;
  let giveUp: (message: string) => void = () => undefined;
  const gaveUp = new Promise<string>((resolve) => { giveUp = resolve; });
  // its running stages need no Redis: they go on, and report once Redis is back
  const watch = watchRedis(redis, {
    timeoutMs: options.redisTimeoutMs,
    lost: () => options.warn(`worker ${id}: lost its connection to Redis at ${address}; retrying for up to ${timeoutS} s (SPECFLOW_REDIS_TIMEOUT)`),
    back: (seconds) => { options.warn(`worker ${id}: Redis at ${address} is back after ${seconds.toFixed(1)} s; taking jobs again`); wake(); },
    gaveUp: (reason) => giveUp(`worker ${id}: no answer from Redis at ${address} for ${timeoutS} s (${reason}); stopping: the jobs it held go back to the queue when Redis returns`),
  });
  const pool = new StagePool(concurrency, 120_000);
  const runStage = pool.runner(true);
  const abort = new AbortController();
  const slots = new CoreSlots(concurrency);
  const running = new Map<string, Running>();
  const started = new Date().toISOString();
  const info = (): WorkerInfo => ({
    id, host: hostname(), pid: process.pid, concurrency, backend: backendSelection(), version: packageVersions().specflow ?? '?',
    store: store.root, started, jobs: [...running.values()].map((r) => r.label),
  });
  const heartbeat = async (): Promise<void> => {
    await redis.set(WORKER_KEY(id), JSON.stringify(info()), 'PX', WORKER_TTL_MS);
  };
  await heartbeat();
  const beat = setInterval(() => { heartbeat().catch(() => undefined); }, HEARTBEAT_MS);

  const lockMs = options.lockDurationMs ?? LOCK_MS;
  const { Worker: BullWorker } = await import('bullmq');
  // widest first: a worker with all its cores free takes a wide stage before narrow ones can fill them
  const lanes: Lane[] = [...LANES].reverse().map((cores) => ({
    cores,
    bull: new BullWorker<StageJob, QueueResult>(laneQueue(cores), null, {
      connection: connection(options.redis), prefix: PREFIX, name: id, autorun: false,
      lockDuration: lockMs, stalledInterval: options.stalledIntervalMs ?? STALLED_CHECK_MS, maxStalledCount: 2,
    }),
  }));
  // the watch says once that Redis is gone: BullMQ's connections would say it many times a second
  for (const lane of lanes) lane.bull.on('error', (e) => { if (!isConnectionError(e)) options.log(`! ${e.message}`); });
  await Promise.all(lanes.map((lane) => lane.bull.waitUntilReady()));
  // a job whose worker died (its lock expired) goes back to its lane
  await Promise.all(lanes.map((lane) => lane.bull.startStalledCheckTimer()));
  // renewed three times a lock: a main thread late by a third of it keeps its jobs
  const renew = setInterval(() => { renewLocks().catch((e: Error) => options.log(`! ${e.message}`)); }, lockMs / 3);

  const renewLocks = async (): Promise<void> => {
    // with Redis gone the renewals would only pile up in BullMQ's offline queue
    if (watch.down) return;
    for (const lane of lanes) {
      const mine = [...running.values()].filter((r) => r.lane === lane && !r.lost);
      if (!mine.length) continue;
      const lost = await lane.bull.extendJobLocks(mine.map((r) => r.job.id!), mine.map((r) => r.token), lockMs);
      // a job being reported may have finished (lock and all) between the two: not lost
      for (const r of mine.filter((x) => lost.includes(x.job.id!) && !x.reporting)) {
        r.lost = true;
        options.log(`! ${r.label} ${r.job.id!.slice(0, 12)}: lost its lock (this worker stalled, or Redis was away, for longer than ${lockMs} ms?); another worker may take the job`);
      }
    }
  };

  const compute = async (job: Job<StageJob, QueueResult>): Promise<QueueResult> => {
    const data = job.data;
    const def = registry.get(data.type)!;
    const message = fingerprintMismatch(def, data, `worker ${id}`, options.engine, backendSelection());
    if (message) {
      options.log(`! ${message}`);
      throw new Error(message);
    }
    void heartbeat().catch(() => undefined);
    options.log(`▶ ${data.label} (${data.type}) ${data.key.slice(0, 12)}`);
    const report = (p: QueueProgress): void => { job.updateProgress(p).catch(() => undefined); };
    let lastProgress = 0;
    report({ type: 'start', host: hostname(), worker: id });
    const outcome = await computeEntry(store, def, data, {
      signal: abort.signal, runStage, by: { host: hostname(), worker: id },
      onMessage: (m) => {
        if (m.type === 'log') return report(m);
        const now = Date.now();
        if (now - lastProgress >= PROGRESS_EVERY_MS || isLastEpoch(m.event)) {
          lastProgress = now;
          report(m);
        }
      },
    });
    if (outcome.status === 'interrupted') throw new Error(`worker ${id} stopped while computing it`);
    // the machine's or the store's failure, not the stage's: another worker may fare better
    if (outcome.infrastructure || outcome.fatal) throw new Error(outcome.error ?? 'store failure');
    const mark = outcome.status === 'failed' ? '✗' : outcome.status === 'cached' ? '=' : '✓';
    options.log(`${mark} ${data.label} ${data.key.slice(0, 12)} ${outcome.status} ${outcome.seconds.toFixed(2)}s`);
    return outcome;
  };

  /** Computes a claimed job on its cores, then tells BullMQ how it ended (a failure is retried by BullMQ while tries are left). */
  const run = (r: Running, release: () => void): void => {
    const computing = compute(r.job).then((outcome) => ({ outcome, error: undefined }), (e: unknown) => ({ outcome: undefined, error: e instanceof Error ? e : new Error(String(e)) }));
    r.computed = computing.then(() => undefined);
    r.settled = computing.then(({ outcome, error }) => report(r, release, outcome, error));
  };
  const report = async (r: Running, release: () => void, outcome: QueueResult | undefined, error: Error | undefined): Promise<void> => {
    const { job, token } = r;
    r.reporting = true;
    try {
      if (outcome) await job.moveToCompleted(outcome, token, false);
      // stopping: the job goes back to its lane for another worker, without spending a try
      else if (abort.signal.aborted) await job.moveToWait(token);
      else await job.moveToFailed(error!, token, false);
    } catch (e) {
      // its lock was lost (this worker stalled) and another worker has the job now
      options.log(`! ${r.label} ${job.data.key.slice(0, 12)}: ${(e as Error).message}`);
    } finally {
      running.delete(token);
      release();
      wake();
    }
  };

  /** Lanes with jobs waiting (or delayed, which a claim promotes when due), in one round trip: most lanes are empty, and asking an empty one costs a script. */
  const busyLanes = async (): Promise<Lane[]> => {
    const counts = await redis.pipeline(lanes.flatMap((l) => [['llen', l.bull.keys.wait!], ['zcard', l.bull.keys.prioritized!], ['zcard', l.bull.keys.delayed!]])).exec();
    if (!counts) return lanes;
    return lanes.filter((_, i) => [0, 1, 2].some((k) => { const [err, n] = counts[3 * i + k]!; return err !== null || Number(n) > 0; }));
  };

  /** Claims one job from the widest lane whose stages fit in the free cores (the lane just signalled first); false when none has one. */
  const claimOne = async (hint?: Lane): Promise<boolean> => {
    const candidates = hint ? [hint] : await busyLanes().catch(() => lanes);
    for (const lane of candidates) {
      const release = slots.tryAcquire(lane.cores);
      if (!release) continue;
      const token = `${id}:${randomUUID()}`;
      let job: Job<StageJob, QueueResult> | undefined;
      try {
        job = await lane.bull.getNextJob(token, { block: false });
      } catch (e) {
        options.log(`! ${(e as Error).message}`);
      }
      if (!job) {
        release();
        continue;
      }
      const def = registry.get(job.data.type);
      if (!def) {
        release();
        const error = new Error(`worker ${id} does not know stage type "${job.data.type}" (another specflow version, or a plugin missing from SPECFLOW_PLUGINS)`);
        options.log(`! ${error.message}`);
        await job.moveToFailed(error, token, false).catch(() => undefined);
        return true;
      }
      const r: Running = { job, token, lane, label: job.data.label };
      running.set(token, r);
      // the widest lane holds stages of that many cores or more: such a stage waits for the rest of its cores here
      const wider = Math.min(job.data.cores ?? stageCores(def, job.data.params), concurrency) - Math.min(lane.cores, concurrency);
      const more = wider > 0 ? await slots.acquire(wider) : () => undefined;
      run(r, () => { release(); more(); });
      return true;
    }
    return false;
  };

  // one blocking wait at a time for a marker of any lane; a stage ending wakes the loop too
  const { Redis } = await import('ioredis');
  const signals = new Redis(options.redis, { maxRetriesPerRequest: null });
  signals.on('error', () => undefined);
  const markers = lanes.map((lane) => lane.bull.keys.marker!);
  /** The lane whose marker was set, or undefined (timed out, or a stage of ours ended). */
  let markerWait: Promise<Lane | undefined> | undefined;
  const nextMarker = (): Promise<Lane | undefined> => (markerWait ??= signals.bzpopmin(...markers, IDLE_POLL_MS / 1000)
    .then((popped) => lanes[markers.indexOf(popped?.[0] ?? '')], () => new Promise<undefined>((r) => setTimeout(() => r(undefined), IDLE_POLL_MS)))
    .finally(() => { markerWait = undefined; }));
  const fetching = (async () => {
    let hint: Lane | undefined;
    while (!abort.signal.aborted) {
      if (watch.down) {
        // a claim would wait in BullMQ's offline queue; the watch wakes the loop when Redis is back
        await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, IDLE_POLL_MS); });
        wake = () => undefined;
        continue;
      }
      if (await claimOne(hint)) {
        hint = undefined;
        continue;
      }
      if (hint) {
        // the signalled lane had nothing this worker can start now: look at all of them
        hint = undefined;
        continue;
      }
      hint = await Promise.race([nextMarker(), new Promise<undefined>((resolve) => { wake = () => resolve(undefined); })]);
      wake = () => undefined;
    }
  })();
  options.log(`worker ${id}: ${concurrency} ${concurrency > 1 ? 'cores' : 'core'} at a time, store ${store.root}, backend ${backendSelection()}`);

  return {
    id,
    gaveUp,
    async close() {
      abort.abort(new Error('worker stopping'));
      wake();
      clearInterval(beat);
      // running stages see the abort and stop whatever Redis does: their store locks are released, their temp entries removed
      await Promise.all([...running.values()].map((r) => r.computed));
      // handing their jobs back to their lanes, and closing BullMQ's connections, need Redis: a lost one gets STOP_REDIS_MS
      // (a job not handed back stays active under a lock nobody renews; BullMQ's stalled check returns it to its lane)
      const talked = await within(watch.down ? 0 : STOP_REDIS_MS, Promise.all([fetching, ...[...running.values()].map((r) => r.settled)]));
      clearInterval(renew);
      if (talked && !watch.down) {
        await within(STOP_REDIS_MS, Promise.all([...lanes.map((lane) => lane.bull.close()), redis.del(WORKER_KEY(id))]));
      }
      watch.stop();
      // whatever still waits for Redis is dropped: the process must be able to end
      signals.disconnect();
      abandon(lanes.map((lane) => lane.bull));
      redis.disconnect();
      await pool.destroy();
      await store.close().catch(() => undefined);
    },
  };
}

function isLastEpoch(e: ProgressEvent): boolean {
  return e.epochs !== undefined && e.epoch === e.epochs;
}
