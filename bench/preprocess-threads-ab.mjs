// The preprocessing steps on the stage's two worker threads, two specflow builds timed
// alternately in one process (so a loaded machine weighs on both alike), by the CPU time
// of all the process's threads: spectra per CPU-second, best of three rounds after one
// warm-up. Not part of `npm run bench` (it needs a second build):
//
//   mkdir /tmp/base && git archive 6aff124 | tar x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/ && (cd /tmp/base && npx tsc -p tsconfig.build.json)
//   BENCH_BASE=/tmp/base/dist node bench/preprocess-threads-ab.mjs
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

if (!process.env.BENCH_BASE) {
  console.log('set BENCH_BASE to another build\'s dist/ (see the comment at the top of this file)');
  process.exit(1);
}
const builds = { base: pathToFileURL(resolve(process.env.BENCH_BASE)).href + '/', this: new URL('../dist/', import.meta.url).href };
const d = 1024, n = 1024, B = 12;
const axis = Float64Array.from({ length: d }, (_, i) => 100 + i * 1.7);
const batches = Array.from({ length: B }, (_, b) => ({ ids: Array.from({ length: n }, (_, i) => `spectrum-${b}-${i}`), spectra: new Float32Array(n * d).map((_, i) => 20 + (i * 7919 % 1000) / 10 + b) }));
const steps = { savgol: { smooth: { method: 'savgol', window: 9, polynomial: 2 } }, area: { normalize: { method: 'area' } }, snv: { normalize: { method: 'snv' } } };
const pools = {};
for (const [k, dist] of Object.entries(builds)) {
  const { runChunk } = await import(dist + 'data/preprocess/chunk.js');
  const { ChunkPool, inOrder } = await import(dist + 'data/chunk-pool.js');
  pools[k] = { pool: new ChunkPool(new URL(dist + 'data/preprocess/chunk-worker.js'), runChunk, 2), inOrder };
}
const best = {};
for (let round = 0; round < 4; round++) {
  for (const [name, step] of Object.entries(steps)) {
    for (const k of Object.keys(builds)) {
      const { pool, inOrder } = pools[k];
      const jobs = async function* () { for (const b of batches) yield b; };
      const job = (b) => ({ steps: [step], from: 0, to: 1, ids: b.ids, axis, d, spectra: b.spectra.slice(), stats: [null], where: 'bench' });
      const c0 = process.cpuUsage();
      await inOrder(jobs(), pool.threads + 1, (b) => { const j = job(b); return pool.run(j, [j.spectra.buffer]); }, (res) => { if (!res.ok) throw new Error(res.message); });
      const c = process.cpuUsage(c0);
      if (round > 0) best[`${name} ${k}`] = Math.max(best[`${name} ${k}`] ?? 0, (n * B) / ((c.user + c.system) / 1e6));
    }
  }
}
console.log(`two worker threads, ${B} batches of ${n} × ${d}, spectra per CPU-second over all threads (base: ${process.env.BENCH_BASE})`);
for (const [k, v] of Object.entries(best)) console.log(`  ${k.padEnd(14)} ${Math.round(v).toLocaleString('en').padStart(9)}`);
for (const p of Object.values(pools)) await p.pool.destroy();
