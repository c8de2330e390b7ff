// The Transformer's non-GEMM wasm kernels of two (or more) builds, called on
// the same tensors in one process, builds alternating call by call: for a
// before/after on a machine too busy for CPU-time totals to resolve a few
// per cent. Not part of `npm run bench` (no .bench.mjs suffix):
//
//   node bench/transformer-kernels-ab.mjs KERNEL A.wasm B.wasm ...     (after `npm run build`)
//
// KERNEL: attention, attentionGrad, gelu, geluGrad, addLayerNorm (layer norm
// of x + a residual: SpecflowAddLayerNorm), layerNormGrad (with the
// stream's gradient added: SpecflowLayerNormGrad's dres), sum192, sum128 or
// sum64 (a bias gradient's column sum over 8192 rows); the .wasm files are builds of
// wasm/kernels.ts (dist/ml/kernels/specflow-kernels-fma.wasm of a checkout).
// Shapes: the default model at batch 256 (8192 tokens, d 64, 4 heads of 16,
// MLP 128). Printed per build: the fastest, 10th-percentile and median
// wall-clock ms of ROUNDS (200) single calls — on a loaded machine the fastest
// calls are those nothing interrupted, which is what the minimum compares —
// and, for every build after the first, the median and quartiles over the
// rounds of its process CPU per call divided by the first build's in the
// same round (the order of the builds rotates from round to round).
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { initBackend } from '../dist/ml/backend.js';
import { wasmModule } from '../dist/ml/kernels/common.js';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const [kernel, ...files] = process.argv.slice(2);
if (!kernel || files.length === 0) {
  console.error('usage: node bench/transformer-kernels-ab.mjs KERNEL A.wasm [B.wasm ...]');
  process.exit(1);
}
const { tf } = await initBackend('wasm');
const backend = tf.backend();
const mod = wasmModule(backend);
const builds = files.map((f) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), { env: { memory: mod.asm.memory } }).exports);
const ptr = (t) => backend.dataIdMap.get(t.dataId).memoryOffset;
const [B, T, H, DH, MLP] = [256, 32, 4, 16, 128];
const D = H * DH;
const rnd = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const qkv = rnd([B * T, 3 * D], 1);
const dy = rnd([B * T, D], 2);
const out = tf.zeros([B * T, D]);
const probs = tf.zeros([B * H, T, (T + 3) & ~3]);
const dqkv = tf.zeros([B * T, 3 * D]);
const x = rnd([B * T, MLP], 3);
const y = tf.zeros([B * T, MLP]);
const cdf = tf.zeros([B * T, MLP]);
const dMlp = rnd([B * T, MLP], 4);
const sums = tf.zeros([3 * D]);
const lnX = rnd([B * T, D], 5);
const lnGamma = rnd([D], 6);
const lnMean = tf.mean(lnX, 1);
const lnRstd = tf.rsqrt(tf.add(tf.moments(lnX, 1).variance, 1e-5));
const [lnDx, lnDgamma, lnDbeta] = [tf.zeros([B * T, D]), tf.zeros([D]), tf.zeros([D])];
const lnBeta = rnd([D], 7);
const [lnSum, lnY, lnOutMean, lnOutRstd] = [tf.zeros([B * T, D]), tf.zeros([B * T, D]), tf.zeros([B * T]), tf.zeros([B * T])];
const scratch = mod._malloc(1 << 21);
const calls = {
  attention: (k) => k.attention(ptr(qkv), ptr(out), ptr(probs), B, T, H, DH, 1 / Math.sqrt(DH), scratch),
  attentionGrad: (k) => k.attentionGrad(ptr(qkv), ptr(probs), ptr(dy), ptr(dqkv), B, T, H, DH, 1 / Math.sqrt(DH), scratch),
  gelu: (k) => k.geluF32(ptr(x), ptr(y), ptr(cdf), B * T * MLP),
  geluGrad: (k) => k.geluGradF32(ptr(x), ptr(cdf), ptr(dMlp), ptr(y), B * T * MLP),
  addLayerNorm: (k) => k.layerNormResidual(
    ptr(lnX), ptr(dy), B * T, ptr(lnGamma), ptr(lnBeta), ptr(lnSum), ptr(lnY), ptr(lnOutMean), ptr(lnOutRstd), B * T, D, 1e-5,
  ),
  layerNormGrad: (k) => k.layerNormResidualGrad(
    ptr(dy), ptr(lnX), ptr(lnMean), ptr(lnRstd), ptr(lnGamma), ptr(out), ptr(lnDx), ptr(lnDgamma), ptr(lnDbeta), B * T, D,
  ),
  sum192: (k) => k.reduceMiddle(ptr(dqkv), ptr(sums), 1, B * T, 3 * D, 1),
  sum128: (k) => k.reduceMiddle(ptr(dMlp), ptr(sums), 1, B * T, MLP, 1),
  sum64: (k) => k.reduceMiddle(ptr(dy), ptr(sums), 1, B * T, D, 1),
};
const call = calls[kernel];
if (!call) throw new Error(`unknown kernel ${kernel}: one of ${Object.keys(calls).join(', ')}`);
// valid probabilities and Φ for the gradients
builds[0].attention(ptr(qkv), ptr(out), ptr(probs), B, T, H, DH, 1 / Math.sqrt(DH), scratch);
builds[0].geluF32(ptr(x), ptr(y), ptr(cdf), B * T * MLP);
const rounds = Number(process.env.ROUNDS ?? 200);
const times = builds.map(() => []);
const cpuTimes = builds.map(() => []);
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e3; };
for (let r = -5; r < rounds; r++) {
  // the order rotates from round to round, so that no build always runs first
  for (let n = 0; n < builds.length; n++) {
    const i = (n + r + 5) % builds.length;
    const c0 = cpu();
    const t0 = performance.now();
    call(builds[i]);
    const t1 = performance.now();
    if (r >= 0) {
      times[i].push(t1 - t0);
      cpuTimes[i].push(cpu() - c0);
    }
  }
}
const at = (a, q) => [...a].sort((p, s) => p - s)[Math.floor((a.length - 1) * q)];
files.forEach((f, i) => {
  let line = `${kernel} ${f}: fastest ${at(times[i], 0).toFixed(3)} ms, p10 ${at(times[i], 0.1).toFixed(3)}, median ${at(times[i], 0.5).toFixed(3)}`;
  if (i > 0) {
    // process CPU per call against the first build's in the same round
    const ratios = cpuTimes[i].map((t, r) => t / cpuTimes[0][r]);
    line += `; CPU /first per round: median ${at(ratios, 0.5).toFixed(3)} (quartiles ${at(ratios, 0.25).toFixed(3)}–${at(ratios, 0.75).toFixed(3)})`;
  }
  console.log(line);
});
