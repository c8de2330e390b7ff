// The attention kernels (SpecflowAttention's `attention` and
// SpecflowAttentionGrad's `attentionGrad`, wasm/kernels.ts) of two or more
// builds in one process, on the same tensors at the default Transformer's
// shapes (b = 256 samples, t = 32 tokens, 4 heads of 16). Each round calls
// every build once per direction, in an order that rotates from round to
// round, so a machine whose speed drifts or that others load treats all
// alike. Printed per build and direction: the median process CPU time per
// call, and the ratio to the first build's time in the same round (median
// and quartiles over the rounds: the figure to read on a shared machine);
// and the largest difference between each build's outputs and the first's
// (a sanity check: the bits may differ, the values may not). Not part of
// `npm run bench`:
//
//   node bench/attention-ab.mjs BASE_DIST [NEW_DIST ...]     (NEW_DIST: dist, after `npm run build`)
//
// e.g. BASE_DIST = a copy of main's dist (only its ml/kernels/*.wasm are
// read; tfjs comes from this checkout). ROUNDS (120); SPECFLOW_WASM_FMA=0
// compares the plain-SIMD builds; B, T, HEADS, DH change the shapes.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { initBackend } from '../dist/ml/backend.js';
import { wasmModule } from '../dist/ml/kernels/common.js';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const dists = process.argv.slice(2);
if (dists.length === 0) {
  console.error('usage: node bench/attention-ab.mjs BASE_DIST [NEW_DIST ...]');
  process.exit(1);
}
if (dists.length === 1) dists.push('dist');
const file = process.env.SPECFLOW_WASM_FMA === '0' ? 'specflow-kernels.wasm' : 'specflow-kernels-fma.wasm';
const { tf } = await initBackend('wasm');
const backend = tf.backend();
const mod = wasmModule(backend);
const env = (name, d) => Number(process.env[name] ?? d);
const [B, T, H, DH] = [env('B', 256), env('T', 32), env('HEADS', 4), env('DH', 16)];
const D = H * DH;
const TP = (T + 3) & ~3;
const scale = 1 / Math.sqrt(DH);
const ptr = (t) => backend.dataIdMap.get(t.dataId).memoryOffset;
const rnd = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const qkv = rnd([B * T, 3 * D], 1);
const dy = rnd([B * T, D], 2);
const builds = dists.map((dist) => {
  const k = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(`${dist}/ml/kernels/${file}`)), { env: { memory: mod.asm.memory } }).exports;
  return {
    dist, k,
    out: tf.zeros([B * T, D]),
    probs: tf.zeros([B * H, T, TP]),
    dqkv: tf.zeros([B * T, 3 * D]),
    // (earlier builds' attentionScratchFloats took (t, dh) and ignore heads)
    scratch: mod._malloc(k.attentionScratchFloats(T, DH, H) * 4 + 64),
  };
});
const forward = (b) => b.k.attention(ptr(qkv), ptr(b.out), ptr(b.probs), B, T, H, DH, scale, b.scratch);
// each build's gradient reads its own forward's probabilities
const backward = (b) => b.k.attentionGrad(ptr(qkv), ptr(b.probs), ptr(dy), ptr(b.dqkv), B, T, H, DH, scale, b.scratch);
for (const b of builds) { forward(b); backward(b); }

const maxDiff = (x, y) => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0];
console.log(`b ${B}, t ${T}, heads ${H}, dh ${DH}, ${file}; base ${dists[0]}`);
for (const b of builds.slice(1)) {
  console.log(`${b.dist}: largest |new − base| out ${maxDiff(builds[0].out, b.out).toExponential(2)}, dqkv ${maxDiff(builds[0].dqkv, b.dqkv).toExponential(2)}`);
}

const ROUNDS = env('ROUNDS', 120);
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e3; };
const times = { forward: builds.map(() => []), backward: builds.map(() => []) };
for (let r = -3; r < ROUNDS; r++) {
  const order = builds.map((_, i) => (i + r + 3) % builds.length);
  for (const [dir, fn] of [['forward', forward], ['backward', backward]]) {
    for (const i of order) {
      const t0 = cpu();
      fn(builds[i]);
      if (r >= 0) times[dir][i].push(cpu() - t0);
    }
  }
}
const sorted = (a) => [...a].sort((p, q) => p - q);
const quantile = (a, f) => a[Math.floor(f * (a.length - 1))];
const flops = { forward: 4 * B * H * T * T * DH, backward: 8 * B * H * T * T * DH };
for (const dir of ['forward', 'backward']) {
  builds.forEach((b, i) => {
    const ms = quantile(sorted(times[dir][i]), 0.5);
    let line = `${dir.padEnd(8)} ${b.dist}: ${ms.toFixed(3)} ms (${(flops[dir] / ms / 1e6).toFixed(1)} GFLOP/s)`;
    if (i > 0) {
      const ratios = sorted(times[dir][i].map((t, r) => t / times[dir][0][r]));
      line += `; /base per round: median ${quantile(ratios, 0.5).toFixed(3)} (quartiles ${quantile(ratios, 0.25).toFixed(3)}–${quantile(ratios, 0.75).toFixed(3)})`;
    }
    console.log(line);
  });
}
console.log(`[median process CPU per call, ${ROUNDS} rounds]`);
