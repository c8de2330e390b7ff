// Whole training epochs of two builds, alternated in separate processes (two
// tfjs builds cannot share one), for a before/after on a machine whose speed
// drifts. Not part of `npm run bench` (no .bench.mjs suffix):
//
//   node bench/train-ab.mjs OTHER_DIST [PAIRS=2]     (after `npm run build` in both)
//
// BENCH_ARCHS=dense,transformer, BENCH_THREADS=1 and BENCH_BATCH=128 narrow the runs (default: all
// three architectures, 1 and 2 threads, batch 256).
//
// Each process trains one default autoencoder (4 epochs, seed 1)
// and reports its fastest steady epoch (the first is not counted): process CPU
// on one thread, wall on two. Printed per pair: this build / the other.
// Each row ends with the median ratio over the pairs.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchSpectra } from './training-data.mjs';

const self = fileURLToPath(import.meta.url);
const here = resolve(self, '../../dist');

if (process.argv[2] === '--child') {
  const [dist, arch, threads, batch] = process.argv.slice(3);
  const { trainAutoencoder } = await import(`${pathToFileURL(dist).href}/ml/train.js`);
  const [n, d] = arch === 'dense' ? [4000, 1024] : [1000, 512];
  const cpu = [];
  const wall = [];
  let c = process.cpuUsage();
  let t = performance.now();
  await trainAutoencoder({ n, d, x: benchSpectra(n, d) }, {
    arch, latentDim: 8, epochs: 4, batchSize: Number(batch), validation: 0, seed: 1, threads: Number(threads),
    onEpoch: () => {
      const dc = process.cpuUsage(c);
      cpu.push((dc.user + dc.system) / 1e6);
      wall.push((performance.now() - t) / 1e3);
      c = process.cpuUsage();
      t = performance.now();
    },
  });
  console.log(JSON.stringify({ cpu: Math.min(...cpu.slice(1)), wall: Math.min(...wall.slice(1)) }));
} else {
  const other = process.argv[2];
  if (!other) {
    console.error('usage: node bench/train-ab.mjs OTHER_DIST [PAIRS]');
    process.exit(1);
  }
  const pairs = Number(process.argv[3] ?? 2);
  const list = (name, all) => (process.env[name] ? process.env[name].split(',') : all);
  const batch = Number(process.env.BENCH_BATCH ?? 256);
  const epoch = (dist, arch, threads) => {
    const r = spawnSync(process.execPath, [self, '--child', resolve(dist), arch, String(threads), String(batch)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${dist} ${arch}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  for (const arch of list('BENCH_ARCHS', ['dense', 'conv1d', 'transformer'])) {
    for (const threads of list('BENCH_THREADS', ['1', '2']).map(Number)) {
      const clock = threads === 1 ? 'cpu' : 'wall';
      const cells = [];
      const ratios = [];
      for (let p = 0; p < pairs; p++) {
        // alternate which build goes first, so a drift in the machine's speed favours neither
        let a;
        let b;
        if (p % 2) {
          b = epoch(other, arch, threads);
          a = epoch(here, arch, threads);
        } else {
          a = epoch(here, arch, threads);
          b = epoch(other, arch, threads);
        }
        cells.push(`${a[clock].toFixed(3)}/${b[clock].toFixed(3)} s = ${(a[clock] / b[clock]).toFixed(2)}×`);
        ratios.push(a[clock] / b[clock]);
      }
      ratios.sort((p, q) => p - q);
      const median = ratios[Math.floor(ratios.length / 2)];
      console.log(`${arch.padEnd(12)} ${threads} thread${threads > 1 ? 's' : ' '} batch ${batch} ${clock.padEnd(4)} this/other: ${cells.join(', ')}; median ${median.toFixed(3)}×`);
    }
  }
}
