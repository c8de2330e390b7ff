// A training step through tfjs's engine against the same step replayed (src/ml/step-replay.ts), in one
// process, alternating: rounds of STEPS steps each way on one model and one optimizer (order rotating
// every round), process CPU time (process.cpuUsage) per step: the gradient, Adam, the batch-norm averages,
// the batch upload and the loss read, as the one-thread loop of src/ml/train.ts runs them. Not part of
// `npm run bench` (no .bench.mjs suffix):
//
//   nice -n 10 node bench/step-replay-ab.mjs [dense|conv1d|transformer] [BATCH=64] [ROUNDS=15] [STEPS=8]   (after `npm run build`)
//
// Prints the median over rounds of each way's CPU per step, the median of the rounds' differences, and
// that difference times the steps of bench/kernel-profile.mjs's epoch (dense 4000 spectra × 1024, the
// others 1000 × 512, 10 % held out). KERNELS=1 also times every kernel call (two cpuUsage calls each, in
// both ways alike) and splits each way's step into kernels and the rest.
import { getTf } from '../dist/ml/engine.js';
import { Autoencoder, withArchDefaults } from '../dist/ml/autoencoder.js';
import { createAdam } from '../dist/ml/optimizer.js';
import { GradientSteps } from '../dist/ml/gradient-step.js';
import { StepReplay } from '../dist/ml/step-replay.js';
import { updateBatchNorm } from '../dist/ml/nn.js';
import { benchSpectra } from './training-data.mjs';
import { wrapKernels } from './wrap-kernels.mjs';

const arch = process.argv[2] ?? 'transformer';
const b = Number(process.argv[3] ?? 64);
const rounds = Number(process.argv[4] ?? 15);
const steps = Number(process.argv[5] ?? 8);
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const stepsPerEpoch = Math.ceil(Math.round(0.9 * n) / b);
const { tf } = await getTf();
const x = benchSpectra(n, d);
const center = Array.from({ length: d }, (_, j) => { let s = 0; for (let i = 0; i < n; i++) s += x[i * d + j]; return s / n; });
const model = new Autoencoder(tf, withArchDefaults({
  format: 'specflow-model', version: 1, arch, inputDim: d, latentDim: 8, loss: 'mse', scaling: { center, scale: 3 },
}), 1);
const optimizer = createAdam(tf, 1e-4);
const vars = model.store.trainable();
const ways = {
  engine: new GradientSteps(tf, model, new StepReplay(tf, false)),
  replay: new GradientSteps(tf, model),
};
const cpu = () => { const c = process.cpuUsage(); return c.user + c.system; };
let inKernels = 0;
let kernelCalls = 0;
if (process.env.KERNELS === '1') {
  let depth = 0;
  wrapKernels(tf, (_name, f, args) => {
    if (depth) return f(args);
    depth++;
    kernelCalls++;
    const c = cpu();
    try { return f(args); } finally { inKernels += cpu() - c; depth--; }
  });
}
let at = 0;
const step = (gs) => {
  const rows = x.subarray(at * d, (at + b) * d);
  at = (at + b) % (n - b);
  const xb = tf.tensor2d(rows, [b, d]);
  const { loss, grads, moments } = gs.compute(xb, xb);
  optimizer.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
  tf.dispose(grads);
  updateBatchNorm(tf, model.store, { training: true, bnStats: moments });
  loss.dataSync();
  loss.dispose();
  xb.dispose();
};
for (let i = 0; i < 4; i++) { step(ways.engine); step(ways.replay); }
const tensorsBefore = tf.memory().numTensors;
const per = { engine: [], replay: [] };
const kernels = { engine: [], replay: [] };
const calls = { engine: 0, replay: 0 };
const diffs = [];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? ['replay', 'engine'] : ['engine', 'replay'];
  const got = {};
  for (const way of order) {
    const c = cpu();
    const k = inKernels;
    const n0 = kernelCalls;
    for (let s = 0; s < steps; s++) step(ways[way]);
    calls[way] += kernelCalls - n0;
    got[way] = (cpu() - c) / steps;
    kernels[way].push((inKernels - k) / steps);
    per[way].push(got[way]);
  }
  diffs.push(got.engine - got.replay);
}
const median = (a) => { const s = [...a].sort((p, q) => p - q); return s[s.length >> 1]; };
const e = median(per.engine);
const rp = median(per.replay);
const diff = median(diffs);
console.log(`${arch} batch ${b}: engine ${(e / 1000).toFixed(2)} ms/step, replay ${(rp / 1000).toFixed(2)} ms/step, `
  + `saved ${(diff / 1000).toFixed(2)} ms/step (${((100 * diff) / e).toFixed(1)} % of the step), `
  + `${((diff * stepsPerEpoch) / 1000).toFixed(1)} ms per epoch of ${stepsPerEpoch} steps; `
  + `replayed ${ways.replay.replays} steps; tensors ${tensorsBefore} → ${tf.memory().numTensors}`);
if (process.env.KERNELS === '1') {
  for (const way of ['engine', 'replay']) {
    const k = median(kernels[way]);
    console.log(`  ${way}: kernels ${(k / 1000).toFixed(2)} ms/step (${calls[way] / (rounds * steps)} calls a step), the rest ${((median(per[way]) - k) / 1000).toFixed(2)} ms/step`);
  }
}
