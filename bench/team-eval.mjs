// The validation loss of a 2-thread training team (TrainingTeam.lossSum: each
// 256-row chunk cut into the threads' shards) against the same rows evaluated
// on the training thread alone, as one-thread training does — alternated in one
// process, medians per evaluation of the training thread's own CPU time (Linux:
// /proc/thread-self/schedstat) and of wall time. On a shared machine only the
// CPU column means something: it is what the training thread no longer spends
// while the worker, which used to wait, evaluates its half. Not part of
// `npm run bench`:
//
//   node bench/team-eval.mjs [dense|conv1d|transformer] [ROWS=400]     (after `npm run build`)
import { readFileSync } from 'node:fs';
import { benchSpectra } from './training-data.mjs';

const DIST = new URL('../dist', import.meta.url).href;
const arch = process.argv[2] ?? 'dense';
const n = Number(process.argv[3] ?? 400);
const d = arch === 'dense' ? 1024 : 512;
const threadCpuMs = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;

const { getTf } = await import(`${DIST}/ml/engine.js`);
const { Autoencoder, withArchDefaults } = await import(`${DIST}/ml/autoencoder.js`);
const { fitScaling } = await import(`${DIST}/ml/train.js`);
const { createAdam } = await import(`${DIST}/ml/optimizer.js`);
const { TrainingTeam } = await import(`${DIST}/ml/parallel/team.js`);
const { EVAL_ROWS } = await import(`${DIST}/ml/parallel/protocol.js`);
const { tf, backend } = await getTf();
const x = benchSpectra(n, d);
const model = new Autoencoder(tf, withArchDefaults({
  format: 'specflow-model', version: 1, arch, inputDim: d, latentDim: 8, loss: 'mse', scaling: fitScaling(x, n, d),
}), 1);
const optimizer = createAdam(tf, 1e-3);
const team = await TrainingTeam.start({ tf, backend, model, optimizer, learningRate: 1e-3, threads: 2, maxBatch: 256 });
const chunks = [];
for (let s = 0; s < n; s += EVAL_ROWS) chunks.push(x.subarray(s * d, Math.min(n, s + EVAL_ROWS) * d));
const ways = {
  'this thread alone': async () => {
    let total = 0;
    for (const v of chunks) {
      const b = v.length / d;
      const l = tf.tidy(() => {
        const t = tf.tensor2d(v, [b, d]);
        return model.lossT(t, t, { training: false });
      });
      total += l.dataSync()[0] * b;
      l.dispose();
    }
    return total;
  },
  'team of 2 threads': async () => {
    let total = 0;
    for (const v of chunks) total += await team.lossSum(v, v, v.length / d);
    return total;
  },
};
const times = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
const losses = {};
try {
  for (let r = 0; r < 30; r++) {
    for (const [name, way] of Object.entries(ways)) {
      const c = threadCpuMs();
      const w = performance.now();
      losses[name] = (await way()) / n;
      if (r >= 5) times[name].push([threadCpuMs() - c, performance.now() - w]);
    }
  }
} finally {
  await team.close();
}
const median = (a) => a.slice().sort((p, q) => p - q)[a.length >> 1];
console.log(`${arch}, ${n} rows × ${d} in chunks of ${EVAL_ROWS}, medians of 25 alternated evaluations:`);
for (const [name, t] of Object.entries(times)) {
  console.log(`  ${name.padEnd(18)} training thread CPU ${median(t.map((e) => e[0])).toFixed(1).padStart(7)} ms   wall ${median(t.map((e) => e[1])).toFixed(1).padStart(7)} ms   loss ${losses[name].toPrecision(8)}`);
}
