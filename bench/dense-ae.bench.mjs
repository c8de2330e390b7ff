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
// The PyTorch baseline is measured in the same run, before the tfjs runs, by
// bench/pytorch-dense-ae.py (the same model, loop and data, one thread) under
// PYTORCH_PYTHON (default /usr/bin/python3: Debian's torch, `apt-get install
// python3-torch libopenblas0`), because a figure from another machine says
// little about this one. Debian's torch multiplies through whichever
// libblas.so.3 is selected; on the reference (netlib) BLAS it is ~18x slower
// than on OpenBLAS, which would make any tfjs figure look good, so that case
// is reported but not used. Without python or torch (or on the reference
// BLAS) the ratios fall back to the DESIGN.md figures, and the output says so.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const N = 4000;
const D = 1024;
const BATCHES = [64, 256];
// s/epoch, one CPU thread, quoted from DESIGN.md (another machine): only when PyTorch cannot be measured here.
const PYTORCH_DESIGN = { 64: 0.26, 256: 0.1 };
const PYTORCH_PYTHON = process.env.PYTORCH_PYTHON ?? '/usr/bin/python3';
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
  if (cfg.loop === 'fit') {
    model.compile({ optimizer, loss: 'meanSquaredError' });
    await model.fit(x.slice(0, 2 * bs), x.slice(0, 2 * bs), { batchSize: bs, epochs: 1, verbose: 0 }); // warm-up
    for (let e = 0; e < cfg.epochs; e++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const hist = await model.fit(x, x, { batchSize: bs, epochs: 1, shuffle: true, verbose: 0 });
      epochCpu.push(cpuSeconds(process.cpuUsage(c0)));
      epochSeconds.push((performance.now() - t0) / 1000);
      lastLoss = hist.history.loss[0];
    }
  } else {
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

/**
 * PyTorch on this machine: runs bench/pytorch-dense-ae.py (BENCH_EPOCHS is passed on
 * through the environment). Returns { ok: true, torch, blas, referenceBlas, results }
 * with results[batch] = { wall, cpu } (fastest timed epoch), or { ok: false, why }.
 */
function measurePytorch() {
  const script = fileURLToPath(new URL('./pytorch-dense-ae.py', import.meta.url));
  const r = spawnSync(PYTORCH_PYTHON, [script, ...BATCHES.map(String)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error) return { ok: false, why: `${PYTORCH_PYTHON}: ${r.error.code ?? r.error.message}` };
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    // Typically "ModuleNotFoundError: No module named 'torch'": the traceback's last line says enough.
    const last = (r.stderr ?? '').trim().split('\n').pop() || `exit ${r.status}`;
    return { ok: false, why: `${PYTORCH_PYTHON}: ${last}` };
  }
  const out = JSON.parse(line);
  // Debian's reference BLAS lives in .../blas/; OpenBLAS, BLIS, ATLAS and MKL elsewhere.
  const referenceBlas = /\/blas\/libblas\.so/.test(out.blas ?? '');
  return { ok: true, ...out, referenceBlas };
}

/** Fastest timed epoch (the least disturbed by other processes): [wall s, CPU s]. */
function best(res) {
  return [Math.min(...res.epochSeconds), Math.min(...res.epochCpu)];
}

async function main() {
  const t0 = performance.now();
  // PyTorch first, alone like each tfjs child (a few seconds on OpenBLAS).
  const torch = measurePytorch();
  const measured = torch.ok && !torch.referenceBlas;
  const pyCpu = (batch) => (measured ? torch.results[batch].cpu : PYTORCH_DESIGN[batch]);
  const rows = [];
  for (const batch of BATCHES) {
    const fixed = runChild({ variant: 'fixed', loop: 'custom', batch, epochs: EPOCHS });
    const fixedFit = runChild({ variant: 'fixed', loop: 'fit', batch, epochs: EPOCHS });
    const plain = runChild({ variant: 'fixed', plain: true, loop: 'custom', batch, epochs: EPOCHS });
    const stock = runChild({ variant: 'stock', loop: 'custom', batch, epochs: 1, maxBatches: STOCK_BATCHES });
    const cpu = runChild({ variant: 'cpu', loop: 'custom', batch, epochs: 1, maxBatches: CPU_BATCHES });
    rows.push({ batch, fixed, fixedFit, plain, stock, cpu });
  }
  const f = ([wall, cpu]) => `${wall.toFixed(3)} [${cpu.toFixed(3)}]`.padEnd(16);
  console.log(`dense AE 1024-256-64-8-64-256-1024, relu, Adam (fixed: specflow's fused Adam; stock and cpu: tf.train.adam), MSE, ${N} random spectra`);
  console.log('seconds per epoch: wall [process CPU], fastest timed epoch');
  console.log(
    `batch | wasm fixed, loop  | wasm fixed, fit   | fixed plain, loop | wasm stock, loop  | cpu backend, loop | ${measured ? 'PyTorch, measured' : 'PyTorch DESIGN.md'} | stock/fixed (CPU) | fixed/PyTorch (CPU)   | plain/PyTorch`,
  );
  for (const r of rows) {
    const fx = best(r.fixed);
    const st = best(r.stock);
    const py = pyCpu(r.batch);
    const pyCol = measured ? f([torch.results[r.batch].wall, py]) : `${py} (quoted)`.padEnd(16);
    console.log(
      `${String(r.batch).padStart(5)} | ${f(fx)}  | ${f(best(r.fixedFit))}  | ${f(best(r.plain))}  | ${f(st)}  | ${f(best(r.cpu))}  | ${pyCol}  | ${(st[1] / fx[1]).toFixed(1).padStart(6)}×           | ${(fx[1] / py).toFixed(2)}× of ${measured ? py.toFixed(3) : py} s` +
        `   | ${(best(r.plain)[1] / py).toFixed(2)}×`,
    );
  }
  console.log('loop = custom loop (shuffled mini-batches, optimizer.minimize); fit = model.fit.');
  console.log(`fixed = specflow's kernels as a run uses them by default (here: ${rows[0].fixed.label}; wasm+fma = relaxed-SIMD fused multiply-adds); plain = SPECFLOW_WASM_FMA=0 (${rows[0].plain.label}: every multiply and add rounded).`);
  console.log(
    `wasm fixed: ${EPOCHS} epochs per run; wasm stock: ${STOCK_BATCHES} batches, cpu backend: ${CPU_BATCHES} batches per batch size, timed and extrapolated to the epoch.`,
  );
  console.log(`final losses (fixed, loop): ${rows.map((r) => `bs${r.batch} ${r.fixed.lastLoss.toFixed(5)}`).join(', ')}`);
  const pyFigures = (res) => BATCHES.map((b) => `${res[b].wall.toFixed(3)} [${res[b].cpu.toFixed(3)}] s @${b}`).join(', ');
  const design = BATCHES.map((b) => `${PYTORCH_DESIGN[b].toFixed(2)} s @${b}`).join(', ');
  if (measured) {
    console.log(
      `PyTorch ${torch.torch}, ${torch.threads} thread, BLAS ${torch.blas}: ${pyFigures(torch.results)} per epoch (wall [CPU]), measured in this run (bench/pytorch-dense-ae.py, ${torch.epochs} timed epochs); DESIGN.md quotes ${design}.`,
    );
  } else {
    const why = torch.ok
      ? `torch ${torch.torch} runs on the reference BLAS (${torch.blas}): ${pyFigures(torch.results)}, not a fair baseline; \`apt-get install libopenblas0\` selects OpenBLAS`
      : `${torch.why}; \`apt-get install python3-torch libopenblas0\` (Debian's, for /usr/bin/python3) or PYTORCH_PYTHON=<a python with torch> measures it`;
    console.log(`PyTorch NOT measured here: ${design} are quoted from DESIGN.md (another machine), not measured in this run. ${why}.`);
  }
  const targets = BATCHES.map((b) => `${(2.5 * pyCpu(b)).toFixed(measured ? 3 : 2)} s @${b}`).join(', ');
  console.log(
    `targets: stock/fixed >= 8x; fixed <= 2.5 x PyTorch (${targets}, ${measured ? 'PyTorch CPU time measured in this run' : 'PyTorch quoted from DESIGN.md'})`,
  );
  console.log(`bench took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

if (process.argv[2] === '--child') await child(JSON.parse(process.argv[3]));
else await main();
