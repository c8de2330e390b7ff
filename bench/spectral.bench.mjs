// Training speed of the digits spectral network (the paper's 64-100-100-50-2
// classifier, digits 0 vs 1 from ../shared/data/digits.csv, batch 32, Adam):
// seconds per epoch of specflow's trainer (explicit backward pass + Adam in JS,
// src/ml/spectral/step.ts) on wasm with specflow's kernel fixes, on stock wasm and
// on the cpu backend, beside the textbook tfjs loop (autograd via
// optimizer.minimize + tf.train.adam) on the same network. Each configuration runs
// in its own child process. Wall time and process CPU time are both printed: on a
// shared machine the CPU time is the steadier number.
//
//   node bench/run.mjs spectral        (after `npm run build`; `npm run bench` does both)
//
// Options (env): BENCH_EPOCHS (timed epochs, default 20).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const DATA = join(here, '../../shared/data/digits.csv');
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 20);
const BATCH = 32;

function digits01() {
  const lines = readFileSync(DATA, 'utf8').split(/\r?\n/).filter((l) => l.trim());
  const header = lines[0].split(',');
  const li = header.indexOf('label');
  const pix = header.map((h, i) => (/^p\d+_\d+$/.test(h) ? i : -1)).filter((i) => i >= 0);
  const rows = lines.slice(1).map((l) => l.split(',')).filter((r) => r[li] === '0' || r[li] === '1');
  const d = pix.length;
  const x = new Float32Array(rows.length * d);
  rows.forEach((r, i) => pix.forEach((c, j) => { x[i * d + j] = Number(r[c]); }));
  return { x, n: rows.length, d, labels: rows.map((r) => r[li]) };
}

async function child(cfg) {
  const backend = await import('../dist/ml/backend.js');
  const { tf } = cfg.backend === 'stock' ? await backend.initStockWasm() : await backend.initBackend(cfg.backend);
  const { trainSpectral, SpectralNet } = await import('../dist/ml/spectral/index.js');
  const data = digits01();
  const opts = { task: 'classify', hidden: [100, 100, 50], batchSize: BATCH, learningRate: 1e-3, seed: 1 };
  let seconds;
  let cpu;
  if (cfg.loop === 'specflow') {
    (await trainSpectral(tf, data, { ...opts, epochs: 1 })).net.dispose(); // warm-up
    const c0 = process.cpuUsage();
    const r = await trainSpectral(tf, data, { ...opts, epochs: EPOCHS });
    const c = process.cpuUsage(c0);
    cpu = (c.user + c.system) / 1e6;
    seconds = r.seconds;
    r.net.dispose();
  } else {
    // textbook tfjs: the same network's variables, autograd through forward() + penalty(), tf.train.adam
    const { net } = await trainSpectral(tf, data, { ...opts, epochs: 1 });
    const optimizer = tf.train.adam(1e-3);
    const { n, d } = data;
    const onehot = new Float32Array(n * 2);
    data.labels.forEach((l, i) => { onehot[i * 2 + Number(l)] = 1; });
    const epoch = () => {
      for (let s = 0; s < n; s += BATCH) {
        const m = Math.min(BATCH, n - s);
        tf.tidy(() => {
          const xt = tf.tensor2d(data.x.subarray(s * d, (s + m) * d), [m, d]);
          const yt = tf.tensor2d(onehot.subarray(s * 2, (s + m) * 2), [m, 2]);
          optimizer.minimize(() => tf.add(tf.losses.softmaxCrossEntropy(yt, net.forward(xt)), net.penalty()), false, net.vars);
        });
      }
    };
    epoch(); // warm-up
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let e = 0; e < EPOCHS; e++) epoch();
    seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    cpu = (c.user + c.system) / 1e6;
    optimizer.dispose();
    net.dispose();
    void SpectralNet;
  }
  console.log(JSON.stringify({ ...cfg, n: data.n, perEpoch: seconds / EPOCHS, cpuPerEpoch: cpu / EPOCHS }));
}

if (process.argv[2] === '--child') {
  await child(JSON.parse(process.argv[3]));
  process.exit(0);
}

if (!existsSync(DATA)) {
  console.log(`spectral bench: ${DATA} not found; skipped`);
  process.exit(0);
}
const configs = [
  { backend: 'wasm', loop: 'specflow' },
  { backend: 'wasm', loop: 'autograd' },
  { backend: 'stock', loop: 'specflow' },
  { backend: 'stock', loop: 'autograd' },
  { backend: 'cpu', loop: 'specflow' },
];
console.log(`digits 0 vs 1 spectral network 64-100-100-50-2, batch ${BATCH}, ${EPOCHS} timed epochs`);
console.log('backend            loop       s/epoch (wall)   s/epoch (cpu)   ms/step (wall)');
const results = [];
for (const cfg of configs) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(cfg)], { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    console.log(`${cfg.backend.padEnd(18)} ${cfg.loop.padEnd(10)} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    continue;
  }
  const res = JSON.parse(line);
  results.push(res);
  const steps = Math.ceil(res.n / BATCH);
  const name = cfg.backend === 'wasm' ? 'wasm (fixes)' : cfg.backend === 'stock' ? 'wasm (stock)' : cfg.backend;
  console.log(`${name.padEnd(18)} ${cfg.loop.padEnd(10)} ${res.perEpoch.toFixed(4).padStart(14)}   ${res.cpuPerEpoch.toFixed(4).padStart(13)}   ${((res.perEpoch / steps) * 1000).toFixed(2).padStart(14)}`);
}
const find = (b, l) => results.find((r) => r.backend === b && r.loop === l);
const a = find('wasm', 'specflow');
const b = find('wasm', 'autograd');
if (a && b) console.log(`specflow trainer vs autograd + tf.train.adam on wasm: ${(b.perEpoch / a.perEpoch).toFixed(1)}× faster (wall), ${(b.cpuPerEpoch / a.cpuPerEpoch).toFixed(1)}× (cpu)`);
