// Where a training step's time goes: every wasm kernel wrapped with a timer
// (process CPU time, exclusive of the kernels it calls), over two steady
// epochs of trainAutoencoder (the first epoch, start-up, is not counted, nor
// is the final check of the weights after the last epoch, an inference pass
// over the training set that the benches' epoch times leave out too; FINAL=1
// counts it). Not part of `npm run bench` (no .bench.mjs suffix):
//
//   node bench/kernel-profile.mjs [dense|conv1d|transformer] [BATCH]     (after `npm run build`)
//
// SHAPES=1 splits each kernel by its first input's shape; TOP=N rows (30).
// "rest" is CPU time outside kernels: tfjs's bookkeeping, autodiff, the loop.
import { getTf } from '../dist/ml/engine.js';
import { trainAutoencoder } from '../dist/ml/train.js';
import { benchSpectra } from './training-data.mjs';
import { timeKernels } from './wrap-kernels.mjs';

const arch = process.argv[2] ?? 'dense';
const bs = Number(process.argv[3] ?? 256);
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const { tf } = await getTf();
const stats = new Map();
let on = false;
const ms = (c) => (c.user + c.system) / 1e3;
timeKernels(tf, (name, args, dt) => {
  // (the shape's string only when asked for: built on every call it lands in "rest")
  const key = process.env.SHAPES ? `${name} ${Object.values(args.inputs ?? {})[0]?.shape?.join('×') ?? ''}` : name;
  const s = stats.get(key) ?? { calls: 0, ms: 0 };
  s.calls++;
  s.ms += dt;
  stats.set(key, s);
}, () => on);
const x = benchSpectra(n, d);
let c0;
let total;
await trainAutoencoder({ n, d, x }, {
  arch, latentDim: 8, epochs: 3, batchSize: bs, validation: 0, seed: 1,
  onEpoch: ({ epoch }) => {
    if (epoch === 1) {
      on = true;
      c0 = process.cpuUsage();
    } else if (epoch === 3 && !process.env.FINAL) {
      on = false;
      total = ms(process.cpuUsage(c0));
    }
  },
});
total ??= ms(process.cpuUsage(c0));
const inKernels = [...stats.values()].reduce((a, s) => a + s.ms, 0);
console.log(`${arch}, batch ${bs}, ${n} × ${d}: ${(total / 2).toFixed(0)} ms CPU per epoch, kernels ${(inKernels / 2).toFixed(0)} ms, rest ${((total - inKernels) / 2).toFixed(0)} ms`);
for (const [k, s] of [...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.TOP ?? 30))) {
  console.log(`${(s.ms / 2).toFixed(1).padStart(8)} ms/epoch ${String(s.calls / 2).padStart(6)} calls  ${k}`);
}
