// Garbage collection and JIT compilation of a training, isolate by isolate and
// epoch by epoch: runs bench/helpers-per-epoch.mjs in a child `node --trace-gc
// --trace-opt` and sums V8's own lines — each isolate's scavenges and
// mark-compacts (count and pause ms; the main-thread pause each reports) and
// the TurboFan compilations (count and background ms, all isolates together:
// --trace-opt does not say which isolate compiled). The first isolate to
// collect is the training thread's (it exists first), the next its worker's.
// Counts and pauses do not depend on the machine's load the way wall times
// do. Not part of `npm run bench`:
//
//   node bench/team-gc-jit.mjs [dense|conv1d|transformer] [THREADS=2] [EPOCHS=8]    (after `npm run build`)
//
// Env: BENCH_V8_FLAGS (more V8 flags for the child, e.g. "--no-allocation-site-pretenuring"); the child
// inherits the environment (SPECFLOW_THREADS etc.).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [arch = 'dense', threads = '2', epochs = '8'] = process.argv.slice(2);
const script = fileURLToPath(new URL('./helpers-per-epoch.mjs', import.meta.url));
const flags = ['--trace-gc', '--trace-opt', ...(process.env.BENCH_V8_FLAGS ?? '').split(/\s+/).filter(Boolean)];
const child = spawnSync(process.execPath, [...flags, script, arch, threads, epochs], {
  env: { ...process.env, MARK: '1' }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024,
});
if (child.status !== 0) {
  process.stderr.write(child.stderr);
  throw new Error(`the training exited with ${child.status}`);
}

/** Per epoch (1 = start-up and the first epoch): isolate → { scavenge: [count, ms], markCompact: [count, ms] }; TurboFan [count, ms]. */
const gc = new Map();
const jit = new Map();
const isolates = [];
let epoch = 1;
const add = (map, key, ms) => {
  const v = map.get(key) ?? [0, 0];
  map.set(key, [v[0] + 1, v[1] + ms]);
};
for (const line of child.stdout.split('\n')) {
  const mark = /^MARK epoch (\d+)/.exec(line);
  if (mark) {
    epoch = Number(mark[1]) + 1;
    continue;
  }
  const g = /^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: (Scavenge|Mark-Compact)\b.*?MB, ([\d.]+) \//.exec(line);
  if (g) {
    if (!isolates.includes(g[1])) isolates.push(g[1]);
    const thread = isolates.indexOf(g[1]);
    add(gc, `${epoch} ${thread} ${g[2]}`, Number(g[3]));
    continue;
  }
  const c = /completed compiling .*\(target TURBOFAN\).* took ([\d.]+), ([\d.]+), ([\d.]+) ms/.exec(line);
  if (c) add(jit, epoch, Number(c[2]));
}
const last = Number(epochs);
const cell = (v) => (v ? `${String(v[0]).padStart(3)} ${v[1].toFixed(1).padStart(6)}` : `${'0'.padStart(3)} ${'0.0'.padStart(6)}`);
const name = (t) => (t === 0 ? 'training thread' : `worker ${t}`);
console.log(`${arch}, batch 256, ${threads} thread(s): per epoch, count and ms (GC: main-thread pause; TurboFan: background compile)`);
console.log(`epoch  ${isolates.map((_, t) => `${name(t)}: scavenge | mark-compact`.padEnd(44)).join('')}TurboFan (all)`);
const total = { gc: isolates.map(() => [[0, 0], [0, 0]]), jit: [0, 0] };
for (let e = 1; e <= last; e++) {
  const cols = isolates.map((_, t) => {
    const s = gc.get(`${e} ${t} Scavenge`);
    const m = gc.get(`${e} ${t} Mark-Compact`);
    if (e > 1) {
      for (const [i, v] of [s, m].entries()) if (v) { total.gc[t][i][0] += v[0]; total.gc[t][i][1] += v[1]; }
    }
    return `${cell(s)} | ${cell(m)}`.padEnd(44);
  });
  const j = jit.get(e);
  if (e > 1 && j) { total.jit[0] += j[0]; total.jit[1] += j[1]; }
  console.log(`${String(e === 1 ? '1+' : e).padStart(5)}  ${cols.join('')}${cell(j)}`);
}
const per = (v) => `${(v[0] / (last - 1)).toFixed(2)} a ${(v[1] / (last - 1)).toFixed(1)} ms`;
console.log(`epochs 2–${last}, per epoch:`);
isolates.forEach((_, t) => console.log(`  ${name(t)}: scavenges ${per(total.gc[t][0])}, mark-compacts ${per(total.gc[t][1])}`));
console.log(`  TurboFan compilations ${per(total.jit)}`);
console.log(child.stdout.split('\n').filter((l) => /wall ms per epoch|^\s+epoch\s+[\d+]+:/.test(l)).join('\n'));
