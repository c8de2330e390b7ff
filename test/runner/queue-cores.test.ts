/**
 * Queue workers honour a stage's cores (StageDef.cores), against a real
 * redis-server on a loopback port: a worker with 2 cores never runs stages
 * needing more than 2 at once, runs a stage wider than itself alone, and never
 * claims a stage it cannot start while another worker could. Skipped, loudly,
 * where redis-server is not installed (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, tempDir, until } from './helpers.js';
import { hasRedis, startRedis } from './redis-server.js';

if (!hasRedis) console.warn('!!! redis-server not found: the queue worker cores tests are SKIPPED (apt-get install redis-server) !!!');

const PLUGIN = join(ROOT, 'test', 'fixtures', 'stages', 'cores-stages.mjs');

interface Proc { child: ChildProcess; out: string[]; exited: Promise<number | null>; text(): string }

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPECFLOW_PLUGINS: PLUGIN, FORCE_COLOR: '0' },
  });
  const out: string[] = [];
  child.stdout!.on('data', (d) => out.push(String(d)));
  child.stderr!.on('data', (d) => out.push(String(d)));
  const exited = new Promise<number | null>((res) => child.on('close', (code, signal) => res(signal ? 128 : code)));
  return { child, out, exited, text: () => out.join('') };
}

/** A pipeline of independent test.cores stages: id → parameters. */
function pipeline(dir: string, stages: Record<string, Record<string, unknown>>, name = 'cores'): string {
  const body = Object.entries(stages).map(([id, p]) => `  ${id}:\n    type: test.cores\n    with: ${JSON.stringify({ ...p, tag: id })}\n`).join('');
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nstages:\n${body}`);
  return file;
}

/** Replays a log of starts and ends: the most cores busy at once, and the most one-core stages running at once. */
function peaks(log: string): { cores: number; narrow: number; alone: string[] } {
  let cores = 0;
  let narrow = 0;
  const running = new Map<string, number>();
  const peak = { cores: 0, narrow: 0, alone: [] as string[] };
  const sharedWith = new Map<string, Set<string>>();
  for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
    const [what, id, n] = line.split(' ') as [string, string, string];
    if (what === 'start') {
      running.set(id, Number(n));
      cores += Number(n);
      if (Number(n) === 1) narrow++;
      sharedWith.set(id, new Set());
      for (const other of running.keys()) {
        if (other === id) continue;
        sharedWith.get(id)!.add(other);
        sharedWith.get(other)!.add(id);
      }
    } else {
      running.delete(id);
      cores -= Number(n);
      if (Number(n) === 1) narrow--;
    }
    peak.cores = Math.max(peak.cores, cores);
    peak.narrow = Math.max(peak.narrow, narrow);
  }
  peak.alone = [...sharedWith].filter(([, others]) => others.size === 0).map(([id]) => id).sort();
  return peak;
}

describe.skipIf(!hasRedis)('queue workers honour the cores of a stage (real redis-server)', () => {
  let redis: ChildProcess;
  let url = '';
  const procs: Proc[] = [];

  const worker = async (store: string, concurrency: number): Promise<Proc> => {
    const w = start(['--store', store, 'worker', '--redis', url, '--concurrency', String(concurrency), '--lock-duration', '2000', '--stalled-interval', '1000']);
    procs.push(w);
    await until('a worker to start', () => w.text().includes(' at a time, store '), 30_000, w.text);
    return w;
  };
  const stop = async (p: Proc): Promise<void> => {
    p.child.kill('SIGKILL');
    await p.exited;
  };

  beforeAll(async () => {
    ({ url, server: redis } = await startRedis());
  }, 30_000);

  afterAll(() => {
    for (const p of procs) p.child.kill('SIGKILL');
    redis?.kill('SIGTERM');
  });

  it('a worker of 2 cores never runs more than 2 cores of stages at once, runs a 3-core stage alone, and two 1-core stages side by side', async () => {
    const dir = tempDir('specflow-queue-cores-');
    const store = join(dir, 'store');
    const log = join(dir, 'log');
    const w = await worker(store, 2);
    const file = pipeline(dir, {
      w1: { cores: 2, ms: 200, log }, w2: { cores: 2, ms: 200, log }, w3: { cores: 2, ms: 200, log },
      wide: { cores: 3, ms: 200, log },
      // each waits (at most 10 s) until the other runs too: they overlap unless the worker serialises them
      n1: { cores: 1, ms: 50, log, meet: 2 }, n2: { cores: 1, ms: 50, log, meet: 2 },
    });
    const run = start(['--store', store, 'run', file, '--executor', 'queue', '--redis', url]);
    expect(await run.exited, run.text()).toBe(0);
    const p = peaks(log);
    expect(p.cores, readFileSync(log, 'utf8')).toBeLessThanOrEqual(3); // the 3-core stage alone counts 3
    expect(p.narrow, readFileSync(log, 'utf8')).toBe(2);
    // every 2- and 3-core stage ran with nothing beside it
    expect(p.alone).toEqual(['w1', 'w2', 'w3', 'wide']);
    await stop(w);
  }, 90_000);

  it('a busy worker does not claim a stage it cannot start: another worker that starts later takes it', async () => {
    const dir = tempDir('specflow-queue-cores-');
    const store = join(dir, 'store');
    const log = join(dir, 'log');
    const gate = join(dir, 'gate');
    const a = await worker(store, 2);
    const run = (file: string): Proc => start(['--store', store, 'run', file, '--executor', 'queue', '--redis', url]);
    const first = run(pipeline(dir, { hold: { cores: 1, ms: 0, log, gate } }, 'hold'));
    let second: Proc | undefined;
    try {
      await until('worker A to start the 1-core stage', () => /▶ hold /.test(a.text()), 30_000, a.text);
      // A has one core free: the 2-core stage must stay in the queue (A claiming it would hold it until the gate opens)
      second = run(pipeline(dir, { two: { cores: 2, ms: 50, log } }, 'two'));
      const { Queue } = await import('bullmq');
      const lane = new Queue('stages-2cores', { connection: { url, maxRetriesPerRequest: null }, prefix: 'specflow' });
      try {
        const end = Date.now() + 30_000;
        while ((await lane.getWaitingCount()) === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
        // A asks its lanes at least twice a second: give it time to claim wrongly
        await new Promise((r) => setTimeout(r, 1_500));
        expect(await lane.getWaitingCount()).toBe(1);
      } finally {
        await lane.close();
      }
      const b = await worker(store, 2);
      await until('worker B to compute the 2-core stage', () => /✓ two .* done /.test(b.text()), 30_000, () => a.text() + b.text() + second!.text());
      expect(a.text()).not.toMatch(/▶ two /);
    } finally {
      writeFileSync(gate, '');
    }
    expect(await first.exited, first.text()).toBe(0);
    expect(await second.exited, second.text()).toBe(0);
  }, 90_000);
});
