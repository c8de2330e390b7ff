// The dense autoencoder's relu layers two ways in one process, blocks of
// training steps alternated: tf.fused.matMul with relu (tfjs's op: operands
// reshaped to 3-D, four tensors saved, the gradient through Step, Multiply
// and reshapes) and nn.ts's matMulBiasRelu (SpecflowMatMulBiasRelu on the
// 2-D tensors, its gradient SpecflowReluGrad and the two products). Same
// network as `arch: dense` (1024-256-64-8 mirrored, relu), batch 256, Adam,
// MSE. Prints process CPU per step (the machine may be shared: compare the
// two columns, not the absolute figures), then with every kernel timed
// (wrapKernels) the split into kernels and the JavaScript around them.
// Not part of `npm run bench` (no .bench.mjs suffix):
//
//   node bench/relu-dense-ab.mjs [BLOCKS=6] [STEPS=12]     (after `npm run build`)
import { getTf } from '../dist/ml/engine.js';
import { matMulBias, matMulBiasRelu } from '../dist/ml/nn.js';
import { createAdam } from '../dist/ml/optimizer.js';
import { benchSpectra } from './training-data.mjs';
import { wrapKernels } from './wrap-kernels.mjs';

const blocks = Number(process.argv[2] ?? 6);
const steps = Number(process.argv[3] ?? 12);
const { tf } = await getTf();
const sizes = [1024, 256, 64, 8, 64, 256, 1024];
const layers = sizes.slice(1).map((n, i) => ({
  w: tf.variable(tf.randomNormal([sizes[i], n], 0, 0.05, 'float32', i + 1)),
  b: tf.variable(tf.zeros([n])),
  relu: i !== 2 && i !== sizes.length - 2,
}));
const x = tf.tensor2d(benchSpectra(256, 1024), [256, 1024]);
const optimizer = createAdam(tf, 1e-3);
const step = (direct) => {
  const cost = optimizer.minimize(() => {
    let h = x;
    for (const { w, b, relu } of layers) {
      h = !relu ? matMulBias(tf, h, w, b) : direct ? matMulBiasRelu(tf, h, w, b) : tf.fused.matMul({ a: h, b: w, bias: b, activation: 'relu' });
    }
    return tf.mean(tf.squaredDifference(h, x));
  }, true);
  cost.dataSync();
  cost.dispose();
};
const ms = (c) => (c.user + c.system) / 1e3;
let kernelMs = 0;
let timing = false;
wrapKernels(tf, (name, f, args) => {
  if (!timing) return f(args);
  const c = process.cpuUsage();
  const r = f(args);
  kernelMs += ms(process.cpuUsage(c));
  return r;
});
for (const direct of [false, true]) for (let i = 0; i < 3; i++) step(direct); // warm up both
const block = (direct) => {
  kernelMs = 0;
  const c = process.cpuUsage();
  for (let i = 0; i < steps; i++) step(direct);
  return { total: ms(process.cpuUsage(c)) / steps, kernels: kernelMs / steps };
};
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const wrapped of [false, true]) {
  timing = wrapped;
  const runs = { fused: [], direct: [] };
  for (let i = 0; i < blocks; i++) {
    runs.fused.push(block(false));
    runs.direct.push(block(true));
  }
  const row = (k) => {
    const t = median(runs[k].map((r) => r.total));
    return wrapped ? `${t.toFixed(2)} ms, kernels ${median(runs[k].map((r) => r.kernels)).toFixed(2)}, rest ${median(runs[k].map((r) => r.total - r.kernels)).toFixed(2)}` : `${t.toFixed(2)} ms`;
  };
  console.log(`${wrapped ? 'kernels timed' : 'plain'}, CPU per step (median of ${blocks} blocks of ${steps}): tf.fused.matMul relu ${row('fused')} | matMulBiasRelu ${row('direct')}`);
}
