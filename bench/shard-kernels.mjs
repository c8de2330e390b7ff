// Does a shard's gradient lose kernel efficiency at fewer rows? The forward/
// backward pass of a whole mini-batch against that of its two halves, one
// after the other in one process (rounds alternate the order), each wasm
// kernel timed in process CPU time (exclusive of kernels it calls): per
// kernel, the two halves' CPU over the whole batch's (0.50 = halves perfectly;
// above it, the kernel has a per-call cost that does not shrink with the rows).
// "rest" is CPU outside kernels (tfjs's engine, autodiff). SHAPES=1 splits each kernel by its first
// input's shape (n: the call's rows). Not part of `npm run bench`:
//
//   node bench/shard-kernels.mjs [dense|conv1d|transformer] [BATCH=64] [ROUNDS=12]    (after `npm run build`)
import { benchSpectra } from './training-data.mjs';
import { timeKernels } from './wrap-kernels.mjs';

const [arch = 'conv1d', batchArg = '64', roundsArg = '12'] = process.argv.slice(2);
const b = Number(batchArg);
const rounds = Number(roundsArg);
const dist = new URL('../dist', import.meta.url).href;
const { getTf } = await import(`${dist}/ml/engine.js`);
const { Autoencoder, withArchDefaults } = await import(`${dist}/ml/autoencoder.js`);
const shard = await import(`${dist}/ml/parallel/shard.js`);
const { tf } = await getTf();
const d = arch === 'dense' ? 1024 : 512;
const x = benchSpectra(b, d);
const config = withArchDefaults({ format: 'specflow-model', version: 1, arch, inputDim: d, latentDim: 8, loss: 'mse', scaling: { center: new Array(d).fill(0), scale: 1 } });
const model = new Autoencoder(tf, config, 1);
const half = Math.ceil(b / 2);

const ms = (c) => (c.user + c.system) / 1e3;
let bucket; // the Map the kernels' times go to now
let rowsNow = 0;
timeKernels(tf, (name, args, dt) => {
  // SHAPES=1: each kernel by its first input's shape with the whole batch's rows (the halves' as the whole's)
  const shape = process.env.SHAPES ? Object.values(args.inputs ?? {})[0]?.shape?.map((v, i) => (i === 0 && v === rowsNow ? 'n' : v)).join('×') : undefined;
  const key = shape ? `${name} ${shape}` : name;
  bucket.set(key, (bucket.get(key) ?? 0) + dt);
}, () => bucket !== undefined);
const whole = new Map();
const halves = new Map();
const dispose = (r) => { for (const g of r.grads) g.dispose(); for (const m of r.moments.values()) { m.mean.dispose(); m.variance.dispose(); } };
const run = (into, rows, from) => {
  const xs = x.subarray(from * d);
  const c = process.cpuUsage();
  bucket = into;
  rowsNow = rows;
  dispose(shard.shardGradient(tf, model, xs, xs, rows, b));
  bucket = undefined;
  into.set('(all)', (into.get('(all)') ?? 0) + ms(process.cpuUsage(c)));
};
for (let r = 0; r < rounds + 2; r++) {
  if (r === 2) { whole.clear(); halves.clear(); } // warm-up rounds
  const pieces = [() => run(whole, b, 0), () => { run(halves, half, 0); run(halves, b - half, half); }];
  if (r % 2) pieces.reverse();
  for (const p of pieces) p();
}
const kernels = (m) => [...m].filter(([k]) => k !== '(all)').reduce((s, [, v]) => s + v, 0);
whole.set('rest', whole.get('(all)') - kernels(whole));
halves.set('rest', halves.get('(all)') - kernels(halves));
console.log(`${arch}: forward/backward CPU per call, ms: ${b} rows | two halves of ${half} and ${b - half} | halves / whole (${rounds} rounds)`);
for (const [k, v] of [...whole].sort((p, q) => q[1] - p[1])) {
  const h = halves.get(k) ?? 0;
  if (v / rounds < 0.05 && h / rounds < 0.05) continue;
  console.log(`  ${(v / rounds).toFixed(2).padStart(8)} ${(h / rounds).toFixed(2).padStart(8)}   ${(h / v).toFixed(2)}  ${k}`);
}
