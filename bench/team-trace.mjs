// Where a data-parallel training step's wall time goes, phase by phase and
// thread by thread, from the team's own timestamps (SPECFLOW_TEAM_TRACE,
// src/ml/parallel/trace.ts): each thread's forward/backward pass, copying its
// gradients out, waiting for the others' gradients, summing its own tensors'
// gradients with Adam and publishing them, waiting for the others' weights,
// loading them, and the gaps between steps — with who waited for whom, and how
// long a flag took to wake its waiter. The first epoch (start-up, compilation)
// is left out. Not part of `npm run bench`:
//
//   node bench/team-trace.mjs [dense|conv1d|transformer] [BATCH=256] [THREADS=2]    (after `npm run build`)
//
// Env: BENCH_EPOCHS (default 4), BENCH_DIST (another build's dist/, for before/after). Also prints the
// OS threads' CPU per epoch (./os-threads.mjs): on a loaded machine the phases' milliseconds include
// preemption; the CPU figures do not.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeThreads, osThreads, threadsPerEpoch } from './os-threads.mjs';
import { benchSpectra } from './training-data.mjs';

const DIST = process.env.BENCH_DIST ? pathToFileURL(resolve(process.env.BENCH_DIST)).href : new URL('../dist', import.meta.url).href;
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 4);
const [arch = 'dense', batchArg = '256', threadsArg = '2'] = process.argv.slice(2);
const batch = Number(batchArg);
const threads = Number(threadsArg);

const dir = mkdtempSync(join(tmpdir(), 'specflow-trace-'));
const file = join(dir, 'trace.json');
process.env.SPECFLOW_TEAM_TRACE = file;
const { trainAutoencoder } = await import(`${DIST}/ml/train.js`);
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const marks = [];
const mark = () => marks.push({ t: performance.now(), cpu: process.cpuUsage(), os: osThreads() });
mark();
await trainAutoencoder({ n, d, x: benchSpectra(n, d) }, {
  arch, latentDim: 8, epochs: EPOCHS, batchSize: batch, validation: 0, seed: 1, threads, onEpoch: () => mark(),
});
const a = marks[1];
const b = marks.at(-1);
const epochs = marks.length - 2;
const stepsPerEpoch = Math.ceil(n / batch);
console.log(`${arch}, batch ${batch}, ${threads} thread(s): ${((b.t - a.t) / epochs).toFixed(0)} ms wall, ${((b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1e3 / epochs).toFixed(0)} ms process CPU per steady epoch (${epochs} epochs of ${stepsPerEpoch} steps)`);
for (const line of describeThreads(threadsPerEpoch(a.os, b.os, epochs))) console.log(line);

if (threads > 1) {
  const trace = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  const P = Object.fromEntries(trace.phases.map((p, i) => [p, i + 1]));
  // steps every thread went through (checks and evaluations have no marks), the first epoch's left out
  const complete = (r) => r[P.start] > 0 && r[P.end] > 0;
  const bySteps = trace.threads.map((rows) => new Map(rows.filter(complete).map((r) => [r[0], r])));
  const steps = [...bySteps[0].keys()].filter((s) => bySteps.every((m) => m.has(s))).slice(stepsPerEpoch);
  const stats = new Map();
  const add = (key, v) => { if (!stats.has(key)) stats.set(key, []); stats.get(key).push(v); };
  let previous;
  for (const s of steps) {
    const rows = bySteps.map((m) => m.get(s));
    const at = (t, p) => rows[t][P[p]];
    const lastReady = Math.max(...rows.map((_, t) => at(t, 'ready')));
    const lastPublished = Math.max(...rows.map((_, t) => at(t, 'published')));
    for (let t = 0; t < threads; t++) {
      const who = t === 0 ? 'training thread' : `worker ${t}`;
      if (previous && previous.has(t)) add(`${who}: before the step (${t === 0 ? 'train.ts between steps' : 'asleep until handed the step'})`, at(t, 'start') - previous.get(t));
      add(`${who}: forward, backward`, at(t, 'gradient') - at(t, 'start'));
      add(`${who}: gradients out`, at(t, 'ready') - at(t, 'gradient'));
      add(`${who}: wait for the others' gradients`, at(t, 'allReady') - at(t, 'ready'));
      add(`${who}:   of which after the last READY (wake-up)`, at(t, 'allReady') - Math.max(lastReady, at(t, 'ready')));
      add(`${who}: sum, Adam, publish own tensors`, at(t, 'published') - at(t, 'allReady'));
      add(`${who}: wait for the others' weights`, at(t, 'allPublished') - at(t, 'published'));
      add(`${who}:   of which after the last PUBLISHED (wake-up)`, at(t, 'allPublished') - Math.max(lastPublished, at(t, 'published')));
      if (t === 0) add(`${who}: hand the next step over`, at(t, 'handedOver') - at(t, 'allPublished'));
      add(`${who}: load the others' tensors${t === 0 ? ', batch-norm running moments' : ''}`, at(t, 'end') - (t === 0 ? at(t, 'handedOver') : at(t, 'allPublished')));
    }
    if (previous) add('step (training thread end to end)', at(0, 'end') - previous.get(0));
    const before = bySteps[0].get(s - 1);
    // the training thread hands the next step over once every thread has published this one
    if (before) for (let t = 1; t < threads; t++) add(`worker ${t}: woke this long after the training thread passed the last PUBLISHED`, at(t, 'start') - before[P.allPublished]);
    previous = new Map(rows.map((r, t) => [t, r[P.end]]));
  }
  const median = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
  const mean = (v) => v.reduce((x, y) => x + y, 0) / v.length;
  console.log(`per steady step (${steps.length} steps), ms:   median     mean`);
  for (const [k, v] of stats) console.log(`  ${median(v).toFixed(2).padStart(8)} ${mean(v).toFixed(2).padStart(8)}  ${k}`);
} else {
  rmSync(dir, { recursive: true, force: true });
}
