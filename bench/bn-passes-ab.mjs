// The Conv-1D autoencoder's batch-norm + LeakyReLU passes and the filter
// gradient's split of dy (fir4SplitGradPanels) at the shapes one training step
// gives them (batch 256), two builds' wasm exports alternated on the same
// buffers in one process: process CPU ms, fastest of ROUNDS (9), and whether
// both builds wrote the same bits. Works against any build since 8fa8df6
// (the exports' signatures are unchanged since). Not part of `npm run bench`:
//
//   node bench/bn-passes-ab.mjs dist <other dist/>          (after `npm run build`)
//
// BATCH=8 REP=32 runs each call 32 times on a batch of 8 (the buffers stay in
// cache: what the passes cost without memory traffic); ONLY=variance,gradSums
// keeps those rows; SHAPES='[[L, C, pooled], ...]' other activations.
import { pathToFileURL } from 'node:url';
const [here, base] = process.argv.slice(2).map((d) => pathToFileURL(d).href);
const { initBackend } = await import(`${here}/ml/backend.js`);
const { tf } = await initBackend('wasm');
const backend = tf.backend();
const kNew = (await import(`${here}/ml/kernels/simd.js`)).simdKernels(backend);
const kOld = (await import(`${base}/ml/kernels/simd.js`)).simdKernels(backend);
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e3; };
const T = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const p = (t) => kNew.ptr(t);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const REP = Number(process.env.REP ?? 1);
const B = Number(process.env.BATCH ?? 256);
const only = process.env.ONLY?.split(',');
const bytes = (t) => Buffer.from(t.dataSync().slice().buffer);
const totals = {};
/**
 * old and new of one pass, alternated on the same buffers (where the outputs lie
 * against the inputs moved these passes' times by up to 30 %); then each build
 * once more from `reset()`, its outputs `outs()` compared bit for bit.
 */
function ab(name, run, outs, reset = () => {}) {
  if (only && !only.includes(name)) return '';
  let bo = Infinity, bn = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    let c = cpu();
    for (let z = 0; z < REP; z++) run(kOld);
    bo = Math.min(bo, cpu() - c);
    c = cpu();
    for (let z = 0; z < REP; z++) run(kNew);
    bn = Math.min(bn, cpu() - c);
  }
  const bits = [kOld, kNew].map((k) => {
    reset();
    run(k);
    return outs().map(bytes);
  });
  totals[name] ??= [0, 0];
  totals[name][0] += bo;
  totals[name][1] += bn;
  const same = bits[0].every((b, i) => Buffer.compare(b, bits[1][i]) === 0);
  return `${name} ${bo.toFixed(2)} → ${bn.toFixed(2)}${same ? '' : ' (BITS DIFFER)'}`;
}
// [L, C, pooled]: the encoder's blocks pool, the decoder's do not
const BN = JSON.parse(process.env.SHAPES ?? '[[512,16,true],[256,32,true],[128,64,true],[128,64,false],[256,32,false],[512,16,false]]');
for (const [L, C, pool] of BN) {
  const n = B * L;
  const x = T([B, L, C], 1);
  const dy = pool ? T([B, L / 2, C], 6) : T([B, L, C], 4);
  const [mean, s, beta, kk, cc] = [20, 21, 22, 23, 24].map((q) => T([C], q));
  kOld.exports.reduceMiddle(p(x), p(mean), 1, n, C, 1 / n);
  const o = { y: T(pool ? [B, L / 2, C] : [B, L, C], 3), dx: T([B, L, C], 5), v: [8, 9, 10].map((q) => T([C], q)) };
  const row = [
    ab('variance', (k) => k.exports.bnVariance(p(x), p(mean), p(o.v[0]), n, C, 1 / n), () => [o.v[0]]),
    ab('affine', (k) => (pool
      ? k.exports.bnAffineLeakyPool(p(x), p(mean), p(s), p(beta), p(o.y), n / 2, C, 0.2)
      : k.exports.bnAffineLeaky(p(x), p(mean), p(s), p(beta), p(o.y), n, C, 0.2)), () => [o.y]),
    ab('gradSums', (k) => k.exports.bnLeakyGradSums(p(dy), p(x), p(mean), p(s), p(beta), p(o.v[1]), p(o.v[2]), n, C, 0.2, pool ? 1 : 0), () => o.v.slice(1)),
    ab('gradInput', (k) => k.exports.bnLeakyGradInput(p(dy), p(x), p(mean), p(s), p(beta), p(kk), p(cc), p(o.dx), n, C, 0.2, pool ? 1 : 0), () => [o.dx]),
  ];
  console.log(`${B}×${L}×${C}${pool ? ' pooled' : ''}`.padEnd(18), row.filter(Boolean).join('  '));
  tf.dispose([x, dy, mean, s, beta, kk, cc, o.y, o.dx, ...o.v]);
}
// the filter gradients' split of dy into the nine phases' panels, in blocks of samples as
// filterGradFir gives them: [ow, cout, samples a block] of the five fast-FIR layers
for (const [ow, c, q] of [[256, 32, 4], [128, 64, 4], [64, 64, 6], [128, 32, 6], [256, 32, 4]]) {
  const depth = Math.ceil(ow / 4);
  const panelBytes = (qq) => (qq * depth * 8 + 16) * 4;
  const dy = T([B, ow, c], 1);
  const out = tf.zeros([(9 * Math.ceil(c / 8) * panelBytes(q)) / 4]);
  const db = tf.zeros([c]);
  const run = (k) => {
    for (let q0 = 0; q0 < B; q0 += q) {
      const qq = Math.min(q, B - q0);
      k.exports.fir4SplitGradPanels(p(dy) + q0 * ow * c * 4, p(out), panelBytes(qq), p(db), qq, ow, c, depth);
    }
  };
  // the bias gradient accumulates from +0
  const reset = () => new Float32Array(backend.wasm.HEAPU8.buffer, p(db), c).fill(0);
  console.log(`${B}×${ow}×${c} dy`.padEnd(18), ab('splitGradPanels', run, () => [out, db], reset));
  tf.dispose([dy, out, db]);
}
console.log('totals (ms):', Object.entries(totals).map(([k, [a, b]]) => `${k} ${a.toFixed(2)} → ${b.toFixed(2)} (${(b / a).toFixed(2)}×)`).join(', '));
