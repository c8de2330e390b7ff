/**
 * The content-addressed artifact store.
 *
 *   objects/ab/<key>/manifest.json   an entry: outputs + the manifest, which lists every
 *                                    file's SHA-256 and size, and is written last
 *   tmp/<key>.<owner>.<nonce>/       an entry being computed; renamed into objects/ when complete
 *   locks/<key>.lock                 lease: who is computing <key> right now (see lease.ts)
 *   locks/store-gc.lock              lease: a `cache gc` or `verify --remove` is deleting entries
 *   holds/<owner>.json               lease: a live process and the keys it reads or writes
 *   quarantine/<key>.<time>.<nonce>  entries found broken or corrupt, kept for inspection until gc
 *   runs/<run-id>.json, latest       run records
 *   jobs/slurm/<key>.<owner>.<nonce>.*  SLURM jobs' files (executors/slurm-jobs.ts; gc prunes them)
 *
 * An entry directory exists under objects/ only after a single rename of a
 * complete, fsynced temp directory, so a crash can never leave a half-written
 * entry that a later run would trust. Locks let concurrent runs (on one host or
 * several) share work: the second run waits for the first to publish the entry
 * and reuses it. `<owner>` names a process by host, boot id, pid namespace and
 * pid (owner.ts); its temp names are live exactly as long as its hold.
 *
 * Using it from any process on any host sharing the store (a run, a queue or
 * SLURM worker):
 *
 *   const store = new Store(root);
 *   await store.holdKeys(keys);              // register (creates the store and this process's hold)
 *   await store.waitForGc(signal);           // then look things up
 *   if (!(await store.claim(key, signal, onWait, force)).cached) {  // lock held
 *     const input = await store.readInput(inputKey, signal);  // checked, or quarantined
 *     const tmp = await store.createTemp(key);   // compute into tmp
 *     await store.publish(tmp, manifest, { replace: force, signal });
 *     await store.release(key);             // (discardTemp(tmp) on failure)
 *   }
 *   await store.close();                     // releases locks and the hold
 *
 * Every lease is renewed by a timer in this process's event loop: a process
 * whose event loop is blocked for longer than SPECFLOW_LEASE_MS loses its
 * locks (another process may then compute the same key; publishing stays
 * safe, the loser's rename finds the entry there and discards its copy).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { canonicalJson, sha256, type KeyMaterial } from './fingerprint.js';
import type { MetricValue } from './stage-api.js';
import { FsProblem, describeFsError, fsErrorCode, fsErrorLine, fsyncEnabled, fsyncPath, makeDirs, testPause, writeAtomic } from './durable.js';
import { acquireLease, backoff, breakLease, createLease, leaseExpired, leaseMs, readLease, type Lease, type LeaseInfo } from './lease.js';
import { currentOwner, ownerIdProvablyDead } from './owner.js';

export { writeAtomic } from './durable.js';

export interface OutputRecord {
  kind: string;
  /** Relative to the entry directory. */
  path: string;
}

export interface Manifest {
  key: string;
  type: string;
  /** Stage id that first computed it (informational). */
  stage: string;
  material: KeyMaterial;
  outputs: Record<string, OutputRecord>;
  metrics: Record<string, MetricValue>;
  seconds: number;
  created: string;
  /** Every file of the entry (relative path) → sha256 and size, for `cache verify`. */
  files: Record<string, { sha256: string; size: number }>;
  /** SHA-256 of every other field as read back from the file, so that an edited manifest shows (none before December 2026). */
  digest?: string;
}

function manifestDigest(m: Omit<Manifest, 'digest'>): string {
  // as the JSON file reads back (NaN metrics become null), without the digest itself
  const { digest: _ignored, ...body } = JSON.parse(JSON.stringify(m)) as Manifest;
  return sha256(canonicalJson(body));
}

/** What the scheduler is told about the holder of a lock it waits for. */
export type LockInfo = LeaseInfo;

/** Files no larger than this are hashed whenever a cached entry is reused; larger ones are checked by size. */
export const CHEAP_HASH_BYTES = 1 << 20;
/** An entry about to be read by a computing stage is re-hashed whole if its files total at most this. */
export const INPUT_HASH_BYTES = 256 << 20;

const GC_LOCK = 'store-gc';
const LAYOUT = ['objects', 'tmp', 'locks', 'holds', 'runs', 'quarantine'];

export class Store {
  readonly root: string;
  private readonly locks = new Map<string, Lease>();
  private hold: Lease | undefined;
  /** Keys this process's hold names, each with how many holders in this process need it (a run's plan, a worker's jobs). */
  private readonly heldKeys = new Map<string, number>();
  /** Entries this process published (their bytes were hashed moments ago). */
  private readonly publishedHere = new Set<string>();

  constructor(root: string) {
    this.root = root;
  }

  entryDir(key: string): string {
    return join(this.root, 'objects', key.slice(0, 2), key);
  }

  private manifestPath(key: string): string {
    return join(this.entryDir(key), 'manifest.json');
  }

  private lockPath(name: string): string {
    return join(this.root, 'locks', `${name}.lock`);
  }

  private holdPath(ownerId: string): string {
    return join(this.root, 'holds', `${ownerId}.json`);
  }

  /** The store directory exists (read-only commands refuse a store that does not). */
  exists(): boolean {
    try {
      return statSync(this.root).isDirectory();
    } catch {
      return false;
    }
  }

  /** A published entry with a sound manifest (file contents are checked by `checkEntry`). */
  has(key: string): boolean {
    return this.readManifest(key) !== undefined;
  }

  /** An entry directory is there but its manifest is missing, truncated or names another key. */
  isBroken(key: string): boolean {
    return existsSync(this.entryDir(key)) && !this.has(key);
  }

  readManifest(key: string): Manifest | undefined {
    try {
      const m = JSON.parse(readFileSync(this.manifestPath(key), 'utf8')) as Manifest;
      return m && m.key === key && typeof m.files === 'object' && typeof m.outputs === 'object' ? m : undefined;
    } catch {
      return undefined;
    }
  }

  /** Absolute output paths of a published entry. */
  outputPaths(m: Manifest): Record<string, string> {
    const dir = this.entryDir(m.key);
    return Object.fromEntries(Object.entries(m.outputs).map(([port, o]) => [port, join(dir, o.path)]));
  }

  /** Marks an entry as used now (for least-recently-used eviction by `gc --max-size`). */
  async touch(key: string): Promise<void> {
    const now = new Date();
    await fsp.utimes(this.manifestPath(key), now, now).catch(() => undefined);
  }

  /** Creates the store's folders; a path that cannot be a store is a one-line `FsProblem`. */
  async ensureLayout(): Promise<void> {
    try {
      await makeDirs(this.root);
      for (const d of LAYOUT) {
        await fsp.mkdir(join(this.root, d)).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
      }
    } catch (e) {
      throw new FsProblem(`cannot use store ${this.root}: ${e instanceof FsProblem ? e.message : fsErrorLine(e)}`);
    }
  }

  // ---- presence: the hold of this process ----

  /**
   * Registers this process in the store (`holds/<owner>.json`, a lease renewed
   * by heartbeat) before it writes anything: its temp directories and temp
   * files are live exactly as long as its hold is.
   */
  async open(): Promise<void> {
    if (this.hold && !this.hold.lost) return;
    await this.ensureLayout();
    const path = this.holdPath(currentOwner().id);
    try {
      await fsp.rm(path, { force: true }); // a hold of ours broken while we were stalled
      this.hold = await createLease(path, { keys: [...this.heldKeys.keys()] });
    } catch (e) {
      // the first write of every writing command: name the store, not our temp file's name
      throw new FsProblem(`cannot write to store ${this.root}: ${describeFsError(e)} (runs, workers and gc register in its holds/ folder, so the store must be writable)`, this.root, fsErrorCode(e));
    }
    if (!this.hold) throw new Error(`hold ${path} exists`);
  }

  /**
   * Declares entries this process reads or writes: `cache gc` never deletes a
   * key a live hold names. Call before checking that the entry exists, then
   * `waitForGc`, so that a gc already running is waited for.
   */
  async holdKeys(keys: Iterable<string>): Promise<void> {
    await this.open();
    for (const k of new Set(keys)) this.heldKeys.set(k, (this.heldKeys.get(k) ?? 0) + 1);
    await this.writeHeldKeys();
  }

  /**
   * Undoes one `holdKeys(keys)`: a queue worker lets go of a job's keys once the
   * job is done, so that its hold does not grow with every job it ever ran and
   * keep all of them from `cache gc` for as long as it lives.
   */
  async unholdKeys(keys: Iterable<string>): Promise<void> {
    if (!this.hold) return;
    for (const k of new Set(keys)) {
      const n = (this.heldKeys.get(k) ?? 0) - 1;
      if (n > 0) this.heldKeys.set(k, n);
      else this.heldKeys.delete(k);
    }
    await this.writeHeldKeys();
  }

  private async writeHeldKeys(): Promise<void> {
    const state = await readLease(this.hold!.path);
    if (!state?.info) throw new Error(`hold ${this.hold!.path} vanished`);
    await writeAtomic(this.hold!.path, JSON.stringify({ ...state.info, keys: [...this.heldKeys.keys()] }));
  }

  /** Releases every lock this process holds and its hold. */
  async close(): Promise<void> {
    for (const key of [...this.locks.keys()]) await this.release(key);
    await this.hold?.release();
    this.hold = undefined;
  }

  /** Keys named by live holds of any process (this one included). */
  async heldByLiveProcesses(): Promise<Set<string>> {
    const keys = new Set<string>();
    for (const name of await readdirSafe(join(this.root, 'holds'))) {
      if (!name.endsWith('.json')) continue;
      const state = await readLease(join(this.root, 'holds', name));
      if (state?.info && !leaseExpired(state)) for (const k of state.info.keys ?? []) keys.add(k);
    }
    return keys;
  }

  /** The store-wide lock `cache gc` (and `verify --remove`) take; waits for another holder. */
  async lockStore(signal: AbortSignal, onWait?: (holder: LockInfo | undefined) => void): Promise<Lease> {
    await this.open();
    return (await acquireLease(this.lockPath(GC_LOCK), { signal, onWait })) as Lease;
  }

  /** Waits while a gc runs (after `holdKeys`, so that gc either saw the hold or finished first). */
  async waitForGc(signal: AbortSignal): Promise<void> {
    const path = this.lockPath(GC_LOCK);
    const wait = backoff(signal);
    for (;;) {
      const state = await readLease(path);
      if (!state || leaseExpired(state)) return;
      await wait();
    }
  }

  // ---- per-key locks ----

  /**
   * Take the lock for computing `key`, or learn that the entry exists (maybe
   * published meanwhile by another process, which we waited for). With
   * `force`, the lock is taken even over an existing entry (to replace it).
   */
  async acquire(key: string, signal: AbortSignal, onWait?: (holder: LockInfo | undefined) => void, force = false): Promise<'acquired' | 'exists'> {
    await this.open();
    const got = await acquireLease(this.lockPath(key), { signal, onWait, done: () => !force && this.has(key) });
    if (got === 'done') return 'exists';
    this.locks.set(key, got);
    return 'acquired';
  }

  /**
   * What a process computing `key` calls first. Returns `{ cached: true }`
   * (no lock held) when a sound entry exists and `force` is off; otherwise
   * holds the key's lock, and a broken or corrupt entry found under it has
   * been moved to quarantine/ (`quarantined`: its problems). With `force`, a
   * sound entry stays in place for `publish(…, { replace: true })`.
   */
  async claim(key: string, signal: AbortSignal, onWait?: (holder: LockInfo | undefined) => void, force = false): Promise<{ cached: boolean; quarantined?: string[] }> {
    if ((await this.acquire(key, signal, onWait, force)) === 'exists') {
      if (!(await this.checkEntry(key, CHEAP_HASH_BYTES)).length) return { cached: true };
      // corrupt: take the lock over it, to move it aside and recompute
      await this.acquire(key, signal, onWait, true);
    }
    try {
      if (!existsSync(this.entryDir(key))) return { cached: false };
      const problems = await this.checkEntry(key, CHEAP_HASH_BYTES);
      if (!problems.length) {
        if (force) return { cached: false };
        await this.release(key);
        return { cached: true };
      }
      await this.quarantine(key, problems.join('; '));
      return { cached: false, quarantined: problems };
    } catch (e) {
      await this.release(key);
      throw e;
    }
  }

  /**
   * The manifest of an entry a stage is about to read, checked first: sizes
   * always, contents too when the entry is at most INPUT_HASH_BYTES and was
   * not just published by this process (whose hashes are moments old). A
   * corrupt entry is moved to quarantine/ (`movedTo`); a missing one gives
   * neither manifest nor problems. Waits out a forced replacement in progress.
   */
  async readInput(key: string, signal: AbortSignal): Promise<{ manifest: Manifest } | { problems?: string[]; movedTo?: string }> {
    const m = await this.waitForEntry(key, signal);
    if (!m) return {};
    const bytes = Object.values(m.files).reduce((sum, f) => sum + f.size, 0);
    const thorough = !this.publishedHere.has(key) && bytes <= INPUT_HASH_BYTES;
    const problems = await this.checkEntry(key, thorough ? Infinity : CHEAP_HASH_BYTES);
    if (!problems.length) return { manifest: m };
    return { problems, movedTo: await this.quarantine(key, problems.join('; ')) };
  }

  /** Releases this process's lock on `key`, if it still holds it (never another holder's). */
  async release(key: string): Promise<void> {
    const lease = this.locks.get(key);
    this.locks.delete(key);
    await lease?.release();
  }

  // ---- entries ----

  /** A fresh temp directory for computing `key`, named after this process's hold. */
  async createTemp(key: string): Promise<string> {
    await this.open();
    const dir = join(this.root, 'tmp', `${key}.${currentOwner().id}.${nonce()}`);
    await fsp.mkdir(dir);
    return dir;
  }

  /**
   * Hash the temp entry's files, write its manifest last, sync everything, and
   * rename it into place. With `replace` (a forced recompute, under the key's
   * lock) an existing entry is swapped out: old aside, new in, old removed; a
   * reader that finds the key missing in between waits on the lock
   * (`waitForEntry`). After `signal` aborts, nothing is published.
   */
  async publish(tempDir: string, manifest: Omit<Manifest, 'files'>, options: { replace?: boolean; signal?: AbortSignal } = {}): Promise<Manifest> {
    const files: Manifest['files'] = {};
    for (const file of await listFiles(tempDir)) {
      const rel = relative(tempDir, file);
      if (rel === 'manifest.json') continue;
      files[rel] = { sha256: await hashFile(file), size: statSync(file).size };
      await fsyncPath(file);
    }
    for (const dir of await listDirs(tempDir)) await fsyncPath(dir);
    const body = { ...manifest, files };
    const full: Manifest = { ...body, digest: manifestDigest(body) };
    await testPause('manifest');
    const handle = await fsp.open(join(tempDir, 'manifest.json'), 'w');
    try {
      await handle.writeFile(JSON.stringify(full, null, 1));
      if (fsyncEnabled()) await handle.sync();
    } finally {
      await handle.close();
    }
    await fsyncPath(tempDir);
    const target = this.entryDir(manifest.key);
    await fsp.mkdir(dirname(target)).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
    await testPause('rename');
    options.signal?.throwIfAborted();
    if (options.replace && existsSync(target)) {
      const aside = join(this.root, 'tmp', `${manifest.key}.${currentOwner().id}.${nonce()}.replaced`);
      await fsp.rename(target, aside).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
      await testPause('swap');
      await fsp.rename(tempDir, target);
      await fsyncPath(dirname(target));
      await fsp.rm(aside, { recursive: true, force: true });
      this.publishedHere.add(manifest.key);
      return full;
    }
    try {
      await fsp.rename(tempDir, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      // someone published the same key first; theirs is as good as ours
      await fsp.rm(tempDir, { recursive: true, force: true });
      return this.readManifest(manifest.key) ?? full;
    }
    await fsyncPath(dirname(target));
    this.publishedHere.add(manifest.key);
    return full;
  }

  async discardTemp(tempDir: string): Promise<void> {
    await fsp.rm(tempDir, { recursive: true, force: true });
  }

  /**
   * The manifest of `key`, waiting out a forced replacement in progress: if
   * the entry is missing while its lock is held, wait for the lock and look
   * again.
   */
  async waitForEntry(key: string, signal: AbortSignal): Promise<Manifest | undefined> {
    const wait = backoff(signal);
    for (;;) {
      const m = this.readManifest(key);
      if (m) return m;
      const state = await readLease(this.lockPath(key));
      if (!state || leaseExpired(state) || this.locks.has(key)) return this.readManifest(key);
      await wait();
    }
  }

  /**
   * Moves a broken or corrupt entry out of objects/ into quarantine/ (kept for
   * inspection until the next `cache gc`), so that its key is computed afresh.
   * Returns where it went, or undefined if it was already gone.
   */
  async quarantine(key: string, reason: string): Promise<string | undefined> {
    await this.ensureLayout();
    const dest = join(this.root, 'quarantine', `${key}.${new Date().toISOString().replace(/[:.]/g, '')}.${nonce()}`);
    try {
      await fsp.rename(this.entryDir(key), dest);
    } catch {
      return undefined;
    }
    await fsp.writeFile(`${dest}.reason`, `${reason}\n`).catch(() => undefined);
    return dest;
  }

  /** Remove temp dirs, temp files, locks and holds of processes that are gone (provably, or whose leases expired). */
  async cleanStale(): Promise<{ temps: number; locks: number }> {
    let temps = 0;
    let locks = 0;
    const expired = new Set<string>();
    for (const dir of ['holds', 'locks']) {
      for (const name of await readdirSafe(join(this.root, dir))) {
        const path = join(this.root, dir, name);
        if (name.endsWith('.lock') || name.endsWith('.json')) {
          const state = await readLease(path);
          if (!state || !leaseExpired(state) || !(await breakLease(path, state))) continue;
          if (dir === 'locks') locks++;
          else expired.add(name.slice(0, -'.json'.length));
        } else if (await this.ownerGone(name.split('.').at(-3) ?? '', path)) {
          await fsp.rm(path, { force: true });
        }
      }
    }
    for (const name of await readdirSafe(join(this.root, 'tmp'))) {
      const path = join(this.root, 'tmp', name);
      const owner = name.split('.')[1] ?? '';
      if (expired.has(owner) || (await this.ownerGone(owner, path))) {
        await fsp.rm(path, { recursive: true, force: true });
        temps++;
      }
    }
    for (const dir of [this.root, this.runsDir(), join(this.root, 'cache', 'pipelines')]) {
      for (const name of await readdirSafe(dir)) {
        if (name.endsWith('.tmp') && (await this.ownerGone(name.split('.').at(-3) ?? '', join(dir, name)))) {
          await fsp.rm(join(dir, name), { force: true });
        }
      }
    }
    return { temps, locks };
  }

  /**
   * A name's owner is gone: its hold expired, or it has none and is provably
   * dead or `path` is older than a lease. (Temp names, and SLURM job files.)
   */
  async ownerGone(ownerId: string, path: string): Promise<boolean> {
    const hold = ownerId && /^[A-Za-z0-9_-]+$/.test(ownerId) ? await readLease(this.holdPath(ownerId)) : undefined;
    if (hold) return leaseExpired(hold);
    if (ownerIdProvablyDead(ownerId)) return true;
    const mtime = await fsp.lstat(path).then((s) => s.mtimeMs).catch(() => undefined);
    return mtime !== undefined && Date.now() - mtime > leaseMs();
  }

  /** Every published entry key. */
  async keys(): Promise<string[]> {
    const out: string[] = [];
    for (const prefix of await readdirSafe(join(this.root, 'objects'))) {
      for (const key of await readdirSafe(join(this.root, 'objects', prefix))) {
        if (key.length === 64 && key.startsWith(prefix)) out.push(key);
      }
    }
    return out.sort();
  }

  async entrySize(key: string): Promise<number> {
    let total = 0;
    for (const f of await listFiles(this.entryDir(key))) total += (await fsp.stat(f)).size;
    return total;
  }

  /**
   * Checks an entry against its manifest: every file present with its size,
   * and re-hashed when it is at most `hashUpTo` bytes (Infinity: all files).
   * Returns the problems found (empty = sound).
   */
  async checkEntry(key: string, hashUpTo: number): Promise<string[]> {
    const m = this.readManifest(key);
    if (!m) return [existsSync(this.manifestPath(key)) ? 'manifest unreadable (truncated or not this key)' : 'manifest missing'];
    const problems: string[] = [];
    if (m.digest !== undefined && manifestDigest(m) !== m.digest) problems.push('manifest.json: edited since it was published (its digest does not match)');
    const dir = this.entryDir(key);
    for (const [rel, want] of Object.entries(m.files)) {
      const file = join(dir, rel);
      const size = await fsp.stat(file).then((s) => s.size).catch(() => undefined);
      if (size === undefined) { problems.push(`${rel}: missing`); continue; }
      if (size !== want.size) { problems.push(`${rel}: size ${size}, expected ${want.size}`); continue; }
      if (size > hashUpTo) continue;
      const got = await hashFile(file);
      if (got !== want.sha256) problems.push(`${rel}: content changed (sha256 ${got.slice(0, 12)}…, expected ${want.sha256.slice(0, 12)}…)`);
    }
    for (const [port, o] of Object.entries(m.outputs)) {
      if (!existsSync(join(dir, o.path))) problems.push(`output ${port}: ${o.path} missing`);
    }
    return problems;
  }

  /** Re-hash an entry's files against its manifest. Returns the problems found (empty = sound). */
  verifyEntry(key: string): Promise<string[]> {
    return this.checkEntry(key, Infinity);
  }

  /** Keys of the entries made from `key`'s output, directly or further down, as their manifests record. */
  async dependentsOf(keys: Iterable<string>): Promise<Map<string, string>> {
    const children = new Map<string, string[]>();
    for (const k of await this.keys()) {
      for (const parents of Object.values(this.readManifest(k)?.material.inputs ?? {})) {
        // each input is recorded as `<key>:<port>[@variants]`
        for (const ref of parents) {
          const p = ref.slice(0, 64);
          children.set(p, [...(children.get(p) ?? []), k]);
        }
      }
    }
    const derivedFrom = new Map<string, string>();
    const queue = [...keys].map((k) => [k, k] as const);
    while (queue.length) {
      const [k, root] = queue.shift()!;
      for (const c of children.get(k) ?? []) {
        if (derivedFrom.has(c) || c === root) continue;
        derivedFrom.set(c, root);
        queue.push([c, root]);
      }
    }
    for (const k of keys) derivedFrom.delete(k);
    return derivedFrom;
  }

  /** Remove an entry: rename it out of objects/ first so readers never see it half-deleted. */
  async removeEntry(key: string): Promise<void> {
    const aside = join(this.root, 'tmp', `${key}.${currentOwner().id}.${nonce()}.removing`);
    await fsp.mkdir(join(this.root, 'tmp'), { recursive: true });
    try {
      await fsp.rename(this.entryDir(key), aside);
    } catch {
      return;
    }
    await fsp.rm(aside, { recursive: true, force: true });
  }

  // ---- run records ----

  runsDir(): string {
    return join(this.root, 'runs');
  }

  async writeRun(id: string, record: unknown): Promise<string> {
    await this.ensureLayout();
    const path = join(this.runsDir(), `${id}.json`);
    await testPause('record');
    await writeAtomic(path, JSON.stringify(record, null, 1));
    await writeAtomic(join(this.root, 'latest'), `${id}\n`);
    return path;
  }

  latestRunId(): string | undefined {
    try {
      return readFileSync(join(this.root, 'latest'), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  readRun<T = unknown>(id: string): T | undefined {
    try {
      return JSON.parse(readFileSync(join(this.runsDir(), `${id}.json`), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /** Run ids, oldest first (ids sort by time). */
  async runIds(): Promise<string[]> {
    return (await readdirSafe(this.runsDir())).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
  }

  async removeRun(id: string): Promise<void> {
    await fsp.rm(join(this.runsDir(), `${id}.json`), { force: true });
  }
}

function nonce(): string {
  return randomBytes(4).toString('hex');
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    return [];
  }
}

async function listDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) out.push(join(dir, e.name), ...(await listDirs(join(dir, e.name))));
  }
  return out;
}

export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

export function hashFile(file: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (c) => h.update(c)).on('end', () => res(h.digest('hex'))).on('error', rej);
  });
}
