// The per-step pieces of data-parallel training on one thread, timed in the
// process's CPU time (so the load of a shared machine does not count, its
// cache contention does): the forward/backward pass
// of a whole batch against that of each half (does splitting the batch lose
// GEMM efficiency?), and the team's extra work per step on each thread —
// gradients out to the shared buffer, summing the owned half over two shards
// with Adam, publishing it, loading the other half. Rounds alternate the pieces.
// Not part of `npm run bench`:
//
//   node bench/shard-costs.mjs [dense|conv1d|transformer] [BATCH=256] [ROUNDS=20]    (after `npm run build`)
import { benchSpectra } from './training-data.mjs';

const [arch = 'dense', batchArg = '256', roundsArg = '20'] = process.argv.slice(2);
const b = Number(batchArg);
const rounds = Number(roundsArg);
const dist = new URL('../dist', import.meta.url).href;
const { getTf } = await import(`${dist}/ml/engine.js`);
const { Autoencoder, withArchDefaults } = await import(`${dist}/ml/autoencoder.js`);
const { createAdam } = await import(`${dist}/ml/optimizer.js`);
const shard = await import(`${dist}/ml/parallel/shard.js`);
const { tf } = await getTf();
const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
const x = benchSpectra(b, d);
const config = withArchDefaults({ format: 'specflow-model', version: 1, arch, inputDim: d, latentDim: 8, loss: 'mse', scaling: { center: new Array(d).fill(0), scale: 1 } });
const model = new Autoencoder(tf, config, 1);
const optimizer = createAdam(tf, 1e-4);
const layout = shard.paramLayout(model);
const owners = shard.ownership(layout, 2);
const mine = shard.tensorsOf(owners, 0);
const others = shard.tensorsOf(owners, 0, false);
const grads = [new Float32Array(layout.paramFloats), new Float32Array(layout.paramFloats)];
const weights = new Float32Array(layout.paramFloats);
const moments = new Float32Array(layout.normFloats);
const half = Math.ceil(b / 2);

/** The process's CPU time, ms (getrusage: exact, unlike schedstat's tick-updated figure; V8's helper threads count too, but idle after warm-up). */
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const times = new Map();
const time = (name, f) => {
  const t = cpu();
  const r = f();
  times.set(name, [...(times.get(name) ?? []), cpu() - t]);
  return r;
};
const dispose = (r) => { for (const g of r.grads) g.dispose(); for (const m of r.moments.values()) { m.mean.dispose(); m.variance.dispose(); } };
for (let r = 0; r < rounds + 2; r++) {
  if (r === 2) times.clear(); // warm-up rounds
  dispose(time(`forward, backward of ${b} rows`, () => shard.shardGradient(tf, model, x, x, b, b)));
  const xs = x.subarray(half * d);
  dispose(time(`forward, backward of ${b - half} rows (the second half)`, () => shard.shardGradient(tf, model, xs, xs, b - half, b)));
  const g = time(`forward, backward of ${half} rows (the first half)`, () => shard.shardGradient(tf, model, x, x, half, b));
  const own = time('gradients of the others\' tensors out', () => shard.writeShard(tf, g, layout, grads[0], moments, others));
  time('sum own tensors over 2 shards + Adam', () => shard.applyShards(tf, optimizer, model, layout, grads, 2, mine, { shard: 0, grads: own }));
  time('publish own tensors', () => shard.saveWeights(tf, model, layout, weights, mine));
  time('load the others\' tensors', () => shard.loadWeights(tf, model, layout, weights, others));
  const all = shard.writeShard(tf, shard.shardGradient(tf, model, x, x, b, b), layout, grads[1], moments, []);
  time('one thread: Adam on every tensor', () => shard.applyShards(tf, optimizer, model, layout, grads, 1, shard.tensorsOf(owners, -1, false), { shard: 0, grads: all }));
}
const median = (v) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
console.log(`${arch}, batch ${b}: this thread's CPU per piece, median of ${rounds} rounds (ms)`);
for (const [k, v] of times) console.log(`  ${median(v).toFixed(2).padStart(8)}  ${k}`);
