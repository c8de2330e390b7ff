// Where a training step's JavaScript goes: V8's sampling profiler (node:inspector)
// over steady epochs of trainAutoencoder (the first epoch, start-up, is not
// sampled), self time summed by function and by package. Wasm code (the
// kernels' inner loops) is one group; everything else is the JavaScript
// around them. Not part of `npm run bench` (no .bench.mjs suffix):
//
//   node bench/step-js-profile.mjs [dense|conv1d|transformer] [BATCH=256] [EPOCHS=6]     (after `npm run build`)
//
// TOP=N function rows (40). The profiler's own overhead inflates short
// functions a little; compare builds with the same script, not with
// bench/kernel-profile.mjs's "rest".
import { Session } from 'node:inspector/promises';
import { getTf } from '../dist/ml/engine.js';
import { trainAutoencoder } from '../dist/ml/train.js';
import { benchSpectra } from './training-data.mjs';

const arch = process.argv[2] ?? 'dense';
const bs = Number(process.argv[3] ?? 256);
const epochs = Number(process.argv[4] ?? 6);
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
await getTf();
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });
let started;
let stopped;
await trainAutoencoder({ n, d, x: benchSpectra(n, d) }, {
  arch, latentDim: 8, epochs, batchSize: bs, validation: 0, seed: 1,
  onEpoch: ({ epoch }) => {
    // the callback is synchronous: start and stop are posted and run before the next step
    if (epoch === 1) started = session.post('Profiler.start');
    else if (epoch === epochs) stopped = session.post('Profiler.stop');
  },
});
await started;
const { profile } = await (stopped ?? session.post('Profiler.stop'));
session.disconnect();

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const pkg = (url) => {
  if (!url) return '(native/none)';
  if (url.startsWith('wasm://')) return 'wasm';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (m) return m[1];
  if (url.includes('/dist/')) return `specflow ${url.slice(url.indexOf('/dist/') + 1)}`;
  return url.replace(/^.*\//, '');
};
const fns = new Map();
const pkgs = new Map();
let total = 0;
for (const [id, us] of selfUs) {
  const { callFrame: f } = byId.get(id);
  const p = pkg(f.url);
  const file = f.url ? f.url.replace(/^.*\/(node_modules\/)?/, '') : '';
  const key = `${f.functionName || '(anonymous)'}  ${p === 'wasm' ? 'wasm' : `${p.startsWith('specflow') ? p : `${p} ${file}`}:${f.lineNumber + 1}`}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
  const group = f.functionName.startsWith('(') ? f.functionName : p.startsWith('specflow') ? 'specflow (dist/)' : p;
  pkgs.set(group, (pkgs.get(group) ?? 0) + us);
  total += us;
}
const steps = (epochs - 1) * Math.ceil(n / bs);
const perStep = (us) => (us / 1e3 / steps).toFixed(3).padStart(7);
console.log(`${arch}, batch ${bs}, ${n} × ${d}: ${steps} steps sampled, ${perStep(total)} ms per step`);
console.log('by package (self time, ms per step):');
for (const [k, us] of [...pkgs].sort((a, b) => b[1] - a[1])) console.log(`  ${perStep(us)}  ${k}`);
// inclusive time of the functions a step is made of (each sample counted once per name on its stack)
const parent = new Map();
for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
const inclusive = new Map();
for (const [id, us] of selfUs) {
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const name = byId.get(at).callFrame.functionName;
    if (name && !seen.has(name)) {
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
}
const parts = (process.env.PARTS ?? 'Optimizer.minimize,Engine.gradients,backpropagateGradients,lossT,applyGradients,Engine.runKernelFunc,kernelFunc,Engine.tidy,Engine.disposeTensor,read,checkWeights').split(',');
console.log('inclusive (ms per step; PARTS=name,... to choose):');
for (const name of parts) console.log(`  ${perStep(inclusive.get(name) ?? 0)}  ${name}`);
console.log('by function:');
for (const [k, us] of [...fns].filter(([k]) => !process.env.NOWASM || !k.endsWith(" wasm")).sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 40))) console.log(`  ${perStep(us)}  ${k}`);
