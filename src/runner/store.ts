/**
 * The content-addressed artifact store.
 *
 *   objects/ab/<key>/manifest.json   an entry: outputs + the manifest, which lists every
 *                                    file's SHA-256 and is written last
 *   tmp/<key>.<pid>.<nonce>/         an entry being computed; renamed into objects/ when complete
 *   locks/<key>.lock                 who is computing <key> right now (pid, host)
 *   runs/<run-id>.json, latest       run records
 *
 * An entry directory exists under objects/ only after a single rename of a
 * complete temp directory, so a crash can never leave a half-written entry that
 * a later run would trust. Locks let concurrent runs share work: the second run
 * waits for the first to publish the entry and reuses it.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import type { KeyMaterial } from './fingerprint.js';
import type { MetricValue } from './stage-api.js';

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
}

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

const LOCK_POLL_MS = 100;

export class Store {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  entryDir(key: string): string {
    return join(this.root, 'objects', key.slice(0, 2), key);
  }

  private manifestPath(key: string): string {
    return join(this.entryDir(key), 'manifest.json');
  }

  private lockPath(key: string): string {
    return join(this.root, 'locks', `${key}.lock`);
  }

  has(key: string): boolean {
    return existsSync(this.manifestPath(key));
  }

  readManifest(key: string): Manifest | undefined {
    try {
      return JSON.parse(readFileSync(this.manifestPath(key), 'utf8')) as Manifest;
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

  async ensureLayout(): Promise<void> {
    await Promise.all(['objects', 'tmp', 'locks', 'runs'].map((d) => fsp.mkdir(join(this.root, d), { recursive: true })));
  }

  /**
   * Take the lock for computing `key`, or learn that the entry exists (maybe
   * published meanwhile by another process, which we waited for).
   */
  async acquire(key: string, signal: AbortSignal, onWait?: (holder: LockInfo) => void): Promise<'acquired' | 'exists'> {
    await this.ensureLayout();
    let told = false;
    for (;;) {
      if (this.has(key)) return 'exists';
      signal.throwIfAborted();
      const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
      try {
        await fsp.writeFile(this.lockPath(key), JSON.stringify(info), { flag: 'wx' });
        if (this.has(key)) {
          await this.release(key);
          return 'exists';
        }
        return 'acquired';
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = await this.readLock(key);
      if (holder && isStale(holder)) {
        await this.breakLock(key, holder);
        continue;
      }
      if (holder && !told && onWait) {
        told = true;
        onWait(holder);
      }
      await sleep(LOCK_POLL_MS, signal);
    }
  }

  async release(key: string): Promise<void> {
    await fsp.rm(this.lockPath(key), { force: true });
  }

  private async readLock(key: string): Promise<LockInfo | undefined> {
    try {
      return JSON.parse(await fsp.readFile(this.lockPath(key), 'utf8')) as LockInfo;
    } catch {
      // Written with one write() call, so an unreadable lock is one being written right now,
      // or one whose writer died mid-write: treat it as live unless it is old.
      try {
        const age = Date.now() - statSync(this.lockPath(key)).mtimeMs;
        if (age > 10_000) return { pid: -1, host: hostname(), started: '' };
      } catch { /* vanished */ }
      return undefined;
    }
  }

  private async breakLock(key: string, seen: LockInfo): Promise<void> {
    // Rename first so that two processes breaking the same stale lock cannot
    // delete a fresh lock taken in between by a third.
    const aside = `${this.lockPath(key)}.stale.${process.pid}.${nonce()}`;
    try {
      await fsp.rename(this.lockPath(key), aside);
    } catch {
      return;
    }
    const moved = await fsp.readFile(aside, 'utf8').catch(() => '');
    if (moved && moved !== JSON.stringify(seen) && !moved.includes(`"pid":${seen.pid},`)) {
      // we moved someone else's fresh lock: put it back
      await fsp.rename(aside, this.lockPath(key)).catch(() => undefined);
      return;
    }
    await fsp.rm(aside, { force: true });
  }

  /** A fresh temp directory for computing `key`. */
  async createTemp(key: string): Promise<string> {
    await this.ensureLayout();
    const dir = join(this.root, 'tmp', `${key}.${process.pid}.${nonce()}`);
    await fsp.mkdir(dir, { recursive: true });
    return dir;
  }

  /** Hash the temp entry's files, write its manifest last, and rename it into place. */
  async publish(tempDir: string, manifest: Omit<Manifest, 'files'>): Promise<Manifest> {
    const files: Manifest['files'] = {};
    for (const file of await listFiles(tempDir)) {
      const rel = relative(tempDir, file);
      if (rel === 'manifest.json') continue;
      files[rel] = { sha256: await hashFile(file), size: statSync(file).size };
    }
    const full: Manifest = { ...manifest, files };
    const handle = await fsp.open(join(tempDir, 'manifest.json'), 'w');
    await handle.writeFile(JSON.stringify(full, null, 1));
    await handle.sync();
    await handle.close();
    const target = this.entryDir(manifest.key);
    await fsp.mkdir(join(target, '..'), { recursive: true });
    try {
      await fsp.rename(tempDir, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      // someone published the same key first; theirs is as good as ours
      await fsp.rm(tempDir, { recursive: true, force: true });
      return this.readManifest(manifest.key) ?? full;
    }
    return full;
  }

  async discardTemp(tempDir: string): Promise<void> {
    await fsp.rm(tempDir, { recursive: true, force: true });
  }

  /** Remove temp directories and locks left by processes that no longer exist. */
  async cleanStale(): Promise<{ temps: number; locks: number }> {
    let temps = 0;
    let locks = 0;
    for (const name of await readdirSafe(join(this.root, 'tmp'))) {
      const pid = Number(name.split('.')[1]);
      if (Number.isInteger(pid) && !pidAlive(pid)) {
        await fsp.rm(join(this.root, 'tmp', name), { recursive: true, force: true });
        temps++;
      }
    }
    for (const name of await readdirSafe(join(this.root, 'locks'))) {
      if (!name.endsWith('.lock')) continue;
      const key = name.slice(0, -'.lock'.length);
      const holder = await this.readLock(key);
      if (holder && isStale(holder)) {
        await this.breakLock(key, holder);
        locks++;
      }
    }
    return { temps, locks };
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

  /** Re-hash an entry's files against its manifest. Returns the problems found (empty = sound). */
  async verifyEntry(key: string): Promise<string[]> {
    const m = this.readManifest(key);
    if (!m) return ['manifest missing or unreadable'];
    if (m.key !== key) return [`manifest names key ${m.key}`];
    const problems: string[] = [];
    const dir = this.entryDir(key);
    for (const [rel, want] of Object.entries(m.files)) {
      const file = join(dir, rel);
      if (!existsSync(file)) { problems.push(`${rel}: missing`); continue; }
      const got = await hashFile(file);
      if (got !== want.sha256) problems.push(`${rel}: content changed (sha256 ${got.slice(0, 12)}…, expected ${want.sha256.slice(0, 12)}…)`);
    }
    for (const [port, o] of Object.entries(m.outputs)) {
      if (!existsSync(join(dir, o.path))) problems.push(`output ${port}: ${o.path} missing`);
    }
    return problems;
  }

  /** Remove an entry: rename it out of objects/ first so readers never see it half-deleted. */
  async removeEntry(key: string): Promise<void> {
    const aside = join(this.root, 'tmp', `${key}.${process.pid}.${nonce()}.removing`);
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

export async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.${process.pid}.${nonce()}.tmp`;
  await fsp.writeFile(tmp, data);
  await fsp.rename(tmp, path);
}

function isStale(holder: LockInfo): boolean {
  return holder.host === hostname() && !pidAlive(holder.pid);
}

export function pidAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function nonce(): string {
  return randomBytes(4).toString('hex');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); res(); }, ms);
    const onAbort = (): void => { clearTimeout(t); rej(signal.reason); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    return [];
  }
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
