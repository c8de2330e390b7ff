/**
 * Whether Redis answers, as one ioredis client that reconnects for ever sees it.
 * BullMQ's own connections retry for ever by design and queue their commands
 * meanwhile, so nothing else would ever say that Redis is gone: a loss is said
 * once (naming the address, never the password), its return once, and a loss
 * longer than SPECFLOW_REDIS_TIMEOUT ends whatever waits on Redis (`gaveUp`).
 * A Redis that keeps the connection but stops answering counts as lost once a
 * PING goes unanswered for PING_DEADLINE_MS.
 */
import type { Redis } from 'ioredis';
import { UserError } from '../errors.js';

export const DEFAULT_REDIS_TIMEOUT_S = 60;
/** A Redis that keeps the connection open but stops answering (a frozen process, a black-holed network) is lost when a PING, sent this often, gets no reply within the deadline. */
const PING_EVERY_MS = 2_000;
const PING_DEADLINE_MS = 5_000;
/** What stopping may spend talking to Redis (handing jobs back, closing): a stop request ends the process even when Redis is gone. */
export const STOP_REDIS_MS = 2_000;

/** How long a lost Redis may stay away before the worker or run gives up (SPECFLOW_REDIS_TIMEOUT, seconds). */
export function redisTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SPECFLOW_REDIS_TIMEOUT;
  if (raw === undefined || raw.trim() === '') return DEFAULT_REDIS_TIMEOUT_S * 1000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UserError(`SPECFLOW_REDIS_TIMEOUT=${raw}: expected a number of seconds greater than 0`);
  return seconds * 1000;
}

/** The Redis URL as messages show it: without its password. */
export function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

/** A connection failure (Redis unreachable, the socket gone), as opposed to an error Redis answered with. */
export function isConnectionError(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException | undefined;
  const codes = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'];
  return codes.includes(err?.code ?? '') || /Connection is closed|Stream isn't writeable|connect ETIMEDOUT|ECONNREFUSED|ECONNRESET/.test(err?.message ?? '');
}

export interface RedisWatchHandlers {
  timeoutMs: number;
  /** The connection dropped (once per loss). */
  lost(): void;
  /** It came back after `seconds`. */
  back(seconds: number): void;
  /** Still gone after timeoutMs; `reason` is the last connection error. */
  gaveUp(reason: string): void;
}

export interface RedisWatch {
  /** Redis is unreachable right now. */
  readonly down: boolean;
  stop(): void;
}

/**
 * Watches `client` (connected already): from now on it reconnects for ever,
 * and its commands fail at once while Redis is away rather than wait in its
 * offline queue, so a heartbeat or a count never hangs on a lost Redis.
 */
export function watchRedis(client: Redis, handlers: RedisWatchHandlers): RedisWatch {
  client.options.retryStrategy = (attempt: number) => Math.min(1_000, 100 * attempt);
  client.options.enableOfflineQueue = false;
  let since: number | undefined;
  let reason = 'connection closed';
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let pinging = false;
  // a closed connection says it is lost; a silent one only fails to answer
  const pinger = setInterval(() => {
    if (stopped || pinging || since !== undefined || client.status !== 'ready') return;
    pinging = true;
    void within(PING_DEADLINE_MS, client.ping()).then((answered) => {
      pinging = false;
      if (answered || stopped || since !== undefined) return;
      reason = `no reply to PING within ${PING_DEADLINE_MS / 1000} s`;
      // closing it makes the loss visible ('close') and reconnecting finds out when Redis answers again
      client.disconnect(true);
    });
  }, PING_EVERY_MS);
  pinger.unref();
  const onError = (e: Error): void => { reason = e.message; };
  const onClose = (): void => {
    if (stopped || since !== undefined) return;
    since = Date.now();
    handlers.lost();
    timer = setTimeout(() => { if (!stopped) handlers.gaveUp(reason); }, handlers.timeoutMs);
  };
  const onReady = (): void => {
    if (stopped || since === undefined) return;
    clearTimeout(timer);
    const seconds = (Date.now() - since) / 1000;
    since = undefined;
    handlers.back(seconds);
  };
  client.on('error', onError);
  client.on('close', onClose);
  client.on('ready', onReady);
  return {
    get down() { return since !== undefined; },
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(pinger);
      client.off('error', onError);
      client.off('close', onClose);
      client.off('ready', onReady);
    },
  };
}

/** Whether `work` settled (resolved or failed) within `ms`; if not, it is left to settle on its own, or never. */
export async function within(ms: number, work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work.then(() => true, () => true), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** A BullMQ queue, worker or event stream. */
interface BullConnection { close(): Promise<unknown>; disconnect(): Promise<unknown> }

/**
 * Ends BullMQ objects whatever Redis does: close() stops their loops and timers
 * (its wait for Redis is not awaited), disconnect() drops their sockets and
 * their reconnecting, so nothing keeps the process alive.
 */
export function abandon(connections: BullConnection[]): void {
  for (const c of connections) {
    c.close().catch(() => undefined);
    c.disconnect().catch(() => undefined);
  }
}
