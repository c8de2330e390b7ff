// The Conv-1D autoencoder's convolutions, one training step's worth: the
// default network (filters 16-32-64, kernels 15-11-7, 512 channels) at batch
// 256 — every layer's forward convolution, input gradient (a forward
// convolution of dy with the flipped kernel, as src/ml/nn.ts computes it)
// and filter gradient, at the shapes the wasm kernels see (the decoder's
// phase convolutions included). Process CPU ms per call (fastest of
// BENCH_ROUNDS, 5) and GFLOP/s counted as the direct convolution's
// 2·b·L·cin·cout·k, so a kernel that computes fewer products (the fast FIR
// of src/ml/kernels/conv1d-fir2.ts) shows as more GFLOP/s; compare with
// `node bench/run.mjs wasm-peak`.
//
//   node bench/run.mjs conv1d       (after `npm run build`)
//
// BENCH_CONV_BASELINE=<another build's dist/> adds that build's kernels,
// called alternately with this one's in the same process (both on this
// build's tfjs and wasm memory), with the ratio and the largest difference
// between their outputs relative to the largest output; then one training of
// the default Conv-1D AE (1000 × 512, batch 256, one thread, this build's
// code) whose convolution kernels (Conv2D, FusedConv2D,
// Conv2DBackpropFilter) alternate between the two builds epoch by epoch,
// with each one's process CPU ms per epoch (BENCH_CONV_EPOCHS, 8 after the
// first; 0 skips it).
import { fileURLToPath } from 'node:url';
import { benchSpectra } from './training-data.mjs';

const B = 256;
// [what, length, cin, cout, k, pass]
const SHAPES = [
  ['enc0', 512, 1, 16, 15, 'fwd'],
  ['enc1', 256, 16, 32, 11, 'fwd'],
  ['enc2', 128, 32, 64, 7, 'fwd'],
  ['dec2 (phases)', 64, 64, 64, 5, 'fwd'],
  ['dec1 (phases)', 128, 32, 32, 7, 'fwd'],
  ['dec0 (phases)', 256, 16, 32, 9, 'fwd'],
  ['out', 512, 16, 1, 15, 'fwd'],
  ['out', 512, 1, 16, 15, 'dx'],
  ['dec0 (phases)', 256, 32, 16, 9, 'dx'],
  ['dec1 (phases)', 128, 32, 32, 7, 'dx'],
  ['dec2 (phases)', 64, 64, 64, 5, 'dx'],
  ['enc2', 128, 64, 32, 7, 'dx'],
  ['enc1', 256, 32, 16, 11, 'dx'],
  ['enc0', 512, 1, 16, 15, 'dw'],
  ['enc1', 256, 16, 32, 11, 'dw'],
  ['enc2', 128, 32, 64, 7, 'dw'],
  ['dec2 (phases)', 64, 64, 64, 5, 'dw'],
  ['dec1 (phases)', 128, 32, 32, 7, 'dw'],
  ['dec0 (phases)', 256, 16, 32, 9, 'dw'],
  ['out', 512, 16, 1, 15, 'dw'],
];

const here = fileURLToPath(new URL('../dist/', import.meta.url));
const { initBackend } = await import(`${here}ml/backend.js`);
const { tf } = await initBackend('wasm');
const backend = tf.backend();

async function kernelsOf(dist) {
  const root = dist.endsWith('/') ? dist : `${dist}/`;
  (await import(`${root}ml/kernels/common.js`)).bindTf(tf);
  const conv = await import(`${root}ml/kernels/conv1d.js`);
  const filter = await import(`${root}ml/kernels/conv2d-backprop-filter.js`);
  return { conv2D: conv.conv2D, fusedConv2D: conv.fusedConv2D, filterGrad: filter.conv2DBackpropFilter };
}

const builds = [['this build', await kernelsOf(here)]];
if (process.env.BENCH_CONV_BASELINE) builds.push(['baseline', await kernelsOf(process.env.BENCH_CONV_BASELINE)]);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e3;
};
const info = (t) => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });

console.log(`Conv-1D AE convolutions, batch ${B}, process CPU ms per call (fastest of ${rounds}), GFLOP/s of the direct convolution's products`);
const totals = builds.map(() => 0);
let flopsTotal = 0;
for (const [what, L, cin, cout, k, pass] of SHAPES) {
  const x = tf.randomNormal([B, 1, L, cin], 0, 1, 'float32', 1);
  const w = tf.randomNormal([1, k, cin, cout], 0, 1, 'float32', 2);
  const bias = tf.randomNormal([cout], 0, 1, 'float32', 3);
  const dy = tf.randomNormal([B, 1, L, cout], 0, 1, 'float32', 4);
  const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], filterShape: [1, k, cin, cout], activation: 'linear' };
  const call = (kernels) => pass === 'dw'
    ? kernels.filterGrad({ inputs: { x: info(x), dy: info(dy) }, backend, attrs })
    : pass === 'fwd'
      ? kernels.fusedConv2D({ inputs: { x: info(x), filter: info(w), bias: info(bias) }, backend, attrs })
      : kernels.conv2D({ inputs: { x: info(x), filter: info(w) }, backend, attrs });
  const best = builds.map(() => Infinity);
  const outputs = [];
  for (let r = 0; r <= rounds; r++) {
    builds.forEach(([, kernels], i) => {
      const c0 = cpuMs();
      const out = call(kernels);
      const dt = cpuMs() - c0;
      if (r > 0) best[i] = Math.min(best[i], dt); // round 0 warms up
      if (r === rounds) outputs[i] = backend.readSync(out.dataId).slice();
      backend.disposeData(out.dataId);
    });
  }
  const flops = 2 * B * L * cin * cout * k;
  flopsTotal += flops;
  best.forEach((ms, i) => { totals[i] += ms; });
  const cells = best.map((ms) => `${ms.toFixed(2).padStart(7)} ms ${(flops / ms / 1e6).toFixed(1).padStart(5)} GFLOP/s`);
  let tail = '';
  if (builds.length > 1) {
    let diff = 0;
    let scale = 1e-30;
    for (let j = 0; j < outputs[0].length; j++) {
      diff = Math.max(diff, Math.abs(outputs[0][j] - outputs[1][j]));
      scale = Math.max(scale, Math.abs(outputs[1][j]));
    }
    tail = `  ${(best[0] / best[1]).toFixed(2)}×  max diff ${(diff / scale).toExponential(1)}`;
  }
  console.log(`${pass.padEnd(3)} ${what.padEnd(14)} L ${String(L).padStart(3)} ${String(cin).padStart(2)}→${String(cout).padEnd(2)} k ${String(k).padStart(2)}  ${cells.join('  |  ')}${tail}`);
  tf.dispose([x, w, bias, dy]);
}
const sums = totals.map((ms) => `${ms.toFixed(1)} ms (${(flopsTotal / ms / 1e6).toFixed(1)} GFLOP/s)`);
console.log(`one step's convolutions: ${builds.map(([name], i) => `${name} ${sums[i]}`).join(', ')}${builds.length > 1 ? `: ${(totals[0] / totals[1]).toFixed(3)}×` : ''}`);

const epochs = Number(process.env.BENCH_CONV_EPOCHS ?? 8);
if (builds.length > 1 && epochs > 0) {
  const { trainAutoencoder } = await import(`${here}ml/train.js`);
  let current = 0;
  for (const name of ['Conv2D', 'FusedConv2D', 'Conv2DBackpropFilter']) {
    const key = { Conv2D: 'conv2D', FusedConv2D: 'fusedConv2D', Conv2DBackpropFilter: 'filterGrad' }[name];
    const config = tf.getKernel(name, 'wasm');
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...config, kernelFunc: (args) => builds[current][1][key](args) });
  }
  const n = 1000;
  const d = 512;
  const x = benchSpectra(n, d);
  const perEpoch = builds.map(() => []);
  let c0;
  await trainAutoencoder({ n, d, x }, {
    arch: 'conv1d', latentDim: 8, epochs: epochs + 1, batchSize: 256, validation: 0, seed: 1, threads: 1,
    onEpoch: ({ epoch }) => {
      if (c0 !== undefined) perEpoch[current].push(cpuMs() - c0); // the first epoch (start-up) is not counted
      current = (epoch + 1) % builds.length;
      c0 = cpuMs();
    },
  });
  const median = (a) => [...a].sort((p, q) => p - q)[Math.floor((a.length - 1) / 2)];
  const line = builds.map(([name], i) => `${name} ${perEpoch[i].map((ms) => ms.toFixed(0)).join(' ')}`).join('; ');
  console.log(`training epochs, kernels alternating (CPU ms): ${line}; median ${(median(perEpoch[0]) / median(perEpoch[1])).toFixed(3)}×, fastest ${(Math.min(...perEpoch[0]) / Math.min(...perEpoch[1])).toFixed(3)}×`);
}
