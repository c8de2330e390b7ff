// Where the Conv-1D filter + bias gradient's time goes, layer by layer of the
// default autoencoder (bench/conv-fir-layers.mjs's LAYERS), batch 256: the
// whole kernel (SpecflowConv1dFilterBiasGrad) and, with the same shapes and
// blocks as the build's src/ml/kernels/conv1d-fir2.ts filterGradFir, its
// passes called one by one: the split of x, the split of dy (with and
// without the bias sum), the three GEMMs, (before fir2GradGemm) the
// accumulation of each block's sums, and the final combination. Process CPU
// ms, fastest of ROUNDS (9), everything alternated in one process round by
// round, with the f32x4 FMA peak sampled in the same rounds (this VM's speed
// drifts; the machine is shared, so only CPU times mean anything). Builds
// before fir2GradGemm (e.g. 983971f's) are timed with their own passes. Not
// part of `npm run bench`:
//
//   node bench/conv-fgrad-parts.mjs [DIST]          (after `npm run build`; DIST: dist)
import { pathToFileURL } from 'node:url';
import { peakGflops, peakKernel } from './wasm-peak-kernel.mjs';

const dist = pathToFileURL(process.argv[2] ?? 'dist').href;
const { initBackend } = await import(`${dist}/ml/backend.js`);
const { tf } = await initBackend('wasm');
const backend = tf.backend();
(await import(`${dist}/ml/kernels/common.js`)).bindTf(tf);
const { conv1dFilterBiasGrad } = await import(`${dist}/ml/kernels/conv1d-grads.js`);
const { filterGradLevels } = await import(`${dist}/ml/kernels/conv1d-fir2.js`);
const k = (await import(`${dist}/ml/kernels/simd.js`)).simdKernels(backend);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const B = Number(process.env.BATCH ?? 256);
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e3; };
const T = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const free = (ts) => { for (const t of [ts].flat()) backend.disposeData(t.dataId); };
const LAYERS = [
  ['enc.conv1', 256, 16, 32, 11],
  ['enc.conv2', 128, 32, 64, 7],
  ['dec.conv2', 64, 64, 64, 5],
  ['dec.conv1', 128, 32, 32, 7],
  ['dec.conv0', 256, 16, 32, 9],
];
const BLOCK_FLOATS = 128 * 1024;
const gemmAt = (a, b, c, m, n, depth, batch, sA, sB, lda) => {
  const scratch = k.scratch(k.exports.gemmScratchFloats(m, n, depth) * 4);
  k.exports.gemm(a, b, c, m, n, depth, 1, 0, 0, 0, scratch, batch, sA, sB, m * n, lda, 1);
};
const peak = peakKernel();
const totals = {};
for (const [name, L, cin, cout, fw] of LAYERS) {
  const kE = Math.ceil(fw / 2), kO = Math.floor(fw / 2), ue = Math.ceil(L / 2), left = (fw - 1) / 2;
  const kA = Math.max(kE, kO + 1), v = ue + kA - 1, tap = cin * cout;
  const sumFloats = (kA + kE + kO) * tap;
  const x = T([B, L, cin], 1), dy = T([B, L, cout], 2), db = T([cout], 4), dw = T([fw * tap], 5);
  const combine = (sums) => (q0) => { if (q0 === 0) k.exports.fir2Combine(sums, sums + kA * tap * 4, sums + (kA + kE) * tap * 4, 0, k.ptr(dw), 1, tap, kA, kE, kO); };
  const kernel = () => free(conv1dFilterBiasGrad({ backend, inputs: { x, dy }, attrs: { k: fw } }));
  let parts, nb, buf;
  let flops = 2 * B * ue * (kA + kE + kO) * tap;
  let desc = `m = ${kA * cin}/${kE * cin}/${kO * cin}, depth ${ue} a sample`;
  if (k.exports.fir2GradGemm) {
    // since fir2GradGemm: dy's phases written as packed panels, the products summed over a block in registers;
    // at filterGradLevels 2 nine products from fir4Split and fir4SplitGradPanels
    const levels = filterGradLevels?.({ n: B, w: L, cin, cout, fw, left, ow: L }) ?? 1;
    const first = [kA, kE, kO];
    const taps = levels === 1 ? first : first.flatMap((t) => [Math.max(Math.ceil(t / 2), Math.floor(t / 2) + 1), Math.ceil(t / 2), Math.floor(t / 2)]);
    const depth = levels === 1 ? ue : Math.ceil(ue / 2);
    const vv = depth + taps[0] - 1;
    const panels = Math.ceil(cout / 8), per = taps.length * (vv * cin + depth * panels * 8);
    nb = Math.max(1, Math.min(B, Math.floor(BLOCK_FLOATS / per)));
    // panels of dy PANEL_GAP (16) floats apart, as filterGradFir lays them out (GAP=n: another gap)
    const gap = Number(process.env.GAP ?? 16);
    const all = taps.reduce((a, t) => a + t, 0) * tap;
    buf = T([all + 3 * tap * fw + nb * per + taps.length * panels * gap + 16], 3);
    const sums = k.ptr(buf), xp = sums + (all + 3 * tap * fw) * 4, arrayBytes = nb * vv * cin * 4, dp = xp + taps.length * arrayBytes;
    const pb = (q) => (q * depth * 8 + gap) * 4;
    const offsets = taps.map((_, f) => taps.slice(0, f).reduce((a, t) => a + t, 0) * tap * 4);
    const gemms = (fs) => (q0, q) => { for (const f of fs) k.exports.fir2GradGemm(xp + f * arrayBytes, vv * cin, cin, taps[f] * cin, dp + f * panels * pb(q), pb(q), cout, depth, q, sums + offsets[f], q0 === 0 ? 1 : 0); };
    const split = levels === 1
      ? (q0, q) => k.exports.fir2Split(k.ptr(x) + q0 * L * cin * 4, xp, xp + arrayBytes, xp + 2 * arrayBytes, q, L, cin, left, vv)
      : (q0, q) => k.exports.fir4Split(k.ptr(x) + q0 * L * cin * 4, xp, arrayBytes, q, L, cin, left, ue + kA - 1, vv);
    const splitDy = levels === 1 ? k.exports.fir2SplitGradPanels : k.exports.fir4SplitGradPanels;
    const g = taps.length / 3;
    parts = {
      kernel,
      splitX: split,
      splitDyBias: (q0, q) => splitDy(k.ptr(dy) + q0 * L * cout * 4, dp, pb(q), k.ptr(db), q, L, cout, depth),
      splitDy: (q0, q) => splitDy(k.ptr(dy) + q0 * L * cout * 4, dp, pb(q), 0, q, L, cout, depth),
      // at two levels gemmA: the products of A's three, etc.
      gemmA: gemms([...Array(g).keys()]),
      gemmB: gemms([...Array(g).keys()].map((f) => f + g)),
      gemmC: gemms([...Array(g).keys()].map((f) => f + 2 * g)),
      accumulate: () => {},
      combine: combine(sums),
    };
    flops = 2 * B * depth * taps.reduce((a, t) => a + t, 0) * tap;
    desc = `(${levels === 1 ? '2' : '4'}-parallel) m = ${taps.map((t) => t * cin).join('/')}, depth ${depth} a sample`;
  } else {
    // up to 983971f: dy's phases as arrays, gemm (transposed A, accumulating sample by sample), each block's sums added
    nb = Math.max(1, Math.min(B, Math.floor(BLOCK_FLOATS / (3 * v * cin + 3 * ue * cout))));
    buf = T([2 * sumFloats + nb * (3 * v * cin + 3 * ue * cout) + 16], 3);
    const sums = k.ptr(buf), part = sums + sumFloats * 4, xe = part + sumFloats * 4;
    const xo = xe + nb * v * cin * 4, xs = xo + nb * v * cin * 4, d0 = xs + nb * v * cin * 4;
    const d1 = d0 + nb * ue * cout * 4, ds = d1 + nb * ue * cout * 4;
    parts = {
      kernel,
      splitX: (q0, q) => k.exports.fir2Split(k.ptr(x) + q0 * L * cin * 4, xe, xo, xs, q, L, cin, left, v),
      splitDyBias: (q0, q) => k.exports.fir2SplitGrad(k.ptr(dy) + q0 * L * cout * 4, d0, d1, ds, k.ptr(db), q, L, cout, ue),
      splitDy: (q0, q) => k.exports.fir2SplitGrad(k.ptr(dy) + q0 * L * cout * 4, d0, d1, ds, 0, q, L, cout, ue),
      gemmA: (q0, q) => gemmAt(xe, d0, part, kA * cin, cout, ue, q, v * cin, ue * cout, cin),
      gemmB: (q0, q) => gemmAt(xo, d1, part + kA * tap * 4, kE * cin, cout, ue, q, v * cin, ue * cout, cin),
      gemmC: (q0, q) => gemmAt(xs, ds, part + (kA + kE) * tap * 4, kO * cin, cout, ue, q, v * cin, ue * cout, cin),
      accumulate: (q0) => { if (q0 > 0) k.exports.fir2Accumulate(part, sums, sumFloats); },
      combine: combine(sums),
    };
  }
  const best = Object.fromEntries(Object.keys(parts).map((p) => [p, Infinity]));
  let peakNow = 0;
  for (let r = 0; r < ROUNDS; r++) {
    peakNow = Math.max(peakNow, peakGflops(peak, 5e6));
    for (const [p, f] of Object.entries(parts)) {
      const c = cpu();
      if (p === 'kernel') f();
      else for (let q0 = 0; q0 < B; q0 += nb) f(q0, Math.min(nb, B - q0));
      best[p] = Math.min(best[p], cpu() - c);
    }
  }
  const gemms = best.gemmA + best.gemmB + best.gemmC;
  const sumParts = best.splitX + best.splitDyBias + gemms + best.accumulate + best.combine;
  const pc = (t) => `${((100 * t) / best.kernel).toFixed(0)}%`;
  const gf = (f, t) => `${(f / t / 1e6).toFixed(1)} GFLOP/s = ${((100 * f) / t / 1e6 / peakNow).toFixed(0)}% of peak`;
  console.log(`${`${name} ${cin}·${cout} k${fw} L${L}`.padEnd(30)} kernel ${best.kernel.toFixed(2)} ms (${gf(flops, best.kernel)}; parts sum to ${sumParts.toFixed(2)}), blocks of ${nb}`);
  console.log(`   gemms ${best.gemmA.toFixed(2)}+${best.gemmB.toFixed(2)}+${best.gemmC.toFixed(2)} = ${gemms.toFixed(2)} ms ${pc(gemms)} (${gf(flops, gemms)}), products ${desc}, n = ${cout}`);
  console.log(`   split x ${best.splitX.toFixed(2)} ms ${pc(best.splitX)}, split dy ${best.splitDyBias.toFixed(2)} ms ${pc(best.splitDyBias)} (of which bias sum ${(best.splitDyBias - best.splitDy).toFixed(2)}), accumulate ${best.accumulate.toFixed(2)} ms ${pc(best.accumulate)}, combine ${best.combine.toFixed(3)} ms`);
  for (const [p, t] of Object.entries(best)) totals[p] = (totals[p] ?? 0) + t;
  free([x, dy, buf, db, dw]);
}
const g = totals.gemmA + totals.gemmB + totals.gemmC;
console.log(`all five: kernel ${totals.kernel.toFixed(1)} ms; gemms ${g.toFixed(1)}, split x ${totals.splitX.toFixed(1)}, split dy ${totals.splitDyBias.toFixed(1)} (bias sum ${(totals.splitDyBias - totals.splitDy).toFixed(1)}), accumulate ${totals.accumulate.toFixed(1)}, combine ${totals.combine.toFixed(2)}`);
