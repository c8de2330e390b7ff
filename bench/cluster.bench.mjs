// `cluster` at spectrum-image scale: k-means with k: auto (k 2..10, one
// k-means++ start each — the default above 10,000 codes — and the silhouette
// on a seeded 5,000-code sample) on 100,000 × 8 latent codes — target ≤ 10 s on a 2-core machine — and k-means
// with a fixed k on 1,000,000 × 8 codes (full Lloyd passes, and mini-batch).
// The codes are seeded Gaussian blobs that overlap a little, as an
// autoencoder's codes of a few phases do. Runs the stage itself (from dist/),
// in this process. Wall time and process CPU time are both printed: on a
// shared machine the CPU time is the steadier number.
//
//   node bench/run.mjs cluster        (after `npm run build`)
//
// Options (env): BENCH_CLUSTER_N (default 100000), BENCH_CLUSTER_LARGE_N (default 1000000; 0 skips).
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeLatent } from '../dist/data/arrow-io.js';
import { runStageForTest } from '../dist/runner/testing.js';
import { cluster } from '../dist/stages/cluster.js';
import { Rng } from '../dist/util/random.js';

const N = Number(process.env.BENCH_CLUSTER_N ?? 100000);
const LARGE = Number(process.env.BENCH_CLUSTER_LARGE_N ?? 1000000);
const D = 8;
const work = mkdtempSync(join(tmpdir(), 'specflow-bench-cluster-'));

async function codes(n, path) {
  const rng = new Rng(11);
  const phases = 5;
  const centres = Array.from({ length: phases }, () => Array.from({ length: D }, () => rng.normal(0, 3)));
  const z = new Float32Array(n * D);
  const labels = [];
  for (let i = 0; i < n; i++) {
    const p = i % phases;
    labels.push(`phase${p}`);
    for (let j = 0; j < D; j++) z[i * D + j] = centres[p][j] + rng.normal(0, 1);
  }
  await writeLatent(path, { n, k: D, ids: Array.from({ length: n }, (_, i) => `px${i}`), labels, z, columns: {}, metadata: {} });
}

async function timed(label, path, params) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await runStageForTest(cluster, { params, inputs: { codes: path }, seed: 7, dir: mkdtempSync(join(work, 'out-')) });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const m = r.metrics;
  console.log(`${label}: ${wall.toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU; k ${m.k}, silhouette ${Number(m.silhouette).toFixed(4)} on ${m.silhouette_sample} codes, ARI ${Number(m.ari).toFixed(4)}`);
  return wall;
}

try {
  console.log(`load average ${loadavg().map((v) => v.toFixed(1)).join(' ')} on this machine (figures scale with it)`);
  const small = join(work, 'codes.arrow');
  await codes(N, small);
  const wall = await timed(`cluster kmeans k: auto (2..10) on ${N} × ${D}`, small, { method: 'kmeans', k: 'auto' });
  console.log(`  target ≤ 10 s: ${wall <= 10 ? 'met' : 'NOT met'} (wall)`);
  if (LARGE > 0) {
    const large = join(work, 'codes-large.arrow');
    await codes(LARGE, large);
    await timed(`cluster kmeans k: 5, lloyd, on ${LARGE} × ${D}`, large, { method: 'kmeans', k: 5 });
    await timed(`cluster kmeans k: 5, minibatch, on ${LARGE} × ${D}`, large, { method: 'kmeans', k: 5, algorithm: 'minibatch' });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
