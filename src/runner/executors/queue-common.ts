/**
 * What the queue coordinator and its workers agree on: the BullMQ queue, the
 * Redis keys specflow keeps beside it (live workers, and which coordinators wait
 * for a job), and how a Redis URL becomes a connection.
 */
import { UserError } from '../errors.js';
import type { JobOutcome } from '../stage-job.js';
import type { ProgressEvent } from '../stage-api.js';

/** BullMQ key prefix: every specflow coordinator and worker on one Redis share it. */
export const PREFIX = 'specflow';

/**
 * Stages wait in one BullMQ queue per core class (a lane): a worker asks a lane
 * for a job only when that many of its cores are free, so it never claims a job
 * it cannot start (BullMQ hands out a queue's next job without saying what it
 * needs). One-core stages use `stages`; the last lane takes every stage of
 * WIDEST_LANE cores or more.
 */
export const WIDEST_LANE = 8;
export const LANES: readonly number[] = Array.from({ length: WIDEST_LANE }, (_, i) => i + 1);

/** The lane of a stage that keeps `cores` cores busy. */
export function laneOf(cores: number): number {
  return Math.max(1, Math.min(WIDEST_LANE, Math.floor(cores) || 1));
}

export function laneQueue(lane: number): string {
  return lane === 1 ? 'stages' : `stages-${lane}cores`;
}

/** A live worker's registration; it expires unless the worker renews it. */
export const WORKER_KEY = (id: string): string => `${PREFIX}:workers:${id}`;
export const WORKER_PATTERN = `${PREFIX}:workers:*`;
export const WORKER_TTL_MS = 10_000;
export const HEARTBEAT_MS = 3_000;

/** The coordinators that wait for a job (one per run): Ctrl-C withdraws a job only when none is left. */
export const WAITERS_KEY = (jobId: string): string => `${PREFIX}:waiters:${jobId}`;

/** Tries of a job whose failure was the machine's or the store's (a StageError is final at once). */
export const ATTEMPTS = 3;
export const BACKOFF_MS = 1_000;

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  /** Cores it keeps busy at most (`--concurrency`); a stage takes as many as it needs. */
  concurrency: number;
  backend: string;
  version: string;
  store: string;
  started: string;
  /** Labels of the stages it computes right now. */
  jobs: string[];
}

/** What a worker reports through BullMQ's job progress while it computes a stage. */
export type QueueProgress =
  | { type: 'start'; host: string; worker: string }
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'log'; message: string };

export type QueueResult = JobOutcome;

export function redisUrl(given: string | undefined): string {
  const url = given ?? process.env.SPECFLOW_REDIS;
  if (!url) throw new UserError('the queue needs a Redis server: give --redis redis://HOST:PORT or set SPECFLOW_REDIS');
  if (!/^rediss?:\/\//.test(url)) throw new UserError(`--redis ${url}: expected a URL such as redis://127.0.0.1:6379`);
  return url;
}

/** BullMQ's connection: its blocking reads must retry for ever rather than fail a worker. */
export function connection(url: string): { url: string; maxRetriesPerRequest: null } {
  return { url, maxRetriesPerRequest: null };
}

/** Connect a plain ioredis client for specflow's own keys, failing fast with a readable message. */
export async function openRedis(url: string): Promise<import('ioredis').Redis> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy: (n) => (n > 3 ? null : 200 * n) });
  // the socket's own error (ECONNREFUSED…) says more than the failing command's "Connection is closed"
  let socketError: Error | undefined;
  client.on('error', (e: Error) => { socketError = e; });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    throw new UserError(`cannot reach Redis at ${url}: ${(socketError ?? (e as Error)).message}`);
  }
  return client;
}

export async function liveWorkers(redis: import('ioredis').Redis): Promise<WorkerInfo[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', WORKER_PATTERN, 'COUNT', 200);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as WorkerInfo).sort((a, b) => a.id.localeCompare(b.id));
}
