// Data-parallel training (train.autoencoder's `threads:`): seconds per
// steady-state epoch of trainAutoencoder with 1 and with 2 threads, for the
// dense AE (4000 × 1024, batch 256) and the Conv-1D and Transformer defaults
// (1000 × 512, batch 256), and the ratio 2 threads / 1 thread.
//
//   node bench/run.mjs train-threads      (after `npm run build`)
//
// Options (env): BENCH_EPOCHS (epochs per run, default 4; the first is
// start-up and is not counted), BENCH_ARCHS (e.g. dense,conv1d), BENCH_BATCH
// (another batch size for every case: where sharing a batch starts to gain),
// BENCH_DIST (the specflow build to time, default this checkout's dist/: e.g. an
// older commit's, for before/after), BENCH_NOISE (poisson or gaussian: train as
// a denoising AE, whose noise is drawn while preparing each mini-batch).
//
// Three clocks per run, each per steady-state epoch:
//   wall      — what a user waits; meaningless on a loaded machine.
//   cpu       — process CPU time, every thread (V8's helpers and the training
//               workers included): the cost; with 2 threads it is ≥ 1 thread's.
//   main cpu  — CPU time of the training thread alone (/proc/self/task/PID/stat):
//               it computes shard 0 and then sums, steps Adam and publishes the
//               weights, so on a quiet machine wall ≈ main cpu + time waiting for
//               the slower worker. Its ratio to 1 thread is the best estimate of
//               the speed-up that a loaded machine still gives.
// Each (architecture, threads) runs in its own child process (a fresh tfjs).
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';

const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 4);
const CASES = {
  dense: { n: 4000, d: 1024, batch: 256 },
  conv1d: { n: 1000, d: 512, batch: 256 },
  transformer: { n: 1000, d: 512, batch: 256 },
};
if (process.env.BENCH_BATCH) for (const c of Object.values(CASES)) c.batch = Number(process.env.BENCH_BATCH);
const ARCHS = (process.env.BENCH_ARCHS ?? Object.keys(CASES).join(',')).split(',');
const DIST = process.env.BENCH_DIST ? pathToFileURL(resolve(process.env.BENCH_DIST)).href : new URL('../dist', import.meta.url).href;
const NOISE = process.env.BENCH_NOISE;

/** CPU seconds of this process's main thread (utime + stime in clock ticks, 100 per second on Linux). */
function mainThreadCpu() {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function child({ arch, threads }) {
  const { trainAutoencoder } = await import(`${DIST}/ml/train.js`);
  const { n, d, batch } = CASES[arch];
  // deterministic smooth positive "spectra" (values do not affect speed)
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = 1 + Math.sin(j * 0.05 + i * 0.3) + 0.1 * ((i * 7919 + j * 104729) % 97) / 97;
  const marks = [];
  const mark = () => marks.push({ wall: performance.now() / 1000, cpu: process.cpuUsage(), main: mainThreadCpu() });
  mark();
  await trainAutoencoder({ n, d, x }, {
    arch, latentDim: 8, epochs: EPOCHS, batchSize: batch, validation: 0, seed: 1, threads,
    ...(NOISE ? { denoise: { noise: NOISE } } : {}),
    onEpoch: () => mark(),
  });
  const first = marks[1];
  const last = marks[marks.length - 1];
  const epochs = marks.length - 2;
  const cpu = (last.cpu.user + last.cpu.system - first.cpu.user - first.cpu.system) / 1e6;
  console.log(JSON.stringify({ wall: (last.wall - first.wall) / epochs, cpu: cpu / epochs, main: (last.main - first.main) / epochs }));
}

function run(cfg) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(cfg)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cfg.arch} × ${cfg.threads}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

if (process.argv[2] === '--child') {
  await child(JSON.parse(process.argv[3]));
} else {
  console.log(`trainAutoencoder${DIST.endsWith('/dist') && !process.env.BENCH_DIST ? '' : ` (${DIST})`}${NOISE ? `, ${NOISE} noise` : ''}, seconds per steady-state epoch (${EPOCHS - 1} epochs after the first), load average ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
  console.log('arch         data        batch  threads   wall     cpu  main cpu');
  for (const arch of ARCHS) {
    const { n, d, batch } = CASES[arch];
    const res = {};
    for (const threads of [1, 2]) {
      res[threads] = run({ arch, threads });
      const r = res[threads];
      console.log(`${arch.padEnd(12)} ${`${n}×${d}`.padEnd(11)} ${String(batch).padStart(5)} ${String(threads).padStart(8)} ${r.wall.toFixed(3).padStart(6)} ${r.cpu.toFixed(3).padStart(7)} ${r.main.toFixed(3).padStart(9)}`);
    }
    const ratio = (k) => (res[2][k] / res[1][k]).toFixed(2);
    console.log(`${arch.padEnd(12)} 2 threads / 1 thread: wall ${ratio('wall')}, cpu ${ratio('cpu')}, main cpu ${ratio('main')}`);
  }
  console.log(`load average now ${loadavg().map((v) => v.toFixed(1)).join(' ')} (2 cores: above ~2 the wall figures are not the machine's)`);
}
