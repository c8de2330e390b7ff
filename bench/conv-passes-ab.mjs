// One training step's passes around the Conv-1D AE's convolutions (batch 256):
// batch norm + LeakyReLU (+ pooling) forward and backward, and the filter +
// bias gradients, as 7c91a0c's kernels ran them (its wasm exports, by their
// old signatures) against this build's, alternated in one process, process
// CPU ms, fastest of ROUNDS (7). The before/after behind docs/performance.md's Conv-1D
// passes figures; it only works against a build of 7c91a0c (whose exports it
// calls). Not part of `npm run bench`:
//
//   git worktree add /tmp/base 7c91a0c && (cd /tmp/base && npm ci)
//   node bench/conv-passes-ab.mjs dist /tmp/base/dist        (after `npm run build`)
import { pathToFileURL } from 'node:url';
const [here, base] = process.argv.slice(2).map((d) => pathToFileURL(d).href);
const { initBackend } = await import(`${here}/ml/backend.js`);
const { tf } = await initBackend('wasm');
const backend = tf.backend();
const kNew = (await import(`${here}/ml/kernels/simd.js`)).simdKernels(backend);
const kOld = (await import(`${base}/ml/kernels/simd.js`)).simdKernels(backend);
const { filterGrad1d } = await import(`${here}/ml/kernels/conv2d-backprop-filter.js`);
(await import(`${here}/ml/kernels/common.js`)).bindTf(tf);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const B = 256;
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e3; };
const T = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const p = (t) => kNew.ptr(t);
const alpha = 0.2;
// [L, C, pooled]: encoder blocks pool, decoder blocks do not
const BN = [[512, 16, true], [256, 32, true], [128, 64, true], [128, 32, false], [256, 16, false], [512, 16, false]];
const rows = [];
for (const [L, C, pool] of BN) {
  const n = B * L;
  const x = T([B, L, C], 1), d = T([B, L, C], 2), y = T([B, L, C], 3), dy = T([B, L, C], 4), dx = T([B, L, C], 5);
  const half = T([B, L / 2, C], 6), dp = T([B, L / 2, C], 7);
  const v = [8, 9, 10, 11, 12, 13, 14].map((s) => T([C], s));
  const [mean, variance, s, beta, kk, cc, s2] = v;
  const sum2 = T([C], 15);
  const old = () => {
    kOld.exports.reduceMiddle(p(x), p(mean), 1, n, C, 1 / n);
    kOld.exports.bnCenter(p(x), p(mean), p(d), p(variance), n, C, 1 / n);
    kOld.exports.bnAffineLeaky(p(d), p(s), p(beta), p(y), n, C, alpha);
    if (pool) kOld.exports.pairSum(p(y), p(half), n / 2, C, 0.5);
    if (pool) kOld.exports.pairDup(p(dp), p(dy), n / 2, C, 0.5);
    kOld.exports.bnLeakyGradSums(p(dy), p(y), p(d), p(s2), p(sum2), n, C, alpha);
    kOld.exports.bnLeakyGradInput(p(dy), p(y), p(d), p(s), p(kk), p(cc), p(dx), n, C, alpha);
  };
  const neu = () => {
    kNew.exports.reduceMiddle(p(x), p(mean), 1, n, C, 1 / n);
    kNew.exports.bnVariance(p(x), p(mean), p(variance), n, C, 1 / n);
    if (pool) kNew.exports.bnAffineLeakyPool(p(x), p(mean), p(s), p(beta), p(half), n / 2, C, alpha);
    else kNew.exports.bnAffineLeaky(p(x), p(mean), p(s), p(beta), p(y), n, C, alpha);
    kNew.exports.bnLeakyGradSums(p(pool ? dp : dy), p(x), p(mean), p(s), p(beta), p(s2), p(sum2), n, C, alpha, pool ? 1 : 0);
    kNew.exports.bnLeakyGradInput(p(pool ? dp : dy), p(x), p(mean), p(s), p(beta), p(kk), p(cc), p(dx), n, C, alpha, pool ? 1 : 0);
  };
  rows.push([`BN+LeakyReLU${pool ? '+pool' : ''} ${B}×${L}×${C}`, old, neu]);
}
// the conv bias gradients: a Sum pass over dy (old) against the filter gradient with and without the folded sum (new)
const CONV = [[512, 1, 16, 15], [256, 16, 32, 11], [128, 32, 64, 7], [64, 64, 64, 5], [128, 32, 32, 7], [256, 16, 32, 9], [512, 16, 1, 15]];
for (const [L, ci, co, k] of CONV) {
  const x = T([B, L, ci], 21), dy = T([B, L, co], 22), db = T([co], 23);
  const dims = { n: B, w: L, cin: ci, cout: co, fw: k, sw: 1, ow: L, left: (k - 1) / 2 };
  const old = () => {
    const dw = filterGrad1d(backend, x, dy, dims);
    backend.disposeData(dw.dataId);
    if (co === 1) kOld.exports.reduceInner(p(dy), p(db), 1, B * L, 1);
    else kOld.exports.reduceMiddle(p(dy), p(db), 1, B * L, co, 1);
  };
  const neu = () => {
    const dw = filterGrad1d(backend, x, dy, dims, db);
    backend.disposeData(dw.dataId);
  };
  rows.push([`filter+bias grad ${B}×${L} ${ci}→${co} k${k}`, old, neu]);
}
let to = 0, tn = 0;
for (const [name, old, neu] of rows) {
  let bo = Infinity, bn = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    let c = cpu(); old(); bo = Math.min(bo, cpu() - c);
    c = cpu(); neu(); bn = Math.min(bn, cpu() - c);
  }
  to += bo; tn += bn;
  console.log(`${name.padEnd(40)} before ${bo.toFixed(2).padStart(6)} ms  after ${bn.toFixed(2).padStart(6)} ms  ${(bn / bo).toFixed(2)}×`);
}
console.log(`one step's passes: before ${to.toFixed(1)} ms, after ${tn.toFixed(1)} ms (${(tn / to).toFixed(2)}×), saved ${(to - tn).toFixed(1)} ms a step`);
