// The product kernels' JavaScript (BatchMatMul, _FusedMatMul, SpecflowMatMulBias[Relu]: planning, the
// GEMM's arguments, the output's allocation — everything but the wasm product) of another build (BASE,
// a dist/ directory, e.g. main's) against this build's, inside one training: the two builds' kernel
// functions alternate epoch by epoch (each with its own instance of its own wasm), every call is timed
// whole and its wasm `gemm`/`gemmColumnSums` call inside it, JS = whole − wasm, in process CPU
// (CLOCK=wall: this thread's wall time). In training this JavaScript runs with cold caches, at
// ~10× its cost in a loop (bench/gemm-batch-split.mjs shows it per product); it is paid per call,
// so 4× as often an epoch at batch 64 as at 256. Not part of `npm run bench`:
//
//   node bench/product-js-ab.mjs BASE_DIST [transformer|dense|conv1d] [BATCH=64] [EPOCHS=21]   (after `npm run build`)
import { getTf } from '../dist/ml/engine.js';
import { simdKernels } from '../dist/ml/kernels/simd.js';
import { trainAutoencoder } from '../dist/ml/train.js';
import { benchSpectra } from './training-data.mjs';

const [base, arch = 'transformer', bsArg = '64', epochsArg = '21'] = process.argv.slice(2);
if (!base) throw new Error('usage: node bench/product-js-ab.mjs BASE_DIST [arch] [batch] [epochs]');
const baseDir = `file://${base.replace(/\/?$/, '/')}ml/kernels/`;
const { tf } = await getTf();
const backend = tf.backend();
(await import(`${baseDir}common.js`)).bindTf(tf);
const baseMatMul = await import(`${baseDir}batch-matmul.js`);
const baseFused = await import(`${baseDir}fused-matmul.js`);
const baseSimd = await import(`${baseDir}simd.js`);
const baseFuncs = {
  BatchMatMul: baseMatMul.batchMatMul, _FusedMatMul: baseFused.fusedMatMul,
  SpecflowMatMulBias: baseFused.matMulBias, SpecflowMatMulBiasRelu: baseFused.matMulBiasRelu,
};
const cpu = process.env.CLOCK === 'wall' ? () => 1e3 * performance.now() : () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
let inGemm = 0;
let on = false;
let variant = 0; // 0 base, 1 this build
const timeProducts = (kernels) => {
  const own = kernels.exports;
  const exports = Object.create(null);
  for (const name of Object.keys(own)) exports[name] = own[name];
  for (const name of ['gemm', 'gemmColumnSums']) {
    exports[name] = (...args) => {
      if (!on) return own[name](...args);
      const t0 = cpu();
      own[name](...args);
      inGemm += cpu() - t0;
    };
  }
  kernels.exports = exports;
};
timeProducts(simdKernels(backend));
timeProducts(baseSimd.simdKernels(backend));
const acc = [0, 1].map(() => ({ js: 0, wasm: 0, calls: 0, epochs: 0 }));
for (const [name, baseF] of Object.entries(baseFuncs)) {
  const k = tf.getKernel(name, 'wasm');
  const newF = k.kernelFunc;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    ...k,
    kernelFunc: (args) => {
      const f = variant ? newF : baseF;
      if (!on) return f(args);
      const outer = inGemm;
      inGemm = 0;
      const t0 = cpu();
      const r = f(args);
      const dt = cpu() - t0;
      const a = acc[variant];
      a.js += dt - inGemm;
      a.wasm += inGemm;
      a.calls++;
      inGemm = outer;
      return r;
    },
  });
}
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const epochs = Number(epochsArg);
await trainAutoencoder({ n, d, x: benchSpectra(n, d) }, {
  arch, latentDim: 8, epochs, batchSize: Number(bsArg), validation: 0, seed: 1, threads: 1,
  onEpoch: ({ epoch }) => {
    if (on) acc[variant].epochs++;
    on = epoch < epochs;
    variant = epoch % 2;
  },
});
console.log(`${arch}, batch ${bsArg}: the product kernels' JavaScript, ${process.env.CLOCK === 'wall' ? 'wall' : 'process CPU'}, epochs alternating`);
for (const [i, a] of acc.entries()) {
  console.log(`${i ? 'this build' : 'base      '}: ${a.epochs} epochs, ${(a.js / a.epochs / 1e3).toFixed(1)} ms/epoch (${(a.js / a.calls).toFixed(1)} µs/call, ${a.calls / a.epochs} calls/epoch); wasm ${(a.wasm / a.epochs / 1e3).toFixed(0)} ms/epoch`);
}
console.log(`this build/base, JS per call: ${((acc[1].js / acc[1].calls) / (acc[0].js / acc[0].calls)).toFixed(3)}`);
