/** `specflow worker` (compute queued stages on this host) and `specflow workers` (who is live). */
import { hostname } from 'node:os';
import { redisUrl } from '../runner/executors/queue-common.js';
import { redisTimeoutMs } from '../runner/executors/redis-watch.js';
import { openStore, type GlobalOptions } from './common.js';

export interface WorkerArgs extends GlobalOptions {
  redis?: string;
  concurrency?: number;
  lockDuration?: number;
  stalledInterval?: number;
}

export async function workerCommand(args: WorkerArgs): Promise<number> {
  const url = redisUrl(args.redis);
  const timeoutMs = redisTimeoutMs();
  const store = openStore(args);
  const { startQueueWorker } = await import('../runner/executors/queue-worker.js');
  const { engineIdentity, pinEngine } = await import('../ml/engine-identity.js');
  // stages compute on the engine this worker announces, never on a quiet fallback
  pinEngine();
  const stamp = (): string => new Date().toISOString().slice(11, 19);
  const worker = await startQueueWorker({
    redis: url, store, concurrency: args.concurrency ?? 1,
    lockDurationMs: args.lockDuration, stalledIntervalMs: args.stalledInterval,
    log: (line) => process.stdout.write(`[${stamp()}] ${line}\n`),
    warn: (line) => process.stderr.write(`[${stamp()}] ${line}\n`),
    redisTimeoutMs: timeoutMs,
    engine: engineIdentity(),
  });
  const status = await new Promise<number>((resolve) => {
    const stop = (): void => {
      process.stderr.write(`\nworker ${worker.id}: stopping; its running stages go back to the queue\n`);
      resolve(130);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void worker.gaveUp.then((message) => {
      process.stderr.write(`${message}\n`);
      resolve(1);
    });
  });
  await worker.close();
  // a lost Redis leaves BullMQ's reconnection delays behind (up to 5 s) even once its connections are dropped
  process.exit(status);
}

export interface WorkersArgs extends GlobalOptions {
  redis?: string;
  json?: boolean;
}

export async function workersCommand(args: WorkersArgs): Promise<number> {
  const url = redisUrl(args.redis);
  const { openRedis, liveWorkers } = await import('../runner/executors/queue-common.js');
  const redis = await openRedis(url);
  try {
    const workers = await liveWorkers(redis);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(workers, null, 2)}\n`);
      return 0;
    }
    if (workers.length === 0) {
      process.stdout.write(`no live workers on ${url} (start one: specflow worker --redis ${url} --store DIR)\n`);
      return 0;
    }
    const rows = workers.map((w) => [w.host, String(w.pid), String(w.concurrency), w.backend, w.version, w.jobs.length ? w.jobs.join(', ') : 'idle']);
    process.stdout.write(table(['host', 'pid', 'cores', 'backend', 'version', 'current job'], rows));
    process.stdout.write(`${workers.length} live worker${workers.length === 1 ? '' : 's'} on ${url} (seen from ${hostname()})\n`);
    return 0;
  } finally {
    redis.disconnect();
  }
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`;
  return line(head) + rows.map(line).join('');
}
