/**
 * The queue executor against the real engines: a redis-server started on a free
 * loopback port for this file, BullMQ, and three `specflow worker` processes
 * sharing one store. Skipped, loudly, where redis-server is not installed
 * (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, PLUGIN, ROOT, cli, tempDir, until } from './helpers.js';
import { hasRedis, startRedis } from './redis-server.js';

if (!hasRedis) console.warn('!!! redis-server not found: the queue executor tests are SKIPPED (apt-get install redis-server) !!!');

const SWEEP = join(ROOT, 'test', 'fixtures', 'pipelines', 'queue-sweep.yaml');

interface Proc { child: ChildProcess; out: string[]; exited: Promise<number | null> }

function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SPECFLOW_PLUGINS: PLUGIN, FORCE_COLOR: '0', ...env },
  });
  const out: string[] = [];
  child.stdout!.on('data', (d) => out.push(String(d)));
  child.stderr!.on('data', (d) => out.push(String(d)));
  const exited = new Promise<number | null>((res) => child.on('close', (code, signal) => res(signal ? 128 : code)));
  return { child, out, exited };
}

/** Keys a worker log says it computed (`✓ label key12 done …`). */
function computedKeys(workers: Proc[]): string[] {
  return workers.flatMap((w) => [...w.out.join('').matchAll(/✓ .* ([0-9a-f]{12}) done /g)].map((m) => m[1]!));
}

function runKeys(store: string, runFile?: string): string[] {
  const id = runFile ?? readFileSync(join(store, 'latest'), 'utf8').trim();
  const record = JSON.parse(readFileSync(join(store, 'runs', `${id}.json`), 'utf8')) as { stages: { key: string }[] };
  return [...new Set(record.stages.map((s) => s.key))].sort();
}

describe.skipIf(!hasRedis)('queue executor: BullMQ on a real redis-server, three workers', () => {
  let redis: ChildProcess;
  let url = '';
  const store = tempDir('specflow-queue-');
  let workers: Proc[] = [];

  const startWorker = async (env: Record<string, string> = {}): Promise<Proc> => {
    const w = start(['--store', store, 'worker', '--redis', url, '--lock-duration', '2000', '--stalled-interval', '1000'], env);
    await until('a worker to start', () => w.out.join('').includes(' at a time, store '));
    return w;
  };

  beforeAll(async () => {
    ({ url, server: redis } = await startRedis());
    workers = await Promise.all([startWorker(), startWorker(), startWorker()]);
  }, 30_000);

  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    redis?.kill('SIGTERM');
  });

  it('runs an 8-variant sweep with every stage computed exactly once, outputs equal to a local run byte for byte', async () => {
    const local = tempDir('specflow-queue-local-');
    const l = cli(['--store', local, 'run', SWEEP]);
    expect(l.status, l.stderr).toBe(0);

    const q = start(['--store', store, 'run', SWEEP, '--executor', 'queue', '--redis', url, '--json']);
    expect(await q.exited, q.out.join('')).toBe(0);
    const summary = JSON.parse(q.out.join('').slice(q.out.join('').indexOf('{\n'))) as { executor: string; stages: { key: string; status: string; host?: string; worker?: string }[] };
    expect(summary.executor).toBe('queue');
    const workerIds = new Set(summary.stages.map((s) => s.worker));
    expect([...workerIds].every((id) => /^.+:\d+$/.test(id ?? ''))).toBe(true);

    const keys = runKeys(store);
    expect(keys).toHaveLength(20); // 4 spectra (one per seed) + 8 models + 8 code tables
    expect(runKeys(local)).toEqual(keys);
    const computed = computedKeys(workers);
    expect(computed.sort()).toEqual(keys.map((k) => k.slice(0, 12)).sort());

    for (const key of keys) {
      const dir = (root: string): string => join(root, 'objects', key.slice(0, 2), key);
      const manifest = (root: string): { files: Record<string, { sha256: string }> } => JSON.parse(readFileSync(join(dir(root), 'manifest.json'), 'utf8'));
      const files = Object.keys(manifest(local).files).sort();
      expect(Object.keys(manifest(store).files).sort()).toEqual(files);
      for (const f of files) expect(readFileSync(join(dir(store), f)).equals(readFileSync(join(dir(local), f))), `${key.slice(0, 12)}/${f}`).toBe(true);
    }
  }, 90_000);

  it('two coordinators on one pipeline at once: each key is computed once', async () => {
    const earlier = workers.map((w) => computedKeys([w]).length);
    const args = ['--store', store, 'run', SWEEP, '--executor', 'queue', '--redis', url, '--set', 'epochs=6'];
    const [a, b] = [start(args), start(args)];
    expect(await a.exited, a.out.join('')).toBe(0);
    expect(await b.exited, b.out.join('')).toBe(0);
    const fresh = workers.flatMap((w, i) => computedKeys([w]).slice(earlier[i]));
    expect(new Set(fresh).size).toBe(fresh.length); // nothing computed twice
    // the 4 spectra were cached from the first test (unless this test runs alone); 8 models and 8 code tables are new
    const before = new Set(workers.flatMap((w, i) => computedKeys([w]).slice(0, earlier[i])));
    expect(fresh.sort()).toEqual(runKeys(store).map((k) => k.slice(0, 12)).filter((k) => !before.has(k)).sort());
    expect(fresh.length).toBeGreaterThanOrEqual(16);
  }, 90_000);

  it('a worker killed with SIGKILL mid-training: its job goes to another worker, the run completes, cache verify is clean', async () => {
    const run = start(['--store', store, 'run', SWEEP, '--executor', 'queue', '--redis', url, '--set', 'epochs=400', '--sweep', 'latent_dim=2', '--sweep', 'seed=9']);
    await until('training to start', () => run.out.join('').includes('ae: epoch'), 60_000);
    const victim = workers.find((w) => /▶ ae .*train\.autoencoder/.test(w.out.join('')) && !/✓ ae .* done/.test(w.out.join('').split(/▶ ae .*train\.autoencoder/).pop()!));
    expect(victim, 'the worker training the model').toBeDefined();
    victim!.child.kill('SIGKILL');
    await victim!.exited;
    expect(await run.exited, run.out.join('')).toBe(0);
    const survivors = workers.filter((w) => w !== victim);
    expect(survivors.some((w) => /✓ ae .* done/.test(w.out.join('')) && w.out.join('').includes('▶ ae'))).toBe(true);
    const verify = cli(['--store', store, 'cache', 'verify']);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/ 0 corrupt/);
    workers = survivors;
  }, 90_000);

  it('Ctrl-C withdraws a coordinator\'s waiting job only when no other coordinator waits for it; exit 130', async () => {
    for (const w of workers) { w.child.kill('SIGKILL'); await w.exited; }
    workers = [];
    const { Queue } = await import('bullmq');
    const { Redis } = await import('ioredis');
    const queue = new Queue('stages', { connection: { url, maxRetriesPerRequest: null }, prefix: 'specflow' });
    const client = new Redis(url);
    try {
      const args = ['--store', store, 'run', SWEEP, '--executor', 'queue', '--redis', url, '--sweep', 'latent_dim=2', '--sweep', 'seed=11'];
      const plan = cli([...args.slice(0, 4), '--sweep', 'latent_dim=2', '--sweep', 'seed=11', '--dry-run', '--json']);
      const first = (JSON.parse(plan.stdout) as { tasks: { key: string; type: string }[] }).tasks.find((t) => t.type === 'synthetic.eels')!.key;
      const a = start(args);
      const b = start(args);
      const waiters = (): Promise<number> => client.scard(`specflow:waiters:${first}`);
      const end = Date.now() + 20_000;
      // each coordinator registers as a waiter, then adds the job
      while (((await waiters()) < 2 || !(await queue.getJob(first))) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(await queue.getJob(first)).toBeDefined();
      a.child.kill('SIGINT');
      expect(await a.exited).toBe(130);
      expect(await (await queue.getJob(first))?.getState()).toBe('waiting'); // b still waits for it
      b.child.kill('SIGINT');
      expect(await b.exited).toBe(130);
      expect(await queue.getJob(first)).toBeUndefined();
    } finally {
      await queue.close();
      client.disconnect();
    }
  }, 60_000);

  it('a worker whose --store cannot be a store says so on one line and exits 1, rather than staying up on its Redis connection', async () => {
    const file = join(tempDir(), 'afile');
    writeFileSync(file, '');
    const w = start(['--store', file, 'worker', '--redis', url]);
    const timer = setTimeout(() => w.child.kill('SIGKILL'), 20_000);
    const status = await w.exited;
    clearTimeout(timer);
    expect(status, w.out.join('')).toBe(1);
    expect(w.out.join('').trim()).toBe(`cannot use store ${file}: ${file} is not a directory`);
  }, 30_000);

  it('a worker of another implementation fingerprint refuses the job, naming both fingerprints', async () => {
    const odd = await startWorker({ SPECFLOW_WASM_FMA: '0' });
    workers = [odd];
    const r = start(['--store', store, 'run', SWEEP, '--executor', 'queue', '--redis', url, '--sweep', 'latent_dim=2', '--sweep', 'seed=12']);
    expect(await r.exited).toBe(1);
    const text = r.out.join('');
    const m = /its implementation fingerprint ([0-9a-f]{12}) differs from the coordinator's ([0-9a-f]{12})/.exec(text);
    expect(m, text).not.toBeNull();
    expect(m![1]).not.toBe(m![2]);
    // the engine enters the fingerprint of numeric stages only: any worker may compute the data
    expect(odd.out.join('')).toMatch(/refuses stage "ae/);
    expect(odd.out.join('')).not.toMatch(/refuses stage "spectra/);
    expect(computedKeys([odd])).toHaveLength(1);
    expect(readdirSync(join(store, 'tmp'))).toEqual([]);
  }, 60_000);
});
