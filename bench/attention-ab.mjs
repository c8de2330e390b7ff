// The attention kernels (SpecflowAttention's `attention` and
// SpecflowAttentionGrad's `attentionGrad`, wasm/kernels.ts) of two builds in
// one process, on the same tensors at the default Transformer's shapes
// (b = 256 samples, t = 32 tokens, 4 heads of 16): rounds alternate the two
// builds (which goes first swaps every round) so a machine whose speed drifts
// or that others load treats both alike. Printed: the median process CPU
// time per call of each build, forward and backward, the ratio NEW/BASE, and
// the largest difference between the two builds' outputs (a sanity check: the
// bits may differ, the values may not). Not part of `npm run bench`:
//
//   node bench/attention-ab.mjs BASE_DIST [NEW_DIST]          (NEW_DIST: dist, after `npm run build`)
//
// e.g. BASE_DIST = a copy of main's dist. ROUNDS (40) rounds of CALLS (4)
// calls per build and direction; SPECFLOW_WASM_FMA=0 compares the plain-SIMD
// builds; B, T, HEADS, DH change the shapes.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const [baseDist, newDist = 'dist'] = process.argv.slice(2);
if (!baseDist) {
  console.error('usage: node bench/attention-ab.mjs BASE_DIST [NEW_DIST]');
  process.exit(1);
}
const file = process.env.SPECFLOW_WASM_FMA === '0' ? 'specflow-kernels.wasm' : 'specflow-kernels-fma.wasm';
// tfjs and its wasm backend from this checkout's dist; only the kernels' .wasm files from the two builds
const { initBackend } = await import('../dist/ml/backend.js');
const { wasmModule } = await import('../dist/ml/kernels/common.js');
const { tf } = await initBackend('wasm');
const backend = tf.backend();
const mod = wasmModule(backend);
const builds = [baseDist, newDist].map((dist) => ({
  dist,
  k: new WebAssembly.Instance(new WebAssembly.Module(readFileSync(`${dist}/ml/kernels/${file}`)), { env: { memory: mod.asm.memory } }).exports,
}));
const env = (name, d) => Number(process.env[name] ?? d);
const [B, T, H, DH] = [env('B', 256), env('T', 32), env('HEADS', 4), env('DH', 16)];
const D = H * DH;
const TP = (T + 3) & ~3;
const scale = 1 / Math.sqrt(DH);
const ptr = (t) => backend.dataIdMap.get(t.dataId).memoryOffset;
const rnd = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const qkv = rnd([B * T, 3 * D], 1);
const dy = rnd([B * T, D], 2);
for (const b of builds) {
  b.out = tf.zeros([B * T, D]);
  b.probs = tf.zeros([B * H, T, TP]);
  b.dqkv = tf.zeros([B * T, 3 * D]);
  b.scratch = mod._malloc(b.k.attentionScratchFloats(T, DH, H) * 4 + 64);
}
const forward = (b) => b.k.attention(ptr(qkv), ptr(b.out), ptr(b.probs), B, T, H, DH, scale, b.scratch);
// each build's gradient reads its own forward's probabilities
const backward = (b) => b.k.attentionGrad(ptr(qkv), ptr(b.probs), ptr(dy), ptr(b.dqkv), B, T, H, DH, scale, b.scratch);
for (const b of builds) { forward(b); backward(b); }

const maxDiff = (x, y) => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0];
const maxAbs = (x) => tf.max(tf.abs(x)).dataSync()[0];
console.log(`b ${B}, t ${T}, heads ${H}, dh ${DH}, ${file}; base ${baseDist}, new ${newDist}`);
console.log(`largest |new − base|: out ${maxDiff(builds[0].out, builds[1].out).toExponential(2)} (of ${maxAbs(builds[0].out).toFixed(2)}), ` +
  `dqkv ${maxDiff(builds[0].dqkv, builds[1].dqkv).toExponential(2)} (of ${maxAbs(builds[0].dqkv).toFixed(2)})`);

const ROUNDS = env('ROUNDS', 120);
const CALLS = env('CALLS', 1);
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e3; };
const times = { forward: builds.map(() => []), backward: builds.map(() => []) };
for (let r = -3; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? [0, 1] : [1, 0];
  for (const [dir, fn] of [['forward', forward], ['backward', backward]]) {
    for (const i of order) {
      const t0 = cpu();
      for (let c = 0; c < CALLS; c++) fn(builds[i]);
      if (r >= 0) times[dir][i].push((cpu() - t0) / CALLS);
    }
  }
}
const median = (a) => { const s = [...a].sort((p, q) => p - q); return s[s.length >> 1]; };
const flops = { forward: 4 * B * H * T * T * DH, backward: 8 * B * H * T * T * DH };
for (const dir of ['forward', 'backward']) {
  const [m0, m1] = times[dir].map(median);
  const gf = (ms) => (flops[dir] / ms / 1e6).toFixed(1);
  // the ratio within each round (the two builds a few ms apart, under the same load), then its median and quartiles
  const ratios = times[dir][1].map((t, r) => t / times[dir][0][r]).sort((p, q) => p - q);
  const q = (f) => ratios[Math.floor(f * (ratios.length - 1))].toFixed(3);
  console.log(`${dir.padEnd(8)} base ${m0.toFixed(3)} ms (${gf(m0)} GFLOP/s), new ${m1.toFixed(3)} ms (${gf(m1)} GFLOP/s); ` +
    `new/base per round: median ${q(0.5)} (quartiles ${q(0.25)}–${q(0.75)})  [process CPU, ${ROUNDS} rounds of ${CALLS} call(s) each]`);
}
