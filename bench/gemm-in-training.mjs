// The GEMM inside a training run: every BatchMatMul and _FusedMatMul of two
// steady epochs of trainAutoencoder (the first epoch, start-up, not counted;
// the final check of the weights after the last epoch is), grouped by product
// shape m×k×n (ᵀA, ᵀB: transposed operand), with its GFLOP/s in process CPU
// time and its share of the f32x4 FMA peak sampled just before each call
// (bench/wasm-peak-kernel.mjs; this VM's speed drifts). Not part of `npm run
// bench` (no .bench.mjs suffix):
//
//   node bench/gemm-in-training.mjs [dense|conv1d|transformer] [BATCH]     (after `npm run build`)
//
// BENCH_DIST=<another build's dist/> times that build (e.g. an older commit's kernels).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { peakGflops, peakKernel } from './wasm-peak-kernel.mjs';
import { benchSpectra } from './training-data.mjs';
import { wrapKernels } from './wrap-kernels.mjs';

const dist = process.env.BENCH_DIST ? pathToFileURL(resolve(process.env.BENCH_DIST)).href : new URL('../dist', import.meta.url).href;
const { getTf } = await import(`${dist}/ml/engine.js`);
const { trainAutoencoder } = await import(`${dist}/ml/train.js`);
const arch = process.argv[2] ?? 'transformer';
const bs = Number(process.argv[3] ?? 256);
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const { tf } = await getTf();
const peak = peakKernel();
const stats = new Map();
let on = false;
const size = (shape) => shape.reduce((x, y) => x * y, 1);
wrapKernels(tf, (name, f, args) => {
  if (!on) return f(args);
  const { a, b } = args.inputs;
  const { transposeA: ta, transposeB: tb } = args.attrs;
  const m = ta ? a.shape.at(-1) : a.shape.at(-2);
  const depth = ta ? a.shape.at(-2) : a.shape.at(-1);
  const cols = tb ? b.shape.at(-2) : b.shape.at(-1);
  const batch = Math.max(size(a.shape.slice(0, -2)), size(b.shape.slice(0, -2)));
  const flops = 2 * m * depth * cols * batch;
  const now = peakGflops(peak, 3e4);
  const c0 = process.cpuUsage();
  const r = f(args);
  const c = process.cpuUsage(c0);
  const us = c.user + c.system;
  const key = `${m}×${depth}×${cols}${ta ? ' ᵀA' : ''}${tb ? ' ᵀB' : ''}${batch > 1 ? ` ×${batch}` : ''}`;
  const s = stats.get(key) ?? { calls: 0, us: 0, flops: 0, peakFlops: 0 };
  s.calls++;
  s.us += us;
  s.flops += flops;
  s.peakFlops += now * 1e3 * us; // what the peak of that moment would have done in the call's time
  stats.set(key, s);
  return r;
}, (name) => name === 'BatchMatMul' || name === '_FusedMatMul');
const x = benchSpectra(n, d);
await trainAutoencoder({ n, d, x }, {
  arch, latentDim: 8, epochs: 3, batchSize: bs, validation: 0, seed: 1,
  onEpoch: ({ epoch }) => {
    if (epoch === 1) on = true;
  },
});
const rows = [...stats].sort((p, q) => q[1].us - p[1].us);
const total = rows.reduce((t, [, s]) => ({ us: t.us + s.us, flops: t.flops + s.flops, peakFlops: t.peakFlops + s.peakFlops }), { us: 0, flops: 0, peakFlops: 0 });
console.log(`${arch}, batch ${bs}, ${n} × ${d}: products ${(total.us / 2e3).toFixed(0)} ms CPU per epoch, ${(total.flops / total.us / 1e3).toFixed(1)} GFLOP/s, ${((100 * total.flops) / total.peakFlops).toFixed(0)} % of the FMA peak`);
for (const [key, s] of rows.slice(0, Number(process.env.TOP ?? 30))) {
  console.log(`${(s.us / 2e3).toFixed(1).padStart(8)} ms/epoch ${String(s.calls / 2).padStart(5)} calls ${(s.flops / s.us / 1e3).toFixed(1).padStart(6)} GFLOP/s ${`${((100 * s.flops) / s.peakFlops).toFixed(0)}%`.padStart(5)} of peak  ${key}`);
}
