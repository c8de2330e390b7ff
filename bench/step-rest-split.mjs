// What a training step's CPU time outside the kernels (bench/kernel-profile.mjs's
// "rest") is made of, over steady epochs of trainAutoencoder (the first epoch is
// not counted): the forward pass's JavaScript (tfjs's engine, tape recording,
// customGrad, saving tensors for the backward pass, specflow's op wrappers), the
// backward pass's (tfjs's backpropagation, gradient closures, accumulation,
// disposal), the optimizer (the fused Adam runs its wasm update directly, not
// as a registered kernel, so it is in "rest" too), and what the training loop
// does between steps (batches, uploads, the per-epoch weight check). Also
// counted: the tensors saved for the backward pass (each an Identity op and a
// tape node) and the zero gradients tfjs makes for a kernel's outputs nothing
// uses. Not part of `npm run bench` (no .bench.mjs suffix):
//
//   node bench/step-rest-split.mjs [dense|conv1d|transformer] [BATCH=256] [EPOCHS=3]     (after `npm run build`)
//
// Process CPU time (process.cpuUsage). Each kernel call is timed by two
// cpuUsage calls; their cost is printed. GC is not counted here: the timers'
// own allocations cause most of what a profiled training collects (an
// unprofiled one's steady epochs, `node --trace-gc`, run a few scavenges and
// about one mark-compact per ten epochs, ~0.5 ms an epoch for the Transformer).
import { getTf } from '../dist/ml/engine.js';
import { trainAutoencoder } from '../dist/ml/train.js';
import { benchSpectra } from './training-data.mjs';
import { wrapKernels } from './wrap-kernels.mjs';

const arch = process.argv[2] ?? 'transformer';
const bs = Number(process.argv[3] ?? 256);
const epochs = Number(process.argv[4] ?? 3);
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const { tf } = await getTf();
const engine = tf.engine();
const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

let on = false;
let phase = 'outside'; // 'forward' | 'backward' | 'outside'
const t = { kernels: 0, calls: 0, kernelsIn: { forward: 0, backward: 0, outside: 0 }, forward: 0, gradients: 0, minimize: 0 };
const saved = { calls: 0, us: 0 };
const zeros = { calls: 0, values: 0, us: 0 };

let depth = 0;
wrapKernels(tf, (_name, f, args) => {
  if (!on || depth) return f(args);
  depth++;
  const c = cpu();
  try {
    return f(args);
  } finally {
    const dt = cpu() - c;
    depth--;
    t.kernels += dt;
    t.calls++;
    t.kernelsIn[phase] += dt;
  }
});
const timed = (obj, key, onCall) => {
  const f = obj[key];
  obj[key] = function (...a) {
    if (!on) return f.apply(this, a);
    const c = cpu();
    try {
      return f.apply(this, a);
    } finally {
      onCall(cpu() - c, a);
    }
  };
};
// the forward pass runs as engine.tidy('forward', f) inside engine.gradients
const tidy = engine.tidy;
engine.tidy = function (nameOrFn, fn) {
  if (!on || nameOrFn !== 'forward') return tidy.call(this, nameOrFn, fn);
  phase = 'forward';
  const c = cpu();
  try {
    return tidy.call(this, nameOrFn, fn);
  } finally {
    t.forward += cpu() - c;
    phase = 'backward';
  }
};
timed(engine, 'gradients', (dt) => {
  t.gradients += dt;
  phase = 'outside';
});
timed(tf.Optimizer.prototype, 'minimize', (dt) => (t.minimize += dt));
// tensors saved for the backward pass: engine.clone (an Identity op, keep, a tape node)
timed(engine, 'clone', (dt) => {
  saved.calls++;
  saved.us += dt;
});
// a kernel output with no gradient gets a zero tensor made in JavaScript and uploaded
timed(engine, 'makeTensor', (dt, [values]) => {
  if (phase !== 'backward') return;
  zeros.calls++;
  zeros.values += values.length;
  zeros.us += dt;
});

// the timer's own cost per kernel call (two cpuUsage calls)
const c0 = cpu();
for (let i = 0; i < 10000; i++) cpu(), cpu();
const timerUs = (cpu() - c0) / 10000;

let start;
let total;
await trainAutoencoder({ n, d, x: benchSpectra(n, d) }, {
  arch, latentDim: 8, epochs: epochs + 1, batchSize: bs, validation: 0, seed: 1,
  onEpoch: ({ epoch }) => {
    if (epoch === 1) {
      on = true;
      start = cpu();
    } else if (epoch === epochs + 1) {
      on = false;
      total = cpu() - start;
    }
  },
});
const ms = (us) => (us / epochs / 1e3).toFixed(1).padStart(7);
const k = t.kernelsIn;
const backward = t.gradients - t.forward;
const rest = total - t.kernels;
console.log(`${arch}, batch ${bs}, ${n} × ${d}: ms of process CPU per epoch over ${epochs} steady epochs`);
console.log(`${ms(total)}  total; kernels ${ms(t.kernels).trim()} in ${t.calls / epochs} calls (of which the timer ~${ms(timerUs * t.calls).trim()}, ${timerUs.toFixed(2)} µs a call)`);
console.log(`${ms(rest)}  outside kernels ("rest"):`);
console.log(`${ms(t.forward - k.forward)}    forward pass's JavaScript (forward ${ms(t.forward).trim()}, its kernels ${ms(k.forward).trim()})`);
console.log(`${ms(backward - k.backward)}    backward pass's JavaScript (backward ${ms(backward).trim()}, its kernels ${ms(k.backward).trim()})`);
console.log(`${ms(t.minimize - t.gradients)}    optimizer (the fused Adam's wasm included)`);
console.log(`${ms(total - t.minimize - k.outside)}    between steps (batches, uploads, loss read-back, weight check)`);
console.log(`  saved tensors: ${saved.calls / epochs} an epoch, ${ms(saved.us).trim()} ms in engine.clone (${(saved.us / Math.max(1, saved.calls)).toFixed(1)} µs each with the timer), part of the forward's`);
console.log(`  zero gradients for unused outputs: ${zeros.calls / epochs} an epoch of ${(zeros.values / Math.max(1, zeros.calls)).toFixed(0)} values, ${ms(zeros.us).trim()} ms in makeTensor, part of the backward's`);
