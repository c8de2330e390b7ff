// Reference dense autoencoder of DESIGN.md (1024-256-64-8-64-256-1024, relu,
// Adam, MSE, 4000 random spectra) trained on stock wasm, on wasm with
// specflow's kernels (SIMD GEMM, row gathers and sums, fused Adam: see
// src/ml/kernels/), and on the cpu backend, at batch 64 and 256.
// Prints seconds per epoch and the ratios. Each configuration runs in its own
// child process (a fresh tfjs, so stock and fixed kernels never share a heap).
//
//   node bench/run.mjs dense-ae        (after `npm run build`; `npm run bench` does both)
//
// Options (env): BENCH_EPOCHS (timed epochs per fixed-wasm run, default 3),
// BENCH_STOCK_BATCHES / BENCH_CPU_BATCHES (batches timed on stock wasm and on
// the cpu backend, extrapolated to an epoch; defaults 16 and 4).
//
// Both wall-clock and process CPU time are reported: on a shared machine the
// wall time of a single-threaded run grows with other processes' load, its CPU
// time much less, so the ratios are taken on CPU time.
//
// This bench compares tfjs engines on one model (stock wasm, specflow's kernels
// with and without fused multiply-adds, the cpu backend) through a tfjs-layers
// model and a custom loop. How specflow's own training (trainAutoencoder,
// what `train.autoencoder` runs) compares with PyTorch, for all three
// architectures: bench/train-vs-pytorch.bench.mjs.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const N = 4000;
const D = 1024;
const BATCHES = [64, 256];
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 3);
const STOCK_BATCHES = Number(process.env.BENCH_STOCK_BATCHES ?? 16);
const CPU_BATCHES = Number(process.env.BENCH_CPU_BATCHES ?? 4);

/** One configuration, in this (child) process. Prints one JSON line. */
async function child(cfg) {
  const backend = await import('../dist/ml/backend.js');
  const { tf } = cfg.variant === 'stock'
    ? await backend.initStockWasm()
    : await backend.initBackend(cfg.variant === 'cpu' ? 'cpu' : 'wasm');
  // Deterministic "spectra": positive, smooth-ish rows (the values do not affect speed).
  const x = tf.tidy(() => tf.randomUniform([N, D], 0, 1, 'float32', 7).add(tf.linspace(0, 1, D)));
  const input = tf.input({ shape: [D] });
  let h = input;
  const seed = (i) => tf.initializers.glorotUniform({ seed: 100 + i });
  const sizes = [256, 64, 8, 64, 256];
  sizes.forEach((u, i) => {
    h = tf.layers.dense({ units: u, activation: u === 8 ? 'linear' : 'relu', kernelInitializer: seed(i) }).apply(h);
  });
  h = tf.layers.dense({ units: D, kernelInitializer: seed(9) }).apply(h);
  const model = tf.model({ inputs: input, outputs: h });
  // Fixed wasm trains with specflow's optimizer (one fused Adam kernel per
  // variable); stock wasm and the cpu backend with tf.train.adam, which is
  // also what createAdam returns there.
  const { createAdam } = await import('../dist/ml/optimizer.js');
  const optimizer = createAdam(tf, 1e-3);
  const bs = cfg.batch;
  const steps = Math.ceil(N / bs);

  let epochSeconds = [];
  const epochCpu = [];
  const cpuSeconds = (c) => (c.user + c.system) / 1e6;
  let lastLoss = NaN;
  let measuredBatches = steps;
  {
    // Custom loop: shuffled mini-batches, optimizer.minimize.
    const step = (xb) => optimizer.minimize(() => tf.losses.meanSquaredError(xb, model.apply(xb)), true);
    const rng = (() => { let s = 12345; return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32); })();
    const runEpoch = (maxBatches) => {
      const idx = Int32Array.from({ length: N }, (_, i) => i);
      for (let i = N - 1; i > 0; i--) { const j = Math.floor(rng() * (i + 1)); [idx[i], idx[j]] = [idx[j], idx[i]]; }
      let loss;
      for (let b = 0; b < Math.min(steps, maxBatches); b++) {
        tf.tidy(() => {
          const xb = tf.gather(x, tf.tensor1d(idx.subarray(b * bs, Math.min(N, (b + 1) * bs)), 'int32'));
          const l = step(xb);
          if (b === steps - 1 || b === maxBatches - 1) loss = l.dataSync()[0];
        });
      }
      return loss;
    };
    runEpoch(2); // warm-up (kernel setup, XNNPACK, JIT)
    measuredBatches = Math.min(steps, cfg.maxBatches ?? steps);
    for (let e = 0; e < cfg.epochs; e++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      lastLoss = runEpoch(measuredBatches);
      epochCpu.push(cpuSeconds(process.cpuUsage(c0)) * (steps / measuredBatches));
      epochSeconds.push(((performance.now() - t0) / 1000) * (steps / measuredBatches));
    }
  }
  const numTensors = tf.memory().numTensors;
  const label = cfg.variant === 'stock' ? 'wasm (stock)' : backend.backendLabel(cfg.variant === 'cpu' ? 'cpu' : 'wasm');
  console.log(JSON.stringify({ ...cfg, label, epochSeconds, epochCpu, lastLoss, measuredBatches, steps, numTensors }));
}

function runChild(cfg) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(cfg)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    // fixed wasm runs specflow's default kernels (fused multiply-adds where
    // available) unless cfg.plain asks for the plain-SIMD build
    env: { ...process.env, SPECFLOW_WASM_FMA: cfg.plain ? '0' : '' },
  });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    process.stderr.write(r.stderr ?? '');
    throw new Error(`bench child failed: ${JSON.stringify(cfg)} (exit ${r.status})`);
  }
  return JSON.parse(line);
}

/** Fastest timed epoch (the least disturbed by other processes): [wall s, CPU s]. */
function best(res) {
  return [Math.min(...res.epochSeconds), Math.min(...res.epochCpu)];
}

async function main() {
  const t0 = performance.now();
  const rows = [];
  for (const batch of BATCHES) {
    const fixed = runChild({ variant: 'fixed', loop: 'custom', batch, epochs: EPOCHS });
    const plain = runChild({ variant: 'fixed', plain: true, loop: 'custom', batch, epochs: EPOCHS });
    const stock = runChild({ variant: 'stock', loop: 'custom', batch, epochs: 1, maxBatches: STOCK_BATCHES });
    const cpu = runChild({ variant: 'cpu', loop: 'custom', batch, epochs: 1, maxBatches: CPU_BATCHES });
    rows.push({ batch, fixed, plain, stock, cpu });
  }
  const f = ([wall, cpu]) => `${wall.toFixed(3)} [${cpu.toFixed(3)}]`.padEnd(16);
  console.log(`dense AE 1024-256-64-8-64-256-1024, relu, Adam (fixed: specflow's fused Adam; stock and cpu: tf.train.adam), MSE, ${N} random spectra`);
  console.log('seconds per epoch: wall [process CPU], fastest timed epoch');
  console.log('batch | wasm fixed        | fixed plain       | wasm stock        | cpu backend       | stock/fixed (CPU) | plain/fixed (CPU)');
  for (const r of rows) {
    const fx = best(r.fixed);
    const st = best(r.stock);
    console.log(
      `${String(r.batch).padStart(5)} | ${f(fx)}  | ${f(best(r.plain))}  | ${f(st)}  | ${f(best(r.cpu))}  | ` +
        `${(st[1] / fx[1]).toFixed(1).padStart(6)}×           | ${(best(r.plain)[1] / fx[1]).toFixed(2)}×`,
    );
  }
  console.log('custom loop: shuffled mini-batches gathered from the whole matrix, optimizer.minimize on a tfjs-layers model.');
  console.log(`fixed = specflow's kernels as a run uses them by default (here: ${rows[0].fixed.label}; wasm+fma = relaxed-SIMD fused multiply-adds); plain = SPECFLOW_WASM_FMA=0 (${rows[0].plain.label}: every multiply and add rounded).`);
  console.log(
    `wasm fixed: ${EPOCHS} epochs per run; wasm stock: ${STOCK_BATCHES} batches, cpu backend: ${CPU_BATCHES} batches per batch size, timed and extrapolated to the epoch.`,
  );
  console.log(`final losses (fixed): ${rows.map((r) => `bs${r.batch} ${r.fixed.lastLoss.toFixed(5)}`).join(', ')}`);
  console.log('target: stock/fixed >= 8x. Against PyTorch: node bench/run.mjs train-vs-pytorch');
  console.log(`bench took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

if (process.argv[2] === '--child') await child(JSON.parse(process.argv[3]));
else await main();
