// Executors: the per-stage overhead of the queue executor (BullMQ on a real
// redis-server, one `specflow worker`) against the local executor on a 10-stage
// chain of trivial stages, and the wall time of an 8-variant training sweep on
// the queue with 1 and with 2 workers. Both baselines are measured in this run.
// Needs redis-server (apt-get install redis-server); says so and stops otherwise.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const plugin = join(root, 'test', 'fixtures', 'stages', 'test-stages.mjs');
const env = { ...process.env, SPECFLOW_PLUGINS: plugin };
if (spawnSync('redis-server', ['--version']).status !== 0) {
  console.log('redis-server not installed (apt-get install redis-server): executor benchmarks not run');
  process.exit(0);
}
const work = mkdtempSync(join(tmpdir(), 'specflow-bench-exec-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const port = await new Promise((res) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const url = `redis://127.0.0.1:${port}`;
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
redis.on('exit', (code, signal) => { if (!stopping) console.log(`!!! redis-server exited (${signal ?? code}) during the benchmark`); });
let stopping = false;

async function startWorkers(n, store) {
  const ws = Array.from({ length: n }, () => {
    const w = spawn(process.execPath, [cli, '--store', store, 'worker', '--redis', url], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    w.log = '';
    w.stdout.on('data', (d) => { w.log += d; });
    return w;
  });
  const end = Date.now() + 30_000;
  while (!ws.every((w) => w.log.includes(' at a time, store '))) {
    if (Date.now() > end) throw new Error('workers did not start');
    await sleep(50);
  }
  return ws;
}
async function stopWorkers(ws) {
  await Promise.all(ws.map((w) => new Promise((r) => {
    if (w.exitCode !== null || w.signalCode !== null) return r();
    w.on('close', r);
    w.kill('SIGTERM');
  })));
}
/** Coordinator wall time, and the run's own seconds from its record (no Node start-up). */
function run(file, store, args = []) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, '--store', store, 'run', file, ...args], { env, encoding: 'utf8', cwd: work });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`run failed:\n${r.stderr}`);
  const id = readFileSync(join(store, 'latest'), 'utf8').trim();
  return { wall, seconds: JSON.parse(readFileSync(join(store, 'runs', `${id}.json`), 'utf8')).seconds };
}

try {
  await sleep(300);
  // 1. ten trivial stages, each waiting for the previous one; fresh keys every run (--set n=…)
  const chain = join(work, 'chain.yaml');
  writeFileSync(chain, ['name: chain', 'seed: 1', 'params: { n: 20 }', 'stages:', '  s0: { type: test.rows, with: { n: "${n}" } }',
    ...Array.from({ length: 9 }, (_, i) => `  s${i + 1}: { type: test.sum, in: s${i}, with: { column: ${i === 0 ? 'x' : 'total'} } }`), ''].join('\n'));
  const reps = 5;
  const local = [];
  const queued = [];
  for (let i = 0; i < reps; i++) local.push(run(chain, join(work, `l${i}`), ['--set', `n=${30 + i}`]).seconds);
  const qStore = join(work, 'q');
  const ws = await startWorkers(1, qStore);
  run(chain, qStore, ['--executor', 'queue', '--redis', url, '--set', 'n=21']); // warm-up: the worker's thread and imports
  for (let i = 0; i < reps; i++) queued.push(run(chain, qStore, ['--executor', 'queue', '--redis', url, '--set', `n=${30 + i}`]).seconds);
  await stopWorkers(ws);
  const l = median(local) / 10 * 1000;
  const q = median(queued) / 10 * 1000;
  console.log(`10-stage chain of trivial stages (median of ${reps} runs each, the run's own time without Node start-up; queue worker warmed up):`);
  console.log(`  local ${l.toFixed(1)} ms/stage, queue (1 worker) ${q.toFixed(1)} ms/stage → queue overhead ${(q - l).toFixed(1)} ms per stage`);

  // 2. an 8-variant sweep of small trainings on 1 and on 2 workers, interleaved so each pair saw the same machine
  const sweep = join(root, 'test', 'fixtures', 'pipelines', 'queue-sweep.yaml');
  const pairs = [];
  for (let rep = 0; rep < 2; rep++) {
    const pair = {};
    for (const n of [1, 2]) {
      const store = join(work, `sweep-${n}-${rep}`);
      const ws = await startWorkers(n, store);
      pair[n] = run(sweep, store, ['--executor', 'queue', '--redis', url, '--set', 'epochs=600']).wall;
      await stopWorkers(ws);
    }
    pairs.push(pair);
  }
  console.log('8-variant sweep (20 stages, 8 dense-AE trainings of 600 epochs) on the queue, coordinator wall time:');
  for (const [i, p] of pairs.entries()) console.log(`  run ${i + 1}: 1 worker ${p[1].toFixed(1)} s, 2 workers ${p[2].toFixed(1)} s → wall(2)/wall(1) = ${(p[2] / p[1]).toFixed(2)}`);
} finally {
  stopping = true;
  redis.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
