// Where a product's time goes in training, at two batch sizes in one process:
// the default Transformer (or dense, conv1d) is trained at batch A and at
// batch B at once, an epoch of each in turn (ROUNDS epochs each after the
// first), and every matrix product's
// kernel call (BatchMatMul, _FusedMatMul, SpecflowMatMulBias...) is timed
// twice: the whole tfjs kernel (its JavaScript: planning, output allocation,
// the wasm call) and the wasm `gemm`/`gemmColumnSums` export inside it.
// Products are grouped by shape with the batch's dimension (A's rows, or its
// depth when transposed) written R for token rows (batch × 32) or the batch's
// rows, B for the batch where the rows are tokens, so the same layer's product at both batches is one row:
// ns per 1000 FLOP in the wasm and per call in the JavaScript around it,
// process CPU time, steady epochs only (the first of each training is not
// counted; the rows are a multiple of both batch sizes, so every step is full). Not part of `npm run bench`:
//
//   node bench/gemm-batch-split.mjs [transformer|dense|conv1d] [A=64] [B=256] [ROUNDS=4]   (after `npm run build`)
import { getTf } from '../dist/ml/engine.js';
import { simdKernels } from '../dist/ml/kernels/simd.js';
import { trainAutoencoder } from '../dist/ml/train.js';
import { benchSpectra } from './training-data.mjs';
import { osThreads } from './os-threads.mjs';
import { wrapKernels } from './wrap-kernels.mjs';

const [arch = 'transformer', bsA = '64', bsB = '256', roundsArg = '4'] = process.argv.slice(2);
const batches = [Number(bsA), Number(bsB)];
const rounds = Number(roundsArg);
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const tokens = arch === 'transformer' ? 32 : 1;
const { tf } = await getTf();
const kernels = simdKernels(tf.backend());
const own = kernels.exports;
// CLOCK=wall: the main thread's wall time (performance.now) instead of the process's CPU, which also
// counts V8's helper threads (parallel scavenges, concurrent marking and compiling) while a call runs
const cpu = process.env.CLOCK === 'wall' ? () => 1e3 * performance.now() : () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

let bs = 0;
let on = false;
let inGemm = 0; // µs in wasm products during the current kernel call
let gemmKey = '';
let gemmFlops = 0;
const stats = new Map(); // key → per batch { calls, kernelUs, wasmUs, flops }
// the batch's dimension of a training product: A's rows (forward, dx) or, transposed, its depth (dW)
const keyOf = (m, k, n, ta, tb, batch) => {
  const dim = (v) => (v === bs * tokens ? 'R' : v === bs ? 'B' : String(v));
  return `${ta ? m : dim(m)}×${ta ? dim(k) : k}×${n}${ta ? ' Aᵀ' : ''}${tb ? ' Bᵀ' : ''}${batch > 1 ? ` ×${dim(batch)}` : ''}`;
};
const timed = (name, shape) => (...args) => {
  if (!on) return own[name](...args);
  const t0 = cpu();
  own[name](...args);
  inGemm += cpu() - t0;
  const [key, flops] = shape(args);
  gemmKey = key; // a kernel making several products (a convolution's) is listed under its last
  gemmFlops += flops;
};
const exports = Object.create(null);
for (const name of Object.keys(own)) exports[name] = own[name];
exports.gemm = timed('gemm', (a) => [keyOf(a[3], a[5], a[4], a[6], a[7], a[11]), 2 * a[3] * a[4] * a[5] * a[11]]);
exports.gemmColumnSums = timed('gemmColumnSums', (a) => [`${keyOf(a[3], a[5], a[4], 1, 0, 1)} +sums`, 2 * a[3] * a[4] * a[5]]);
kernels.exports = exports;

const measuring = new Map(); // batch size → whether its training is in a counted epoch
wrapKernels(tf, (name, f, args) => {
  const first = Object.values(args.inputs ?? {})[0]?.shape;
  if (first?.length === 2 && first[1] === d) bs = batches.includes(first[0]) ? first[0] : 0; // 0: the final check's chunks
  on = measuring.get(bs) === true;
  if (!on) return f(args);
  const outer = inGemm;
  inGemm = 0;
  gemmKey = '';
  gemmFlops = 0;
  const t0 = cpu();
  const r = f(args);
  const dt = cpu() - t0;
  if (gemmKey) {
    const key = `${name.replace('Specflow', '')} ${gemmKey}`;
    const byBatch = stats.get(key) ?? new Map();
    const s = byBatch.get(bs) ?? { calls: 0, kernelUs: 0, wasmUs: 0, flops: 0 };
    s.calls++;
    s.kernelUs += dt;
    s.wasmUs += inGemm;
    s.flops += gemmFlops;
    byBatch.set(bs, s);
    stats.set(key, byBatch);
  }
  // a kernel calling another (fused → gemm) is counted once, by the innermost that reached wasm
  inGemm = outer + inGemm;
  gemmKey = '';
  return r;
});

// Both trainings run at once, an epoch of each in turn (each yields between epochs), so the machine's
// drift falls on both alike; the rows a multiple of both batch sizes (every step full-sized). Which
// training a kernel call belongs to: the last input of d columns (a step's batch) that a kernel saw.
const gcd = (p, q) => (q ? gcd(q, p % q) : p);
const lcm = (batches[0] * batches[1]) / gcd(batches[0], batches[1]);
const rows = Math.max(1, Math.floor(n / lcm)) * lcm;
const x = benchSpectra(rows, d);
const epochs = rounds + 1;
// the OS threads' CPU of each counted epoch (the time since the previous epoch of either ended): this
// thread's, and V8's helper threads' (GC, compilation), which process CPU also counts inside the kernels
const threadCpu = new Map(batches.map((b) => [b, { main: 0, helpers: 0 }]));
let snap = osThreads();
await Promise.all(batches.map((b) => trainAutoencoder({ n: rows, d, x }, {
  arch, latentDim: 8, epochs, batchSize: b, validation: 0, seed: 1, threads: 1,
  onEpoch: ({ epoch }) => {
    const now = osThreads();
    if (measuring.get(b)) {
      for (const [tid, v] of now) threadCpu.get(b)[tid === String(process.pid) ? 'main' : 'helpers'] += v.cpu - (snap.get(tid)?.cpu ?? 0);
    }
    snap = now;
    measuring.set(b, epoch < epochs);
  },
})));

const cols = batches.map((b) => `batch ${b}: calls  wasm ns/kFLOP  JS µs/call`.padStart(44)).join('');
console.log(`${arch}: products in training (${process.env.CLOCK === 'wall' ? 'wall' : 'process CPU'}, ${rounds} epochs of ${rows} rows at each batch, in turn), R = batch × ${tokens} rows`);
console.log(`${'kernel product'.padEnd(40)}${cols}   wasm ${batches[0]}/${batches[1]}`);
const table = [...stats].sort((p, q) => [...q[1].values()].reduce((t, s) => t + s.kernelUs, 0) - [...p[1].values()].reduce((t, s) => t + s.kernelUs, 0));
const totals = batches.map(() => ({ wasm: 0, js: 0, flops: 0 }));
for (const [key, byBatch] of table.slice(0, Number(process.env.TOP ?? 30))) {
  const cells = batches.map((b, i) => {
    const s = byBatch.get(b);
    if (!s) return ''.padStart(44);
    totals[i].wasm += s.wasmUs;
    totals[i].js += s.kernelUs - s.wasmUs;
    totals[i].flops += s.flops;
    return `${String(s.calls).padStart(14)}  ${((1e6 * s.wasmUs) / s.flops).toFixed(2).padStart(13)}  ${((s.kernelUs - s.wasmUs) / s.calls).toFixed(1).padStart(10)}`;
  }).join('');
  const [a, b] = batches.map((bb) => byBatch.get(bb));
  const rel = a && b ? `${((a.wasmUs / a.flops) / (b.wasmUs / b.flops)).toFixed(3)}` : '';
  console.log(`${key.padEnd(40)}${cells}   ${rel}`);
}
const perEpoch = (us) => (us / 1e3 / rounds).toFixed(0);
for (const [i, b] of batches.entries()) {
  const t = totals[i];
  const th = threadCpu.get(b);
  console.log(`batch ${b}: wasm ${perEpoch(t.wasm)} ms/epoch (${((1e6 * t.wasm) / t.flops).toFixed(2)} ns/kFLOP), JS around it ${perEpoch(t.js)} ms/epoch;`
    + ` epoch CPU: this thread ${(th.main / rounds).toFixed(0)} ms, V8's helper threads ${(th.helpers / rounds).toFixed(0)} ms`);
}
