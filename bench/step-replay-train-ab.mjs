// Whole trainings with and without replayed steps (SPECFLOW_STEP_REPLAY=0 / 1), alternating in one
// process (the order rotating every pair): process CPU time (process.cpuUsage, every thread of the
// process, so a training team's workers count too) of the epochs after the first, per epoch. Not part of
// `npm run bench` (no .bench.mjs suffix):
//
//   nice -n 10 node bench/step-replay-train-ab.mjs [dense|conv1d|transformer] [BATCH=64] [THREADS=1] [PAIRS=3] [EPOCHS=4]
//
// Data as bench/kernel-profile.mjs's: dense 4000 spectra × 1024, the others 1000 × 512, 10 % held out.
import { trainAutoencoder } from '../dist/ml/train.js';
import { benchSpectra } from './training-data.mjs';

const arch = process.argv[2] ?? 'transformer';
const batchSize = Number(process.argv[3] ?? 64);
const threads = Number(process.argv[4] ?? 1);
const pairs = Number(process.argv[5] ?? 3);
const epochs = Number(process.argv[6] ?? 4);
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const x = benchSpectra(n, d);
const cpu = () => { const c = process.cpuUsage(); return c.user + c.system; };

async function epochCpu(replay) {
  process.env.SPECFLOW_STEP_REPLAY = replay; // read when a training starts (its workers inherit it)
  let from = 0;
  let to = 0;
  await trainAutoencoder({ n, d, x }, {
    arch, latentDim: 8, epochs, batchSize, threads, seed: 1, patience: epochs,
    onEpoch: ({ epoch }) => { if (epoch === 1) from = cpu(); to = cpu(); },
  }).then((r) => r.model.dispose());
  return (to - from) / (epochs - 1) / 1000;
}

const ms = { off: [], on: [] };
for (let p = 0; p < pairs; p++) {
  for (const way of p % 2 ? ['on', 'off'] : ['off', 'on']) ms[way].push(await epochCpu(way === 'on' ? '1' : '0'));
}
const median = (a) => { const s = [...a].sort((p, q) => p - q); return s[s.length >> 1]; };
const ratios = ms.on.map((v, i) => v / ms.off[i]);
console.log(`${arch} batch ${batchSize}, ${threads} thread(s): CPU ms per epoch without replay ${ms.off.map((v) => v.toFixed(0)).join(' / ')}, `
  + `with ${ms.on.map((v) => v.toFixed(0)).join(' / ')}; with/without per pair ${ratios.map((r) => r.toFixed(3)).join(' / ')} (median ${median(ratios).toFixed(3)})`);
