// The CPU of every OS thread of a training, epoch by epoch (ms): the training
// thread and its workers (the busiest), and V8/Node's helper threads (the 4
// platform threads every isolate of the process shares for background JIT
// compilation and GC). Shows how long each isolate's JIT warm-up keeps the
// helpers busy, which on two cores with two training threads is CPU taken from
// the training. V8 flags go before the script (`node --no-turbo-inlining
// bench/helpers-per-epoch.mjs ...`). Not part of `npm run bench`:
//
//   node bench/helpers-per-epoch.mjs [dense|conv1d|transformer] [THREADS=2] [EPOCHS=16] [BATCH=256]    (after `npm run build`)
//
// BATCH (or BENCH_BATCH=N): mini-batches of that many rows (default 256).
// MARK=1 prints `MARK epoch N` as each epoch ends, to place V8's --trace-opt / --trace-deopt lines by epoch.
// The first row is the start-up (the team's workers) with the first epoch.
import { osThreads } from './os-threads.mjs';
import { benchSpectra } from './training-data.mjs';

const { trainAutoencoder } = await import('../dist/ml/train.js');
const [arch = 'dense', threads = '2', epochs = '16', batch = process.env.BENCH_BATCH ?? '256'] = process.argv.slice(2);
const MARK = process.env.MARK === "1";
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const snaps = [Object.assign(osThreads(), { t: performance.now() })];
const cpu0 = process.cpuUsage();
await trainAutoencoder({ n, d, x: benchSpectra(n, d) }, {
  arch, latentDim: 8, epochs: Number(epochs), batchSize: Number(batch), validation: 0, seed: 1, threads: Number(threads), onEpoch: (i) => { snaps.push(Object.assign(osThreads(), { t: performance.now() })); if (MARK) console.log(`MARK epoch ${i.epoch}`); },
});
const total = process.cpuUsage(cpu0);
console.log(`${arch}, batch ${batch}, ${threads} thread(s): wall ms per epoch; CPU ms per epoch, training threads | helper threads`
  + ` (process CPU in all ${((total.user + total.system) / 1e3).toFixed(0)} ms)`);
for (let e = 1; e < snaps.length; e++) {
  const rows = [...snaps[e]].map(([tid, v]) => ({ comm: v.comm, cpu: v.cpu - (snaps[e - 1].get(tid)?.cpu ?? 0) })).filter((r) => r.cpu > 0.5);
  const top = Math.max(...rows.map((r) => r.cpu));
  const training = rows.filter((r) => r.cpu >= top / 4);
  const helpers = rows.filter((r) => r.cpu < top / 4);
  console.log(`  epoch ${e === 1 ? ' 1+' : String(e).padStart(3)}: ${(snaps[e].t - snaps[e - 1].t).toFixed(0).padStart(4)} wall; ${training.map((r) => r.cpu.toFixed(0)).join(' ')} | ${helpers.reduce((s, r) => s + r.cpu, 0).toFixed(0)} (${helpers.map((r) => r.cpu.toFixed(0)).join(' ')})`);
}
