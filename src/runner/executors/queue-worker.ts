/**
 * The queue executor, worker side (`specflow worker`): pulls stage jobs from
 * BullMQ and computes each into this host's view of the shared store with the
 * same computeEntry the local executor uses. Every stage runs in a worker thread,
 * so the main thread keeps renewing BullMQ's job locks while a stage trains; a
 * worker that dies stops renewing them, and BullMQ's stalled-job check hands its
 * jobs to another worker.
 */
import { hostname } from 'node:os';
import { computeEntry } from '../compute-entry.js';
import { backendSelection } from '../fingerprint.js';
import { loadRegistry } from '../registry.js';
import { packageVersions } from '../records.js';
import { StagePool } from '../stage-pool.js';
import type { Store } from '../store.js';
import { fingerprintMismatch, type StageJob } from '../stage-job.js';
import type { ProgressEvent } from '../stage-api.js';
import {
  HEARTBEAT_MS, PREFIX, QUEUE, WORKER_KEY, WORKER_TTL_MS, connection, openRedis, type QueueProgress, type QueueResult, type WorkerInfo,
} from './queue-common.js';

export interface QueueWorkerOptions {
  redis: string;
  store: Store;
  concurrency: number;
  /** BullMQ's job lock: a worker that stops renewing it for this long has stalled (default 30 s). */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for (default 30 s). */
  stalledIntervalMs?: number;
  /** One line per event, for the worker's log. */
  log: (line: string) => void;
  /** The identity of the engine this process computes numeric stages on (see executionFingerprint). */
  engine: unknown;
}

export interface QueueWorker {
  id: string;
  /** Abort running stages (their jobs go back to the queue) and disconnect. */
  close(): Promise<void>;
}

/** Progress lines per stage per second at most; the last epoch always goes through. */
const PROGRESS_EVERY_MS = 250;

export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const { store, concurrency } = options;
  const registry = await loadRegistry();
  const redis = await openRedis(options.redis);
  const id = `${hostname()}:${process.pid}`;
  const pool = new StagePool(concurrency, 120_000);
  const runStage = pool.runner(true);
  const abort = new AbortController();
  const current = new Map<string, string>();
  const info = (): WorkerInfo => ({
    id, host: hostname(), pid: process.pid, concurrency, backend: backendSelection(), version: packageVersions().specflow ?? '?',
    store: store.root, started, jobs: [...current.values()],
  });
  const started = new Date().toISOString();
  const heartbeat = async (): Promise<void> => {
    await redis.set(WORKER_KEY(id), JSON.stringify(info()), 'PX', WORKER_TTL_MS);
  };
  await store.ensureLayout();
  await heartbeat();
  const beat = setInterval(() => { heartbeat().catch(() => undefined); }, HEARTBEAT_MS);

  const { Worker } = await import('bullmq');
  const worker = new Worker<StageJob, QueueResult>(QUEUE, async (job) => {
    const data = job.data;
    const def = registry.get(data.type);
    if (!def) throw new Error(`worker ${id} does not know stage type "${data.type}" (another specflow version, or a plugin missing from SPECFLOW_PLUGINS)`);
    const message = fingerprintMismatch(def, data, `worker ${id}`, options.engine, backendSelection());
    if (message) {
      options.log(`! ${message}`);
      throw new Error(message);
    }
    current.set(data.key, data.label);
    void heartbeat().catch(() => undefined);
    options.log(`▶ ${data.label} (${data.type}) ${data.key.slice(0, 12)}`);
    const report = (p: QueueProgress): void => { job.updateProgress(p).catch(() => undefined); };
    let lastProgress = 0;
    try {
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
    } finally {
      current.delete(data.key);
    }
  }, {
    connection: connection(options.redis), prefix: PREFIX, concurrency, name: id,
    ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs } : {}),
    // an idle worker long-polls this many seconds; a job that a stalled check requeues waits at most that long
    ...(options.stalledIntervalMs ? { stalledInterval: options.stalledIntervalMs, drainDelay: Math.min(5, Math.ceil(options.stalledIntervalMs / 1000)) } : {}),
    maxStalledCount: 2,
  });
  worker.on('error', (e) => options.log(`! ${e.message}`));
  await worker.waitUntilReady();
  options.log(`worker ${id}: ${concurrency} at a time, store ${store.root}, backend ${backendSelection()}`);

  return {
    id,
    async close() {
      abort.abort(new Error('worker stopping'));
      clearInterval(beat);
      await worker.close();
      await pool.destroy();
      await store.close().catch(() => undefined);
      await redis.del(WORKER_KEY(id)).catch(() => undefined);
      redis.disconnect();
    },
  };
}

function isLastEpoch(e: ProgressEvent): boolean {
  return e.epochs !== undefined && e.epoch === e.epochs;
}
