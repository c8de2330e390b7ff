// Where the time of data-parallel training goes, thread by thread: runs
// trainAutoencoder under V8's sampling profiler (`node --cpu-prof`, one
// profile per thread, the workers included) and sorts each thread's samples
// of the steady-state epochs (the first epoch, start-up, is left out) into
// phases of a step by the innermost function of the training code on the
// stack: the shard's gradient, copying it out, waiting at each barrier, summing
// the owned tensors' gradients, Adam, publishing and loading the weights, the
// next batch's preparation, garbage collection… Samples are wall-clock, so a
// thread blocked in Atomics.wait or idle in the event loop is counted too:
// that is the point (time at barriers). Not part of `npm run bench`:
//
//   node bench/train-threads-profile.mjs [dense|conv1d|transformer] [BATCH] [THREADS]    (after `npm run build`)
//
// Env: BENCH_EPOCHS (default 4), TOP=N (each thread's N busiest functions), BENCH_NOISE (poisson|gaussian: a denoising AE),
// BENCH_DIST (another build's dist/, for before/after), PROFILE_INTERVAL (µs, default 250; 0: no profiler). On a loaded
// machine the shares of a phase still say where the time goes; its milliseconds do not.
//
// It also prints each OS thread's CPU time, time waiting for a CPU and context switches per epoch (./os-threads.mjs):
// samples are wall-clock, so a thread that was preempted looks as slow as one that computes slowly; its CPU time
// tells them apart. The profiler perturbs what it measures on two cores: each profiled thread has a sampling thread
// (v8:ProfEvntProc) that wakes at every sample (4000 times a second at 250 µs), and those and V8's helper threads
// (JIT compilation, GC) take their CPU from the two training threads; PROFILE_INTERVAL=0 shows the threads unprofiled.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeThreads, osThreads, threadsPerEpoch } from './os-threads.mjs';

const DIST = process.env.BENCH_DIST ? pathToFileURL(resolve(process.env.BENCH_DIST)).href : new URL('../dist', import.meta.url).href;
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 4);
/** TOP=N also lists each thread's N functions with the most self time. */
const TOP = Number(process.env.TOP ?? 0);
/** PROFILE_INTERVAL=µs between samples (250); 0 runs the training unprofiled, for the OS threads' figures alone. */
const PROFILE_INTERVAL = Number(process.env.PROFILE_INTERVAL ?? 250);

/** Innermost function of the training code on a sample's stack → the phase it belongs to. */
const PHASES = {
  '(garbage collector)': 'gc',
  '(idle)': 'idle (event loop)',
  reach: 'wait at a barrier',
  awaitAll: 'wait at a barrier',
  wait: 'wait at a barrier',
  batchAt: 'next batch (rows, noise)',
  addNoise: 'next batch (rows, noise)',
  shardGradient: 'shard gradient (forward, backward)',
  writeShard: 'gradients → shared',
  summedGradient: 'sum of the shards\' gradients',
  applyGradients: 'Adam',
  saveWeights: 'publish weights',
  loadWeights: 'load others\' weights',
  updateNorms: 'batch-norm running stats',
  sameWeights: 'replica check',
  checkWeights: 'finite-weights check',
  evaluate: 'evaluation',
  minimize: 'one-thread step (minimize)',
  computeGradients: 'one-thread step (minimize)',
};

async function child(arch, batch, threads) {
  const { trainAutoencoder } = await import(`${DIST}/ml/train.js`);
  const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = 1 + Math.sin(j * 0.05 + i * 0.3) + 0.1 * ((i * 7919 + j * 104729) % 97) / 97;
  const marks = [];
  // CLOCK_MONOTONIC in µs: the clock of the profiles' timestamps
  const mark = () => marks.push({ t: Number(process.hrtime.bigint() / 1000n), cpu: process.cpuUsage(), os: osThreads() });
  mark();
  await trainAutoencoder({ n, d, x }, {
    arch, latentDim: 8, epochs: EPOCHS, batchSize: batch, validation: 0, seed: 1, threads,
    ...(process.env.BENCH_NOISE ? { denoise: { noise: process.env.BENCH_NOISE } } : {}),
    onEpoch: () => mark(),
  });
  const a = marks[1];
  const b = marks[marks.length - 1];
  const epochs = marks.length - 2;
  console.log(JSON.stringify({ from: a.t, to: b.t, epochs, cpu: (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1e3, threads: threadsPerEpoch(a.os, b.os, epochs) }));
}

/** Milliseconds per phase of one profile's samples within [from, to] (µs). */
function phases(profile, from, to) {
  const byId = new Map(profile.nodes.map((nd) => [nd.id, nd]));
  const parent = new Map();
  for (const nd of profile.nodes) for (const c of nd.children ?? []) parent.set(c, nd.id);
  const phaseOf = new Map();
  const resolvePhase = (id) => {
    if (phaseOf.has(id)) return phaseOf.get(id);
    const name = byId.get(id).callFrame.functionName;
    const p = PHASES[name] ?? (parent.has(id) ? resolvePhase(parent.get(id)) : 'other');
    phaseOf.set(id, p);
    return p;
  };
  const out = new Map();
  const self = new Map();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i];
    t += dt;
    if (t < from || t > to) continue;
    const p = resolvePhase(profile.samples[i]);
    out.set(p, (out.get(p) ?? 0) + dt / 1000);
    const f = byId.get(profile.samples[i]).callFrame;
    const key = `${p} | ${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt / 1000);
  }
  return { out, self };
}

const [arch = 'dense', batchArg = '256', threadsArg = '2'] = process.argv.slice(2);
if (arch === '--child') {
  await child(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'specflow-prof-'));
  try {
    const profiler = PROFILE_INTERVAL > 0 ? ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', String(PROFILE_INTERVAL)] : [];
    const r = spawnSync(process.execPath, [...profiler, fileURLToPath(import.meta.url), '--child', arch, batchArg, threadsArg], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    const { from, to, epochs, cpu, threads } = JSON.parse(r.stdout.trim().split('\n').pop());
    console.log(`${arch}, batch ${batchArg}, ${threadsArg} thread(s): ${((to - from) / 1000 / epochs).toFixed(0)} ms wall, ${(cpu / epochs).toFixed(0)} ms process CPU per steady epoch (${epochs} epochs)`);
    console.log(`OS threads${PROFILE_INTERVAL > 0 ? ` (profiled every ${PROFILE_INTERVAL} µs)` : ' (not profiled)'}:`);
    for (const line of describeThreads(threads)) console.log(line);
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
    for (const f of files) {
      const prof = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      const { out: ph, self } = phases(prof, from, to);
      const total = [...ph.values()].reduce((s, v) => s + v, 0);
      if (total === 0) continue;
      // the file name's thread id: 0 for the main thread
      const tid = f.split('.').at(-3);
      console.log(`thread ${tid}: ${(total / epochs).toFixed(0)} ms sampled per epoch`);
      for (const [p, ms] of [...ph].sort((x, y) => y[1] - x[1])) {
        console.log(`  ${(ms / epochs).toFixed(1).padStart(7)} ms ${(100 * ms / total).toFixed(0).padStart(3)}%  ${p}`);
      }
      if (TOP > 0) {
        console.log(`  top functions by self time (phase | function):`);
        for (const [k, ms] of [...self].sort((x, y) => y[1] - x[1]).slice(0, TOP)) console.log(`    ${(ms / epochs).toFixed(1).padStart(7)} ms  ${k}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
