// The Conv-1D autoencoder's convolutions layer by layer (defaults: filters
// 16/32/64, kernels 15/11/7, batch 256, 512 samples), as a training step
// calls them: the forward convolution, the input gradient and the filter +
// bias gradient of every layer. Process CPU ms, fastest of ROUNDS (7), the
// kernels of two builds alternated in one process (this VM's speed drifts),
// and the f32x4 FMA peak of the same process, so that each kernel's GFLOP/s
// reads as a share of it: "exec" counts the products the first build's kernel
// executes (~0.77 of direct for the 2-parallel fast FIR, ~0.6 for the
// 4-parallel one where its fir4Pays chooses it — for filter gradients its
// filterGradLevels —, all of direct for the one-channel ends), "direct" the
// direct convolution's. Not part of
// `npm run bench`:
//
//   node bench/conv-fir-layers.mjs dist [OTHER_DIST]          (after `npm run build`)
//
// e.g. against main at 0ad29ce: git worktree add /tmp/base 0ad29ce && (cd /tmp/base && npm ci).
// ONLY=text keeps the rows naming it; LEVELS=1,2 runs the first build's forward
// convolutions at each fast-FIR level in turn instead of two builds (LEVELS=2:
// forced in both builds); BREAKDOWN=1 also splits the 2-parallel kernels into
// their passes (split, the three GEMMs, combine), calling the first build's
// wasm exports with the same shapes (the filter gradients' only for builds
// before fir2GradGemm: bench/conv-fgrad-parts.mjs times its passes); PASSES=1
// (with two builds) only times the 4-parallel FIR's two passes, fir4Split and
// fir4Combine, of both builds alternated on the same buffers, at the shapes and
// blocks the forward and input-gradient convolutions give them.
import { pathToFileURL } from 'node:url';
import { peakGflops, peakKernel } from './wasm-peak-kernel.mjs';

const dists = process.argv.slice(2).map((d) => pathToFileURL(d).href);
const { initBackend } = await import(`${dists[0]}/ml/backend.js`);
const { tf } = await initBackend('wasm');
const backend = tf.backend();
const builds = [];
for (const d of dists) {
  (await import(`${d}/ml/kernels/common.js`)).bindTf(tf);
  builds.push({
    conv2D: (await import(`${d}/ml/kernels/conv1d.js`)).conv2D,
    inputGrad: (await import(`${d}/ml/kernels/conv1d-grads.js`)).conv1dInputGrad,
    filterBiasGrad: (await import(`${d}/ml/kernels/conv1d-grads.js`)).conv1dFilterBiasGrad,
    k: (await import(`${d}/ml/kernels/simd.js`)).simdKernels(backend),
    measure: (await import(`${d}/ml/kernels/conv1d-fir2.js`)).measureFirLevels,
  });
}
// LEVELS=1,2: the first build's forward convolutions with the fast FIR's levels forced to each value in turn,
// instead of two builds; LEVELS=2: forced in both builds
const levels = (process.env.LEVELS ?? '').split(',').filter(Boolean).map(Number);
if (levels.length > 1) builds.splice(0, builds.length, ...levels.map((l) => ({ ...builds[0], levels: l })));
else if (levels.length === 1) for (const b of builds) b.levels = levels[0];
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const B = Number(process.env.BATCH ?? 256);
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e3; };
const T = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const free = (ts) => { for (const t of [ts].flat()) backend.disposeData(t.dataId); };

// [name, length, cin, cout, taps, input gradient computed]: the decoder's
// blocks are upsampleConv1d's phase convolutions (x's length, (k+1)/2-ish
// taps, 2·outC channels), the first layer has no input gradient (data input)
const LAYERS = [
  ['enc.conv0', 512, 1, 16, 15, false],
  ['enc.conv1', 256, 16, 32, 11, true],
  ['enc.conv2', 128, 32, 64, 7, true],
  ['dec.conv2', 64, 64, 64, 5, true],
  ['dec.conv1', 128, 32, 32, 7, true],
  ['dec.conv0', 256, 16, 32, 9, true],
  ['dec.out', 512, 16, 1, 15, true],
];
const directFlops = (l, ci, co, k) => 2 * B * l * k * ci * co;
/** taps × rows a fast FIR of `levels` executes: P0 (⌊l/2⌋+1 rows, ⌈k/2⌉ taps), P1 (⌈l/2⌉, ⌊k/2⌋), P2 (⌊l/2⌋, ⌈k/2⌉), each split again while levels remain */
const firTaps = (k, l, levels) => levels === 0 || k < 2 || l < 2 ? k * l
  : firTaps(Math.ceil(k / 2), Math.floor(l / 2) + 1, levels - 1) + firTaps(Math.floor(k / 2), Math.ceil(l / 2), levels - 1) + firTaps(Math.ceil(k / 2), Math.floor(l / 2), levels - 1);
/** the filter gradient's: A, B, C over ⌈l/2⌉ rows with max(⌈k/2⌉, ⌊k/2⌋+1), ⌈k/2⌉ and ⌊k/2⌋ taps; at two levels each one's own three over half of those rows */
const sumTaps = (k) => Math.max(Math.ceil(k / 2), Math.floor(k / 2) + 1) + Math.ceil(k / 2) + Math.floor(k / 2);
const gradTaps = (k, l, levels = 1) => levels === 1 ? Math.ceil(l / 2) * sumTaps(k)
  : Math.ceil(Math.ceil(l / 2) / 2) * [Math.max(Math.ceil(k / 2), Math.floor(k / 2) + 1), Math.ceil(k / 2), Math.floor(k / 2)].reduce((s, t) => s + sumTaps(t), 0);
const { fir2Pays, fir4Pays = () => false, filterGradLevels = () => 1 } = await import(`${dists[0]}/ml/kernels/conv1d-fir2.js`);
const fir2Flops = (l, ci, co, k) => 2 * B * ci * co * firTaps(k, l, 1);
/** the products the first build executes: 4-parallel where its fir4Pays says so (the forward rows; LEVELS: as forced), 2-parallel where fir2Pays, else direct */
const execFlops = (row, l, ci, co, k) => {
  const d = { n: B, w: l, cin: ci, cout: co, fw: k, left: (k - 1) / 2, ow: l };
  if (!fir2Pays(d)) return directFlops(l, ci, co, k);
  return 2 * B * ci * co * (row.grad ? gradTaps(k, l, filterGradLevels(d)) : firTaps(k, l, builds[0].levels ?? (fir4Pays(d) ? 2 : 1)));
};

if (process.env.PASSES) {
  // the rows of the tree in src/ml/kernels/conv1d-fir2.ts (forwardTree, splitRows, fusedLayout, blockOf) for 'same' padding
  const parts = (t, o) => [[Math.ceil(t / 2), Math.floor(o / 2) + 1], [Math.floor(t / 2), Math.ceil(o / 2)], [Math.ceil(t / 2), Math.floor(o / 2)]];
  const rowsOf = (t, o) => Math.max(...parts(t, o).map(([a, b]) => a + b)) - 1;
  for (const [name, L, ci, co, fw, withInput] of LAYERS) {
    for (const [what, cin, cout] of [['forward', ci, co], ...(withInput ? [['input grad', co, ci]] : [])]) {
      const d = { n: B, w: L, cin, cout, fw, left: (fw - 1) / 2, ow: L };
      if (!fir4Pays(d)) continue;
      const v1 = rowsOf(fw, L);
      const v2 = Math.max(...parts(fw, L).map(([t, o]) => rowsOf(t, o)));
      const leafOutputs = parts(fw, L).flatMap(([t, o]) => parts(t, o).map(([, oo]) => oo));
      const rows = cout > 32 ? v2 : Math.max(...leafOutputs);
      const per = 9 * (v2 * cin + rows * cout);
      const nb = Math.max(1, Math.min(B, Math.floor((128 * 1024) / per)));
      const x = T([B, L, cin], 1), y = T([B, L, cout], 2), bias = T([cout], 3), buf = T([nb * per + 64], 4);
      const [arrays, products] = [nb * v2 * cin * 4, nb * rows * cout * 4];
      const split = builds.map(() => Infinity), combine = builds.map(() => Infinity);
      for (let r = 0; r < ROUNDS; r++) {
        for (const i of r % 2 ? [...builds.keys()].reverse() : [...builds.keys()]) {
          const k = builds[i].k;
          let c = cpu();
          for (let q0 = 0; q0 < B; q0 += nb) k.exports.fir4Split(k.ptr(x) + q0 * L * cin * 4, k.ptr(buf), arrays, Math.min(nb, B - q0), L, cin, d.left, v1, v2);
          split[i] = Math.min(split[i], cpu() - c);
          c = cpu();
          for (let q0 = 0; q0 < B; q0 += nb) k.exports.fir4Combine(k.ptr(buf) + 9 * arrays, products, rows, k.ptr(bias), k.ptr(y) + q0 * L * cout * 4, Math.min(nb, B - q0), cout, L);
          combine[i] = Math.min(combine[i], cpu() - c);
        }
      }
      const ab = (t) => (t.length > 1 ? ` other ${t[1].toFixed(2)} ms, this/other ${(t[0] / t[1]).toFixed(3)}` : '');
      console.log(`${`${name} ${what} ${cin}→${cout} k${fw} L${L}`.padEnd(40)} fir4Split ${split[0].toFixed(2)} ms${ab(split)}   fir4Combine ${combine[0].toFixed(2)} ms${ab(combine)}`);
      free([x, y, bias, buf]);
    }
  }
  process.exit(0);
}

const rows = [];
for (const [name, L, ci, co, k, withInput] of LAYERS) {
  const x = T([B, L, ci], 1), w = T([k, ci, co], 2), bias = T([co], 3), dy = T([B, L, co], 4);
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
  rows.push({ name: `${name} forward ${ci}→${co} k${k} L${L}`, dims: [L, ci, co, k], run: (b) => free(b.conv2D({ backend, inputs: { x: { ...x, shape: [B, 1, L, ci] }, filter: { ...w, shape: [1, k, ci, co] } }, attrs })) });
  if (withInput) rows.push({ name: `${name} input grad ${co}→${ci} k${k} L${L}`, dims: [L, co, ci, k], run: (b) => free(b.inputGrad({ backend, inputs: { dy, w }, attrs: {} })) });
  rows.push({ name: `${name} filter grad ${ci}·${co} k${k} L${L}`, grad: true, dims: [L, ci, co, k], run: (b) => free(b.filterBiasGrad({ backend, inputs: { x, dy }, attrs: { k } })) });
  void bias;
}

const kernel = peakKernel();
let peak = 0;
for (let r = 0; r < 3; r++) peak = Math.max(peak, peakGflops(kernel, 3e7));
const totals = builds.map(() => 0);
// ONLY=text keeps the rows naming it
for (const row of rows.filter((r) => r.name.includes(process.env.ONLY ?? ''))) {
  const best = builds.map(() => Infinity);
  for (let r = 0; r < ROUNDS; r++) {
    // the builds' order reversed every other round: the one run second in a round measured a few % slower
    const order = r % 2 ? [...builds.keys()].reverse() : [...builds.keys()];
    for (const i of order) { const b = builds[i]; b.measure?.(b.levels); const c = cpu(); row.run(b); best[i] = Math.min(best[i], cpu() - c); }
  }
  best.forEach((t, i) => { totals[i] += t; });
  const [L, ci, co, k] = row.dims;
  const g = (f, t) => (f / t / 1e6).toFixed(1).padStart(5);
  const pct = (f, t) => `${((100 * f) / t / 1e6 / peak).toFixed(0).padStart(3)}%`;
  const d = directFlops(L, ci, co, k), e = execFlops(row, L, ci, co, k);
  const ab = best.length > 1 ? `  other ${best[1].toFixed(2).padStart(6)} ms  this/other ${(best[0] / best[1]).toFixed(3)}` : '';
  console.log(`${row.name.padEnd(40)} ${best[0].toFixed(2).padStart(6)} ms  direct ${g(d, best[0])} GFLOP/s ${pct(d, best[0])}  exec ${g(e, best[0])} ${pct(e, best[0])} (${(e / d).toFixed(2)} of direct)${ab}`);
}
for (let r = 0; r < 3; r++) peak = Math.max(peak, peakGflops(kernel, 3e7));
console.log(`FMA peak ${peak.toFixed(1)} GFLOP/s per CPU-second; the step's convolutions: this ${totals[0].toFixed(1)} ms${totals.length > 1 ? `, other ${totals[1].toFixed(1)} ms, this/other ${(totals[0] / totals[1]).toFixed(3)}` : ''}`);

if (process.env.BREAKDOWN) {
  // the fast FIR's passes as ./src/ml/kernels/conv1d-fir2.ts runs them, over the whole batch in its blocks
  const k = builds[0].k;
  const BLOCK_FLOATS = 128 * 1024;
  const blockOf = (per) => Math.max(1, Math.min(B, Math.floor(BLOCK_FLOATS / per)));
  const gemmAt = (a, b, c, m, n, depth, transA, batch, sA, sB, lda, acc) => {
    const scratch = k.scratch(k.exports.gemmScratchFloats(m, n, depth) * 4);
    k.exports.gemm(a, b, c, m, n, depth, transA ? 1 : 0, 0, 0, 0, scratch, batch, sA, sB, m * n, lda, acc ? 1 : 0);
  };
  const shapes = [];
  for (const [name, L, ci, co, kk, withInput] of LAYERS) {
    if (ci >= 4 && co >= 8) shapes.push([`${name} forward`, L, ci, co, kk, 'fwd']);
    if (withInput && co >= 4 && ci >= 8) shapes.push([`${name} input grad`, L, co, ci, kk, 'fwd']);
    // filter gradients since fir2GradGemm: bench/conv-fgrad-parts.mjs
    if (ci >= 4 && co >= 8 && k.exports.fir2SplitGrad) shapes.push([`${name} filter grad`, L, ci, co, kk, 'grad']);
  }
  for (const [name, L, cin, cout, fw, kind] of shapes) {
    const kE = Math.ceil(fw / 2), kO = Math.floor(fw / 2), ue = Math.ceil(L / 2), uo = Math.floor(L / 2), u0 = uo + 1;
    const left = (fw - 1) / 2;
    const x = T([B, L, cin], 5), y = T([B, L, cout], 6), wv = T([(2 * kE + kO) * cin * cout], 7);
    const fwd = kind === 'fwd';
    const kA = Math.max(kE, kO + 1);
    const v = fwd ? u0 + kE - 1 : ue + kA - 1;
    const per = fwd ? 3 * v * cin + (u0 + ue + uo) * cout : 3 * v * cin + 3 * ue * cout;
    const nb = blockOf(per);
    const buf = T([nb * per + 2 * (kA + kE + kO) * cin * cout], 8);
    const xe = k.ptr(buf), xo = xe + nb * v * cin * 4, xs = xo + nb * v * cin * 4, p = xs + nb * v * cin * 4;
    const tap = cin * cout;
    const sums = p + nb * 3 * ue * cout * 4 + 64;
    const parts = { split: 0, gemm0: 0, gemm1: 0, gemm2: 0, combine: 0 };
    const best = { split: Infinity, gemm0: Infinity, gemm1: Infinity, gemm2: Infinity, combine: Infinity };
    for (let r = 0; r < ROUNDS; r++) {
      const t = { ...parts };
      const time = (key, f) => { const c = cpu(); f(); t[key] += cpu() - c; };
      for (let q0 = 0; q0 < B; q0 += nb) {
        const q = Math.min(nb, B - q0);
        if (fwd) {
          const p0 = p, p1 = p0 + nb * u0 * cout * 4, p2 = p1 + nb * ue * cout * 4;
          time('split', () => k.exports.fir2Split(k.ptr(x) + q0 * L * cin * 4, xe, xo, xs, q, L, cin, left, v));
          time('gemm0', () => gemmAt(xe, k.ptr(wv), p0, u0, cout, kE * cin, false, q, v * cin, 0, cin, false));
          time('gemm1', () => gemmAt(xo, k.ptr(wv), p1, ue, cout, kO * cin, false, q, v * cin, 0, cin, false));
          time('gemm2', () => gemmAt(xs, k.ptr(wv), p2, uo, cout, kE * cin, false, q, v * cin, 0, cin, false));
          time('combine', () => k.exports.fir2Combine(p0, p1, p2, k.ptr(wv), k.ptr(y) + q0 * L * cout * 4, q, cout, u0, ue, uo));
        } else {
          const d0 = p, d1 = d0 + nb * ue * cout * 4, ds = d1 + nb * ue * cout * 4;
          time('split', () => {
            k.exports.fir2Split(k.ptr(x) + q0 * L * cin * 4, xe, xo, xs, q, L, cin, left, v);
            k.exports.fir2SplitGrad(k.ptr(y) + q0 * L * cout * 4, d0, d1, ds, 0, q, L, cout, ue);
          });
          time('gemm0', () => gemmAt(xe, d0, sums, kA * cin, cout, ue, true, q, v * cin, ue * cout, cin, true));
          time('gemm1', () => gemmAt(xo, d1, sums, kE * cin, cout, ue, true, q, v * cin, ue * cout, cin, true));
          time('gemm2', () => gemmAt(xs, ds, sums, kO * cin, cout, ue, true, q, v * cin, ue * cout, cin, true));
          time('combine', () => k.exports.fir2Accumulate(sums, sums + tap * 4, tap));
        }
      }
      for (const key of Object.keys(best)) best[key] = Math.min(best[key], t[key]);
    }
    const gem = best.gemm0 + best.gemm1 + best.gemm2;
    const e = fir2Flops(L, cin, cout, fw);
    console.log(`${`${name} ${cin}→${cout} k${fw} L${L}`.padEnd(40)} split ${best.split.toFixed(2)} ms  gemms ${best.gemm0.toFixed(2)}+${best.gemm1.toFixed(2)}+${best.gemm2.toFixed(2)} = ${gem.toFixed(2)} ms (${(e / gem / 1e6).toFixed(1)} GFLOP/s, ${((100 * e) / gem / 1e6 / peak).toFixed(0)}% of peak)  combine ${best.combine.toFixed(2)} ms  blocks of ${nb}`);
    free([x, y, wv, buf]);
  }
}
