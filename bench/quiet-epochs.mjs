// Epoch times of one training that another process's CPU did not touch: per
// epoch the wall time, this process's CPU (the training threads and V8's
// helpers), the training thread's CPU, and the CPU every other process took
// meanwhile (the machine's busy time from /proc/stat minus this process's), so
// that on a shared machine the epochs nobody else ran in can be told apart and
// their wall times compared (a 2-thread/1-thread wall ratio from clean epochs
// only). Also prints the machine's idle time in each epoch: on 2 cores with
// 2 training threads, idle time is a thread waiting at a barrier or asleep.
// Linux only. Not part of `npm run bench`:
//
//   node bench/quiet-epochs.mjs [dense|conv1d|transformer] [BATCH=64] [THREADS=2] [EPOCHS=10]    (after `npm run build`)
//
// Env: BENCH_DIST (another build's dist/), QUIET_MS (others' CPU an epoch may have, default 20 ms),
// BENCH_RENICE=N (an experiment: after the first epoch, every thread of the process but the training threads —
// V8's helpers: JIT compilation, GC — gets nice N, so that they run when a core would otherwise idle).
// The first epoch (start-up, the team's workers starting) is not counted.
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchSpectra } from './training-data.mjs';

const DIST = process.env.BENCH_DIST ? pathToFileURL(resolve(process.env.BENCH_DIST)).href : new URL('../dist', import.meta.url).href;
const QUIET_MS = Number(process.env.QUIET_MS ?? 20);
const [arch = 'conv1d', batchArg = '64', threadsArg = '2', epochsArg = '10'] = process.argv.slice(2);
const { trainAutoencoder } = await import(`${DIST}/ml/train.js`);

/** The machine's busy and idle time over every CPU (ms): /proc/stat's first line, in USER_HZ ticks (10 ms). */
function machine() {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = v;
  return { busy: (user + nice + system + irq + softirq + steal) * 10, idle: (idle + iowait) * 10 };
}
/** CPU of this process's main thread (ms; /proc ticks). */
function mainCpu() {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
/** Gives every thread but the `threads` busiest (the training threads) nice `nice`. */
function renice(nice) {
  const cpu = (tid) => Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  const tids = readdirSync('/proc/self/task').map((tid) => ({ tid: Number(tid), cpu: cpu(tid) })).sort((p, q) => q.cpu - p.cpu);
  for (const { tid } of tids.slice(Number(threadsArg))) setPriority(tid, nice);
  console.log(`niced ${tids.length - Number(threadsArg)} threads to ${nice}, kept ${tids.slice(0, Number(threadsArg)).map((t) => t.tid).join(', ')} (the busiest)`);
}
const snap = () => { const c = process.cpuUsage(); return { t: performance.now(), cpu: (c.user + c.system) / 1e3, main: mainCpu(), ...machine() }; };
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const marks = [snap()];
await trainAutoencoder({ n, d, x: benchSpectra(n, d) }, {
  arch, latentDim: 8, epochs: Number(epochsArg), batchSize: Number(batchArg), validation: 0, seed: 1, threads: Number(threadsArg),
  onEpoch: () => { marks.push(snap()); if (marks.length === 2 && process.env.BENCH_RENICE) renice(Number(process.env.BENCH_RENICE)); },
});
console.log(`${arch}, batch ${batchArg}, ${threadsArg} thread(s)${process.env.BENCH_DIST ? ` (${process.env.BENCH_DIST})` : ''}: ms per epoch`);
console.log('  epoch    wall  process cpu  main cpu  others\' cpu  idle');
const clean = [];
for (let e = 2; e < marks.length; e++) {
  const [a, b] = [marks[e - 1], marks[e]];
  const cpu = b.cpu - a.cpu;
  // /proc/stat counts in 10 ms ticks: a few ticks of error an epoch
  const others = Math.max(0, b.busy - a.busy - cpu);
  const row = { wall: b.t - a.t, cpu, main: b.main - a.main, others, idle: b.idle - a.idle };
  if (others <= QUIET_MS) clean.push(row);
  console.log(`  ${String(e).padStart(5)} ${row.wall.toFixed(0).padStart(7)} ${cpu.toFixed(0).padStart(12)} ${row.main.toFixed(0).padStart(9)} ${others.toFixed(0).padStart(12)} ${row.idle.toFixed(0).padStart(5)}${others <= QUIET_MS ? '  clean' : ''}`);
}
const median = (v) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
if (clean.length) console.log(`clean epochs (others' CPU ≤ ${QUIET_MS} ms): ${clean.length}; median wall ${median(clean.map((r) => r.wall)).toFixed(0)} ms, process cpu ${median(clean.map((r) => r.cpu)).toFixed(0)}, main cpu ${median(clean.map((r) => r.main)).toFixed(0)}, idle ${median(clean.map((r) => r.idle)).toFixed(0)}`);
else console.log(`no clean epoch (others' CPU ≤ ${QUIET_MS} ms): the machine was busy`);
