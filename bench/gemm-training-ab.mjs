// Two builds' GEMMs inside one training run, call by call: every `gemm` and
// `gemmColumnSums` call of a default autoencoder's training goes to one of two
// instances of the kernels — this build's and another build's (BASE, a
// specflow-kernels-fma.wasm), each instantiated here on the backend's memory —
// alternating per product shape, the order flipped every epoch (each layer's
// call meets both builds), timed in process CPU. Both builds must give the
// same bits (the training then runs identically whichever computes a product).
// The operands are the training's own, in whatever cache state the step
// leaves them — which the kernel-alone bench (bench/gemm.bench.mjs) cannot
// reproduce. Not part of `npm run bench`:
//
//   node bench/gemm-training-ab.mjs BASE.wasm [transformer|dense|conv1d] [EPOCHS=7] [BATCH=256]   (after `npm run build`)
//
// Prints per shape the summed CPU of each build over the epochs after the
// first, and new/base. BASE = dist/ml/kernels/specflow-kernels-fma.wasm itself
// is the control (it should read 1.00 within the noise).
import { readFileSync } from 'node:fs';
import { getTf } from '../dist/ml/engine.js';
import { simdKernels } from '../dist/ml/kernels/simd.js';
import { wasmModule } from '../dist/ml/kernels/common.js';
import { trainAutoencoder } from '../dist/ml/train.js';
import { benchSpectra } from './training-data.mjs';

const [baseFile, arch = 'transformer', epochsArg = '7', batchArg = '256'] = process.argv.slice(2);
if (!baseFile) throw new Error('usage: node bench/gemm-training-ab.mjs BASE.wasm [arch] [epochs] [batch]');
const epochs = Number(epochsArg);
const batchSize = Number(batchArg);
const { tf } = await getTf();
const backend = tf.backend();
const kernels = simdKernels(backend);
const memory = wasmModule(backend).asm.memory;
const instance = (bytes) => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const builds = [instance(readFileSync(new URL('../dist/ml/kernels/specflow-kernels-fma.wasm', import.meta.url))), instance(readFileSync(baseFile))];
const own = kernels.exports;
const stats = new Map();
let epoch = 0;
const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const alternating = (name, shapeOf) => (...args) => {
  if (epoch === 0) return own[name](...args);
  const key = shapeOf(args);
  const s = stats.get(key) ?? { calls: 0, us: [0, 0] };
  const which = (s.calls++ + epoch) % 2;
  const t0 = cpu();
  builds[which][name](...args);
  s.us[which] += cpu() - t0;
  stats.set(key, s);
};
const exports = Object.create(null);
for (const name of Object.keys(own)) exports[name] = own[name];
exports.gemm = alternating('gemm', (a) => `${a[3]}×${a[5]}×${a[4]}${a[6] ? ' ᵀA' : ''}${a[7] ? ' ᵀB' : ''}${a[11] > 1 ? ` ×${a[11]}` : ''}`);
exports.gemmColumnSums = alternating('gemmColumnSums', (a) => `${a[3]}×${a[5]}×${a[4]} ᵀA, column sums`);
// the residual a product's store adds is set on the instance that will compute it: on all of them
exports.setGemmResidual = (delta) => {
  own.setGemmResidual(delta);
  for (const b of builds) b.setGemmResidual(delta);
};
kernels.exports = exports;

const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
await trainAutoencoder({ n, d, x: benchSpectra(n, d) }, {
  arch, latentDim: 8, epochs, batchSize, validation: 0, seed: 1, threads: 1,
  onEpoch: (e) => { epoch = e.epoch; },
});
const rows = [...stats].sort((x, y) => y[1].us[0] + y[1].us[1] - x[1].us[0] - x[1].us[1]);
const sum = (i) => rows.reduce((t, [, s]) => t + s.us[i], 0);
console.log(`${arch}, batch ${batchSize}, epochs 2–${epochs}: products ${(sum(0) / 1e3).toFixed(0)} ms (this build) vs ${(sum(1) / 1e3).toFixed(0)} ms (base), new/base ${(sum(0) / sum(1)).toFixed(3)}`);
for (const [key, s] of rows.slice(0, Number(process.env.TOP ?? 20))) {
  console.log(`${key.padEnd(30)} ${String(s.calls).padStart(5)} calls  ${(s.us[0] / 1e3).toFixed(1).padStart(8)} vs ${(s.us[1] / 1e3).toFixed(1).padStart(8)} ms  ${(s.us[0] / s.us[1]).toFixed(3)}`);
}
