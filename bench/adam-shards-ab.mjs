// The optimizer's part of a data-parallel step, before/after, alternated in one
// process (process CPU time): each thread's "sum its own tensors' gradients
// over the shards + Adam" (applyShards) and one thread's Adam on every tensor,
// and loading the other thread's tensors, run by this build and by another build's shard.js/optimizer.js (BENCH_DIST,
// default main's dist copied to /tmp) on the same tfjs and the same gradients.
// Not part of `npm run bench`:
//
//   BENCH_DIST=/path/to/other/dist node bench/adam-shards-ab.mjs [dense|conv1d|transformer] [ROUNDS=30]
//
// The other build's dist must resolve @tensorflow/tfjs to the same files (e.g. a
// node_modules symlink next to it), so both run on one engine.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchSpectra } from './training-data.mjs';

const [arch = 'dense', roundsArg = '30'] = process.argv.slice(2);
const rounds = Number(roundsArg);
if (!process.env.BENCH_DIST) throw new Error('BENCH_DIST=<the other build\'s dist> is needed');
const dists = { before: pathToFileURL(resolve(process.env.BENCH_DIST)).href, after: new URL('../dist', import.meta.url).href };
const { getTf } = await import(`${dists.after}/ml/engine.js`);
const { Autoencoder, withArchDefaults } = await import(`${dists.after}/ml/autoencoder.js`);
const { tf } = await getTf();
const builds = {};
for (const [k, dist] of Object.entries(dists)) {
  builds[k] = { shard: await import(`${dist}/ml/parallel/shard.js`), createAdam: (await import(`${dist}/ml/optimizer.js`)).createAdam };
}
const b = 256;
const d = arch === 'dense' ? 1024 : 512;
const x = benchSpectra(b, d);
const config = withArchDefaults({ format: 'specflow-model', version: 1, arch, inputDim: d, latentDim: 8, loss: 'mse', scaling: { center: new Array(d).fill(0), scale: 1 } });
const model = new Autoencoder(tf, config, 1);
const { shard } = builds.after;
const layout = shard.paramLayout(model);
const owners = shard.ownership(layout, 2);
const mine = shard.tensorsOf(owners, 0);
const everything = layout.params.map((_, i) => i);
const half = b / 2;
const result = shard.shardGradient(tf, model, x, x, half, b);
const grads = [new Float32Array(layout.paramFloats), new Float32Array(layout.paramFloats)];
const moments = new Float32Array(layout.normFloats);
const kept = shard.writeShard(tf, result, layout, grads[0], moments, []);
grads[1].set(grads[0]);
const optimizers = Object.fromEntries(Object.entries(builds).map(([k, v]) => [k, { half: v.createAdam(tf, 1e-6), all: v.createAdam(tf, 1e-6) }]));
const ownCopy = (which) => new Map(which.map((i) => [i, tf.clone(kept.get(i))]));

const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const times = new Map();
const time = (name, f) => {
  const t = cpu();
  f();
  times.set(name, [...(times.get(name) ?? []), cpu() - t]);
};
for (let r = 0; r < rounds + 3; r++) {
  if (r === 3) times.clear(); // warm-up
  for (const k of r % 2 ? ['after', 'before'] : ['before', 'after']) {
    const { shard: s } = builds[k];
    const o = optimizers[k];
    const own = ownCopy(mine);
    time(`${k}: sum own tensors over 2 shards + Adam`, () => s.applyShards(tf, o.half, model, layout, grads, 2, mine, { shard: 0, grads: own }));
    const others = shard.tensorsOf(owners, 0, false);
    time(`${k}: load the others' tensors`, () => s.loadWeights(tf, model, layout, grads[1], others));
    const all = ownCopy(everything);
    time(`${k}: one thread, Adam on every tensor`, () => s.applyShards(tf, o.all, model, layout, grads, 1, everything, { shard: 0, grads: all }));
  }
}
const median = (v) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
console.log(`${arch}: process CPU per call, median of ${rounds} alternated rounds (ms)`);
for (const [k, v] of [...times].sort(([a], [c]) => a.split(': ')[1].localeCompare(c.split(': ')[1]) || c.localeCompare(a))) {
  console.log(`  ${median(v).toFixed(3).padStart(8)}  ${k}`);
}
