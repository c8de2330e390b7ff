// The store's locks, holds and publishing, tested on the Store class (and, where a
// second process is needed, on a child node process using the compiled store).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, promises as fsp, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Store } from '../../src/runner/store.js';
import { currentOwner } from '../../src/runner/owner.js';
import { computeEntry } from '../../src/runner/compute-entry.js';
import type { StageJob } from '../../src/runner/stage-job.js';
import type { StageDef } from '../../src/runner/stage-api.js';
import { ROOT, tempDir } from './helpers.js';

const KEY = 'ab'.repeat(32);
const material = { type: 't', impl: '', params: {}, seed: 0, inputs: {} };

function writeLock(store: Store, key: string, owner: object, leaseMs: number, token = 'someone-else'): string {
  const path = join(store.root, 'locks', `${key}.lock`);
  writeFileSync(path, JSON.stringify({ token, owner, lease_ms: leaseMs, created: '' }));
  return path;
}

function abortAfter(ms: number): AbortSignal {
  return AbortSignal.timeout(ms);
}

async function publishOne(store: Store, key: string, content: string, replace = false): Promise<void> {
  expect(await store.acquire(key, new AbortController().signal, undefined, replace)).toBe('acquired');
  const tmp = await store.createTemp(key);
  writeFileSync(join(tmp, 'out.arrow'), content);
  await store.publish(tmp, { key, type: 't', stage: 's', material, outputs: { out: { kind: 'table', path: 'out.arrow' } }, metrics: {}, seconds: 0, created: '' }, { replace });
  await store.release(key);
}

/** Runs a script in a child node process with the compiled store (dist/) and a short lease. */
function child(script: string, env: Record<string, string> = {}): { done: Promise<number | null>; stdout: () => string } {
  const p = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT, env: { ...process.env, SPECFLOW_LEASE_MS: '400', ...env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  p.stdout.on('data', (d) => { out += String(d); });
  return { done: new Promise((res) => p.on('close', res)), stdout: () => out };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

describe('store locks (leases)', () => {
  it('takes over an unparsable lock left long ago, without spinning', async () => {
    const store = new Store(tempDir());
    await store.ensureLayout();
    const path = join(store.root, 'locks', `${KEY}.lock`);
    writeFileSync(path, '{"pid": 12');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(path, old, old);
    expect(await store.acquire(KEY, abortAfter(10_000))).toBe('acquired');
    await store.release(KEY);
    expect(existsSync(path)).toBe(false);
  });

  it('waits for a fresh lock with backoff: about no CPU spent while waiting', async () => {
    const store = new Store(tempDir());
    await store.ensureLayout();
    writeFileSync(join(store.root, 'locks', `${KEY}.lock`), 'garbage being written');
    const cpu0 = process.cpuUsage();
    await expect(store.acquire(KEY, abortAfter(1500))).rejects.toThrow();
    const cpu = process.cpuUsage(cpu0);
    // a busy loop burns ~1.5 s of CPU here; polling with backoff a few ms
    expect((cpu.user + cpu.system) / 1e6).toBeLessThan(0.4);
  });

  it('a lock of another host expires when its holder stops renewing it', async () => {
    const store = new Store(tempDir());
    await store.ensureLayout();
    writeLock(store, KEY, { ...currentOwner(), host: 'elsewhere', boot: 'other-boot' }, 300);
    let waited = false;
    expect(await store.acquire(KEY, abortAfter(20_000), () => { waited = true; })).toBe('acquired');
    expect(waited).toBe(true);
  });

  it('a lock of a live process in another pid namespace with the same hostname is not broken', async () => {
    const store = new Store(tempDir());
    await store.ensureLayout();
    // the old check (same hostname + pid not alive here) broke such locks at once
    const path = writeLock(store, KEY, { ...currentOwner(), pidns: '4026531999', pid: 4194305 }, 3_600_000);
    await expect(store.acquire(KEY, abortAfter(800))).rejects.toThrow();
    expect(JSON.parse(readFileSync(path, 'utf8')).token).toBe('someone-else');
    await store.cleanStale();
    expect(existsSync(path)).toBe(true);
  });

  it('a lock whose pid was reused (same kernel and namespace, other start time) is broken at once', async () => {
    const store = new Store(tempDir());
    await store.ensureLayout();
    writeLock(store, KEY, { ...currentOwner(), pid: process.pid, pidStart: '1' }, 3_600_000);
    expect(await store.acquire(KEY, abortAfter(5000))).toBe('acquired');
  });

  it('a lock held by a live process of this namespace is never broken, whatever its age', async () => {
    const store = new Store(tempDir());
    await store.ensureLayout();
    const path = writeLock(store, KEY, currentOwner(), 3_600_000);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    await expect(store.acquire(KEY, abortAfter(600))).rejects.toThrow();
  });

  it('release removes only its own lock, never one taken over after it expired', async () => {
    const store = new Store(tempDir());
    expect(await store.acquire(KEY, new AbortController().signal)).toBe('acquired');
    // our lease expired and another holder took the lock over
    const path = writeLock(store, KEY, { ...currentOwner(), host: 'elsewhere' }, 3_600_000, 'new-holder');
    await store.release(KEY);
    expect(JSON.parse(readFileSync(path, 'utf8')).token).toBe('new-holder');
  });

  it('a holder that renews its lease keeps it beyond the lease length; a waiter gets it only on release', async () => {
    const dir = tempDir();
    const holder = child(`
      import { Store } from './dist/runner/store.js';
      const s = new Store(${JSON.stringify(dir)});
      await s.acquire(${JSON.stringify(KEY)}, new AbortController().signal);
      console.log('holding');
      await new Promise((r) => setTimeout(r, 2000)); // five lease lengths
      (await import('node:fs')).writeFileSync(${JSON.stringify(join(dir, 'released'))}, '');
      await s.release(${JSON.stringify(KEY)});
      await s.close();
    `);
    await until(() => holder.stdout().includes('holding'), 'the child to take the lock');
    const store = new Store(dir);
    expect(await store.acquire(KEY, abortAfter(20_000))).toBe('acquired');
    expect(existsSync(join(dir, 'released'))).toBe(true);
    expect(await holder.done).toBe(0);
  });
});

describe('store holds and temp directories', () => {
  it('cleanStale keeps the temp dirs of live holders elsewhere and removes those of dead or expired ones', async () => {
    const store = new Store(tempDir());
    await store.open();
    const mine = currentOwner().id.split('-');
    const foreignId = ['otherhost', 'bbbbbbbb', '4026532000', '77', 'abcdef'].join('-');
    const deadHereId = [...mine.slice(0, -2), '4194305', 'abcdef'].join('-');
    const expiredId = ['gonehost', 'cccccccc', '4026532001', '88', 'abcdef'].join('-');
    const hold = (id: string, leaseMs: number): string => {
      const p = join(store.root, 'holds', `${id}.json`);
      writeFileSync(p, JSON.stringify({ token: id, owner: { host: id.split('-')[0] }, lease_ms: leaseMs, created: '', keys: [KEY] }));
      return p;
    };
    hold(foreignId, 3_600_000);
    const expiredHold = hold(expiredId, 1000);
    const old = new Date(Date.now() - 60_000);
    utimesSync(expiredHold, old, old);
    for (const id of [foreignId, deadHereId, expiredId]) mkdirSync(join(store.root, 'tmp', `${KEY}.${id}.0000`));
    const live = await store.createTemp(KEY);
    writeFileSync(join(store.root, 'runs', `r.json.${deadHereId}.1234.tmp`), '');
    await store.cleanStale();
    expect(readdirSync(join(store.root, 'tmp')).sort()).toEqual([`${KEY}.${foreignId}.0000`, live.split('/').at(-1)].sort());
    expect(readdirSync(join(store.root, 'runs'))).toEqual([]);
    expect(existsSync(expiredHold)).toBe(false);
    expect(await store.heldByLiveProcesses()).toEqual(new Set([KEY]));
    await store.close();
  });

  it('a long-lived worker holds a job\'s keys only while it computes the job, so `cache gc` can reclaim them later', async () => {
    const store = new Store(tempDir());
    const def = { type: 't', inputs: {}, outputs: { out: { kind: 'table' } }, params: {}, run: async () => undefined } as unknown as StageDef;
    const job = {
      key: KEY, label: 's', type: 't', stage: 's', params: {}, seed: 0, pipelineDir: store.root, material, fingerprint: '', inputs: {},
      force: false, resources: {}, cores: 1, pathParams: [], stamps: {},
    } as StageJob;
    const other = 'cd'.repeat(32);
    await store.holdKeys([other]); // what the process held before (a run's plan) stays held
    let heldWhileRunning = new Set<string>();
    const outcome = await computeEntry(store, def, job, {
      signal: new AbortController().signal,
      runStage: async (_d, task) => {
        heldWhileRunning = await store.heldByLiveProcesses();
        writeFileSync(task.outputs.out!.path, 'x');
        return { ok: true, metrics: {} };
      },
    });
    expect(outcome.status).toBe('done');
    expect(heldWhileRunning).toEqual(new Set([KEY, other]));
    expect(await store.heldByLiveProcesses()).toEqual(new Set([other]));
    await store.close();
  });

  it('an input missing from the store (a worker on another store path) fails the job with one line, no stack trace', async () => {
    const store = new Store(tempDir());
    const def = { type: 't', inputs: { table: { kind: 'table' } }, outputs: { out: { kind: 'table' } }, params: {}, run: async () => undefined } as unknown as StageDef;
    const job = {
      key: KEY, label: 's', type: 't', stage: 's', params: {}, seed: 0, pipelineDir: store.root, material, fingerprint: '',
      inputs: { table: [{ key: 'cd'.repeat(32), port: 'spectra', stage: 'clean', variant: 'default', axes: {} }] },
      force: false, resources: {}, cores: 1, pathParams: [], stamps: {},
    } as StageJob;
    const outcome = await computeEntry(store, def, job, {
      signal: new AbortController().signal, by: { host: 'node2', worker: 'node2:77' },
      runStage: async () => ({ ok: true, metrics: {} }),
    });
    expect(outcome.status).toBe('failed');
    expect(outcome.infrastructure).toBe(true); // another worker, with the right mount, may run it
    expect(outcome.error).toBe(`input clean.spectra (cdcdcdcdcdcd) is not in the store ${store.root} as node2:77 on node2 sees it: removed meanwhile (\`cache verify --remove\`), or this host's store is not the coordinator's (every host must mount one store at the same path)`);
    await store.close();
  });
});

describe('publishing', () => {
  it('syncs every file, the entry directory and its parent before trusting an entry', async () => {
    const store = new Store(tempDir());
    expect(await store.acquire(KEY, new AbortController().signal)).toBe('acquired');
    const tmp = await store.createTemp(KEY);
    writeFileSync(join(tmp, 'out.arrow'), 'abc');
    mkdirSync(join(tmp, 'model'));
    writeFileSync(join(tmp, 'model', 'w.bin'), 'abc');
    const synced: string[] = [];
    const realOpen = fsp.open.bind(fsp);
    const spy = vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      const handle = await realOpen(...args);
      const sync = handle.sync.bind(handle);
      handle.sync = async () => { synced.push(String(args[0])); return sync(); };
      return handle;
    });
    try {
      await store.publish(tmp, { key: KEY, type: 't', stage: 's', material, outputs: { out: { kind: 'table', path: 'out.arrow' } }, metrics: {}, seconds: 0, created: '' });
    } finally {
      spy.mockRestore();
      await store.release(KEY);
    }
    for (const f of ['out.arrow', join('model', 'w.bin'), 'manifest.json', 'model']) expect(synced).toContain(join(tmp, f));
    expect(synced).toContain(tmp);
    expect(synced).toContain(join(store.root, 'objects', KEY.slice(0, 2)));
  });

  it('a forced replacement swaps the entry under the lock; a reader waiting on the lock always finds an entry', async () => {
    const dir = tempDir();
    const store = new Store(dir);
    await publishOne(store, KEY, 'v0');
    const writer = child(`
      import { Store } from './dist/runner/store.js';
      import { writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      const s = new Store(${JSON.stringify(dir)});
      for (let i = 1; i <= 4; i++) {
        await s.acquire(${JSON.stringify(KEY)}, new AbortController().signal, undefined, true);
        const tmp = await s.createTemp(${JSON.stringify(KEY)});
        writeFileSync(join(tmp, 'out.arrow'), 'v' + i);
        await s.publish(tmp, { key: ${JSON.stringify(KEY)}, type: 't', stage: 's', material: ${JSON.stringify(material)}, outputs: { out: { kind: 'table', path: 'out.arrow' } }, metrics: {}, seconds: 0, created: '' }, { replace: true });
        await s.release(${JSON.stringify(KEY)});
      }
      await s.close();
      console.log('done');
    `, { SPECFLOW_TEST_SLOW_STORE_MS: '150' });
    let sawGap = false;
    const seen = new Set<string>();
    while (!writer.stdout().includes('done')) {
      if (!store.has(KEY)) sawGap = true;
      const m = await store.waitForEntry(KEY, abortAfter(20_000));
      expect(m?.key).toBe(KEY);
      seen.add(readFileSync(join(store.entryDir(KEY), 'out.arrow'), 'utf8'));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await writer.done).toBe(0);
    expect(sawGap).toBe(true); // the reader did meet the swap window, and waited it out
    expect(seen.has('v4') || readFileSync(join(store.entryDir(KEY), 'out.arrow'), 'utf8') === 'v4').toBe(true);
    expect(await store.verifyEntry(KEY)).toEqual([]);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });
});
