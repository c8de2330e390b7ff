/**
 * Lease files: the store's locks (`locks/<name>.lock`) and the registrations of
 * live processes (`holds/<owner>.json`) are both files that
 *
 * - are created whole and exclusively: written under a unique temp name, then
 *   hard-linked to their final name (link fails if the name exists), so nobody
 *   ever reads a half-written lease, and a full disk leaves no empty one;
 * - carry a random token, so a holder releases or renews only its own lease;
 * - stay valid while their holder renews them: a heartbeat in the holder's
 *   process sets the file's mtime every lease/5; a lease whose mtime is older
 *   than its `lease_ms` has expired (holder dead, hung or partitioned) and may
 *   be broken by anyone. A holder on this very kernel (same host, boot id and
 *   pid namespace) whose process is gone is broken at once.
 *
 * Breaking and releasing go through rename-and-check: the file is renamed to a
 * unique name (only one process can win that), then its token is compared;
 * a lease that turns out not to be the one meant is put back with link().
 *
 * What it needs of the filesystem: atomic rename and link (EEXIST on an
 * existing name), mtimes that can be set, and host clocks that agree to well
 * within a lease (NTP). Leases guard against duplicate work and against gc
 * deleting what a run uses; entries themselves never depend on a lock for
 * their integrity (they appear by rename, whole).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { currentOwner, provablyDead, type Owner } from './owner.js';

export interface LeaseInfo {
  token: string;
  owner: Owner;
  lease_ms: number;
  created: string;
  /** For holds: the entry keys the holder reads or writes. */
  keys?: string[];
}

export interface LeaseState {
  /** undefined: the file exists but is not a lease (garbage, an older format). */
  info?: LeaseInfo;
  mtimeMs: number;
}

const DEFAULT_LEASE_MS = 30_000;

/** Lease length for new leases: `SPECFLOW_LEASE_MS`, default 30 s. */
export function leaseMs(): number {
  const v = Number(process.env.SPECFLOW_LEASE_MS);
  return Number.isFinite(v) && v >= 50 ? v : DEFAULT_LEASE_MS;
}

export class Lease {
  lost = false;
  constructor(readonly path: string, readonly token: string) {}

  /** Refreshes the lease if it is still ours; false (and `lost`) when someone broke it. */
  async renew(): Promise<boolean> {
    if (this.lost) return false;
    const state = await readLease(this.path);
    if (state?.info?.token !== this.token) {
      this.lost = true;
      heartbeat.delete(this);
      return false;
    }
    const now = new Date();
    await fsp.utimes(this.path, now, now).catch(() => undefined);
    return true;
  }

  /** Removes the lease if it is still ours; never touches another holder's. */
  async release(): Promise<void> {
    heartbeat.delete(this);
    if (this.lost) return;
    this.lost = true;
    await removeIf(this.path, (info) => info?.token === this.token);
  }
}

/** Creates the lease file if no one holds it; undefined if it exists. */
export async function createLease(path: string, extra: Partial<LeaseInfo> = {}): Promise<Lease | undefined> {
  const owner = currentOwner();
  const info: LeaseInfo = { token: randomBytes(12).toString('hex'), owner, lease_ms: leaseMs(), created: new Date().toISOString(), ...extra };
  const tmp = `${path}.${owner.id}.${randomBytes(4).toString('hex')}.new`;
  try {
    await fsp.writeFile(tmp, JSON.stringify(info), { flag: 'wx' });
    await fsp.link(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw e;
  } finally {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
  }
  const lease = new Lease(path, info.token);
  heartbeat.add(lease);
  return lease;
}

export async function readLease(path: string): Promise<LeaseState | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([fsp.readFile(path, 'utf8'), fsp.stat(path).then((s) => s.mtimeMs)]);
  } catch {
    return undefined;
  }
  try {
    const info = JSON.parse(text) as LeaseInfo;
    return typeof info?.token === 'string' ? { info, mtimeMs } : { mtimeMs };
  } catch {
    return { mtimeMs };
  }
}

export function leaseExpired(state: LeaseState): boolean {
  if (state.info && provablyDead(state.info.owner)) return true;
  const lease = state.info?.lease_ms ?? DEFAULT_LEASE_MS;
  return Date.now() - state.mtimeMs > lease;
}

/** Removes an expired lease, provided it is still the one that was seen. */
export async function breakLease(path: string, seen: LeaseState): Promise<boolean> {
  return removeIf(path, (info, mtimeMs) => (seen.info ? info?.token === seen.info.token : !info && mtimeMs === seen.mtimeMs));
}

/** Rename-and-check: move the file aside (one process wins), then delete it if it is the one meant, else put it back. */
async function removeIf(path: string, isIt: (info: LeaseInfo | undefined, mtimeMs: number) => boolean): Promise<boolean> {
  const aside = `${path}.${currentOwner().id}.${randomBytes(4).toString('hex')}.gone`;
  try {
    await fsp.rename(path, aside);
  } catch {
    return false;
  }
  const state = await readLease(aside);
  if (state && isIt(state.info, state.mtimeMs)) {
    await fsp.rm(aside, { force: true });
    return true;
  }
  // not the one meant (taken over meanwhile): give it back unless a newer lease took its place
  await fsp.link(aside, path).catch(() => undefined);
  await fsp.rm(aside, { force: true });
  return false;
}

export interface AcquireOptions {
  signal: AbortSignal;
  /** Checked before every attempt: true ends the wait without the lease (e.g. the entry was published meanwhile). */
  done?: () => Promise<boolean> | boolean;
  /** Called once, when the lease is found held by a live holder. */
  onWait?: (holder: LeaseInfo | undefined) => void;
}

/** Waits for the lease with exponential backoff and jitter (20 ms growing to 1 s); breaks expired leases. */
export async function acquireLease(path: string, options: AcquireOptions): Promise<Lease | 'done'> {
  const wait = backoff(options.signal);
  let told = false;
  for (;;) {
    if (options.done && (await options.done())) return 'done';
    options.signal.throwIfAborted();
    const lease = await createLease(path);
    if (lease) {
      if (options.done && (await options.done())) {
        await lease.release();
        return 'done';
      }
      return lease;
    }
    const state = await readLease(path);
    if (state && leaseExpired(state)) {
      await breakLease(path, state);
    } else if (state && !told) {
      told = true;
      options.onWait?.(state.info);
    }
    await wait();
  }
}

/** Successive waits of an exponential backoff with jitter: 20 ms growing ×1.6 up to 1 s, each ±50 %. */
export function backoff(signal: AbortSignal): () => Promise<void> {
  let delay = 20;
  return async () => {
    await sleep(delay * (0.5 + Math.random()), signal);
    delay = Math.min(1000, delay * 1.6);
  };
}

/** One timer per process renews every lease it holds. */
const heartbeat = new (class Heartbeat {
  private readonly leases = new Set<Lease>();
  private timer: NodeJS.Timeout | undefined;

  add(lease: Lease): void {
    this.leases.add(lease);
    if (!this.timer) {
      this.timer = setInterval(() => void this.beat(), Math.max(10, leaseMs() / 5));
      // a heartbeat alone must not keep a finished process alive
      this.timer.unref();
    }
  }

  delete(lease: Lease): void {
    this.leases.delete(lease);
    if (!this.leases.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async beat(): Promise<void> {
    await Promise.all([...this.leases].map((l) => l.renew().catch(() => false)));
  }
})();

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((res, rej) => {
    if (signal?.aborted) { rej(signal.reason); return; }
    const onAbort = (): void => { clearTimeout(t); rej(signal!.reason); };
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); res(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
