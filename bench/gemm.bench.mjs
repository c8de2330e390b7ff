// Matrix-product throughput (GFLOP/s) at the shapes of the reference dense
// AE's training step, stock tfjs-backend-wasm against specflow's SIMD GEMM
// (src/ml/kernels/, wasm/kernels.ts): the default build (fused multiply-adds
// where Node.js compiles relaxed SIMD) and the plain-SIMD one (SPECFLOW_WASM_FMA=0).
// Each product gets a right operand that is a new tensor every call, as in
// training (new weights every step, new gradients always).
//
//   node bench/run.mjs gemm      (after `npm run build`)
//
// Figures: fastest of 7 rounds, each a loop of products, wall-clock.
//
// A second table calls the kernel's `gemm` export directly (no tfjs around
// it) at the products a training step of each default autoencoder makes
// (the dense AE's, the Conv-1D's batched convolutions with overlapping rows
// and their filter gradients, the Transformer's projections), timed in
// process CPU time (fastest of 5 rounds, builds interleaved), so it can be
// read on a busy machine. BENCH_GEMM_BASELINE=<a dist/ml/kernels directory of
// another build, e.g. an older commit's> adds that build's figures and the
// ratio (the median over the rounds of the round's base time over this
// build's), measured in the same process; BENCH_GEMM_ROUNDS=N rounds (5); BENCH_GEMM_COLD=1 writes 16 MiB
// before each call and times the calls alone (operands out of L2, as in training).
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { peakGflops, peakKernel } from './wasm-peak-kernel.mjs';

// [m, k, n, transposeA, transposeB, what]
const CASES = [
  [64, 1024, 256, false, false, 'forward, first layer, batch 64'],
  [64, 256, 1024, false, true, 'dx = dy·Wᵀ, last layer, batch 64'],
  [1024, 64, 256, true, false, 'dW = xᵀ·dy, first layer, batch 64'],
  [256, 1024, 256, false, false, 'forward, first layer, batch 256'],
  [256, 256, 1024, false, true, 'dx = dy·Wᵀ, last layer, batch 256'],
  [1024, 256, 256, true, false, 'dW = xᵀ·dy, first layer, batch 256'],
];

async function child(variant) {
  const backend = await import('../dist/ml/backend.js');
  const { tf } = variant === 'stock' ? await backend.initStockWasm() : await backend.initBackend('wasm');
  const out = {};
  for (const [m, k, n, ta, tb, what] of CASES) {
    const a = tf.randomNormal(ta ? [k, m] : [m, k], 0, 1, 'float32', 1);
    const b = tf.randomNormal(tb ? [n, k] : [k, n], 0, 1, 'float32', 2);
    const flops = 2 * m * n * k;
    const reps = Math.max(2, Math.round(3e8 / flops));
    const once = () => {
      const fresh = tf.clone(b); // a new tensor id, as weights and gradients are in training
      const c = tf.matMul(a, fresh, ta, tb);
      c.dataSync();
      c.dispose();
      fresh.dispose();
    };
    once();
    let best = Infinity;
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) once();
      best = Math.min(best, (performance.now() - t0) / reps);
    }
    out[what] = flops / best / 1e6;
    a.dispose();
    b.dispose();
  }
  console.log(JSON.stringify(out));
}

function runChild(variant, env = {}) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', variant], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    process.stderr.write(r.stderr ?? '');
    throw new Error(`gemm bench child ${variant} failed (exit ${r.status})`);
  }
  return JSON.parse(line);
}

// [what, m, k, n, transA, transB, batch, strideA, strideB, lda, accumulate, bias] as train steps call them
// (SHAPES=1 node bench/kernel-profile.mjs ARCH 256 lists a step's kernels by shape). The Transformer's
// rows are its defaults at batch 256 (8192 tokens of width 64; 7424 in an epoch's last, short batch), then at batch 64
// (`b64` rows, dense's too).
const DIRECT = [
  ['dense: forward, first layer', 256, 1024, 256, 0, 0, 1, 0, 0, 0, 0, 1],
  ['dense: dx = dy·Wᵀ, last layer', 256, 256, 1024, 0, 1, 1, 0, 0, 0, 0, 0],
  ['dense: dW = xᵀ·dy, first layer', 1024, 256, 256, 1, 0, 1, 0, 0, 0, 0, 0],
  ['dense: forward, last layer', 256, 256, 1024, 0, 0, 1, 0, 0, 0, 0, 1],
  ['dense b64: forward, first layer', 64, 1024, 256, 0, 0, 1, 0, 0, 0, 0, 1],
  ['dense b64: dx = dy·Wᵀ, last layer', 64, 256, 1024, 0, 1, 1, 0, 0, 0, 0, 0],
  ['dense b64: dW = xᵀ·dy, first layer', 1024, 64, 256, 1, 0, 1, 0, 0, 0, 0, 0],
  ['dense b64: forward, last layer', 64, 256, 1024, 0, 0, 1, 0, 0, 0, 0, 1],
  ['conv1d: forward, 32→64 channels', 128, 224, 64, 0, 0, 256, 4288, 0, 32, 0, 1],
  ['conv1d: forward, 16→16 channels', 512, 240, 16, 0, 0, 256, 8416, 0, 16, 0, 1],
  ['conv1d: forward, 16→1 channel', 512, 240, 1, 0, 0, 256, 8416, 0, 16, 0, 1],
  ['conv1d: filter gradient, 16→16', 240, 512, 16, 1, 0, 256, 8416, 8192, 16, 1, 0],
  ['conv1d: filter gradient, 16→1', 240, 512, 1, 1, 0, 256, 8416, 512, 16, 1, 0],
  ['conv1d: latent → 4096 (k = 8)', 256, 8, 4096, 0, 0, 1, 0, 0, 0, 0, 1],
  ['conv1d: dz of latent → 4096 (n = 8)', 256, 4096, 8, 0, 1, 1, 0, 0, 0, 0, 0],
  ['conv1d: dW of latent → 4096 (m = 8)', 8, 256, 4096, 1, 0, 1, 0, 0, 0, 0, 0],
  ['conv1d: 4096 → latent (n = 8)', 256, 4096, 8, 0, 0, 1, 0, 0, 0, 0, 1],
  ['conv1d: dx of 4096 → latent (k = 8)', 256, 8, 4096, 0, 1, 1, 0, 0, 0, 0, 0],
  ['conv1d: dW of 4096 → latent (n = 8)', 4096, 256, 8, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer: Q/K/V projection', 8192, 64, 192, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer: attention out projection', 8192, 64, 64, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer: MLP in', 8192, 64, 128, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer: MLP out', 8192, 128, 64, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer: MLP in, short batch', 7424, 64, 128, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer: dx of Q/K/V projection', 8192, 192, 64, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer: dx of out projection', 8192, 64, 64, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer: dx of MLP in', 8192, 128, 64, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer: dx of MLP out', 8192, 64, 128, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer: dW of Q/K/V projection', 64, 8192, 192, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer: dW of out projection', 64, 8192, 64, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer: dW of MLP in', 64, 8192, 128, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer: dW of MLP out', 128, 8192, 64, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer: patch embedding (k = 16)', 8192, 16, 64, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer: dW of patch embedding', 16, 8192, 64, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer: output patches (n = 16)', 8192, 64, 16, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer: dx of output patches', 8192, 16, 64, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer: dW of output patches', 64, 8192, 16, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer: latent → tokens (k = 8)', 256, 8, 2048, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer: dz of latent → tokens', 256, 2048, 8, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer: dW of latent → tokens', 8, 256, 2048, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer: tokens → latent (n = 8)', 256, 2048, 8, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer: dW of tokens → latent', 2048, 256, 8, 1, 0, 1, 0, 0, 0, 0, 0],
  // the same products at train.autoencoder's default batch 64 (2048 tokens; BENCH_GEMM_ONLY=b64)
  ['transformer b64: Q/K/V projection', 2048, 64, 192, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer b64: attention out projection', 2048, 64, 64, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer b64: MLP in', 2048, 64, 128, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer b64: MLP out', 2048, 128, 64, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer b64: dx of Q/K/V projection', 2048, 192, 64, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer b64: dx of out projection', 2048, 64, 64, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer b64: dx of MLP in', 2048, 128, 64, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer b64: dx of MLP out', 2048, 64, 128, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer b64: dW of Q/K/V projection', 64, 2048, 192, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer b64: dW of out projection', 64, 2048, 64, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer b64: dW of MLP in', 64, 2048, 128, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer b64: dW of MLP out', 128, 2048, 64, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer b64: patch embedding (k = 16)', 2048, 16, 64, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer b64: dW of patch embedding', 16, 2048, 64, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer b64: latent → tokens (k = 8)', 64, 8, 2048, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer b64: dz of latent → tokens', 64, 2048, 8, 0, 1, 1, 0, 0, 0, 0, 0],
  ['transformer b64: dW of latent → tokens', 8, 64, 2048, 1, 0, 1, 0, 0, 0, 0, 0],
  ['transformer b64: tokens → latent (n = 8)', 64, 2048, 8, 0, 0, 1, 0, 0, 0, 0, 1],
  ['transformer b64: dW of tokens → latent', 2048, 64, 8, 1, 0, 1, 0, 0, 0, 0, 0],
];

const ROUNDS = Number(process.env.BENCH_GEMM_ROUNDS ?? 5);
const COLD = process.env.BENCH_GEMM_COLD === '1';

function directChild() {
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  const here = new URL('../dist/ml/kernels/', import.meta.url);
  const base = process.env.BENCH_GEMM_BASELINE && new URL(`file://${process.env.BENCH_GEMM_BASELINE.replace(/\/?$/, '/')}`);
  const dirs = [['fused', here, 'specflow-kernels-fma.wasm'], ['plain', here, 'specflow-kernels.wasm']];
  if (base) dirs.push(['base fused', base, 'specflow-kernels-fma.wasm'], ['base plain', base, 'specflow-kernels.wasm']);
  // BENCH_GEMM_BUILDS=fused: only the fused builds (new and base); BENCH_GEMM_ONLY=<text>: only the rows naming it
  const wanted = process.env.BENCH_GEMM_BUILDS;
  const builds = dirs.filter(([label]) => !wanted || label.endsWith(wanted)).map(([label, dir, file]) => {
    // 64 MiB: the largest case's operands; then 16 MiB written between calls with BENCH_GEMM_COLD=1
    const memory = new WebAssembly.Memory({ initial: 1280 });
    const ex = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL(file, dir))), { env: { memory } }).exports;
    return { label, memory, ex };
  });
  const peak = peakKernel();
  // V8 runs wasm on its baseline compiler (Liftoff) until a function has run long enough to be
  // optimised (TurboFan, compiled in the background): warm every build up first
  for (const { ex } of builds) {
    const t0 = performance.now();
    while (performance.now() - t0 < 1500) ex.gemm(64, 1 << 20, 2 << 20, 64, 64, 256, 0, 0, 0, 0, 3 << 20, 1, 0, 0, 4096, 0, 0);
  }
  const out = {};
  const only = process.env.BENCH_GEMM_ONLY;
  for (const [what, m, k, n, ta, tb, batch, sA, sB, lda, acc, bias] of DIRECT.filter(([what]) => !only || what.includes(only))) {
    const ldA = lda || (ta ? m : k);
    const aF = (batch - 1) * sA + (ta ? (k - 1) * ldA + m : (m - 1) * ldA + k);
    const bF = (batch - 1) * sB + k * n;
    const cF = acc ? m * n : batch * m * n;
    const A = 64, B = A + 4 * aF + 64, BIAS = B + 4 * bF + 64, C = BIAS + 4 * n + 64, SCRATCH = C + 4 * cF + 64;
    for (const { memory } of builds) {
      const f = new Float32Array(memory.buffer);
      let r = 12345;
      for (let i = A / 4; i < C / 4; i++) { r = (Math.imul(r, 1103515245) + 12345) >>> 0; f[i] = r / 2 ** 31 - 1; }
    }
    const flops = 2 * m * n * k * batch;
    const reps = Math.max(1, Math.round(4e7 / flops));
    const call = (ex) => ex.gemm(A, B, C, m, n, k, ta, tb, bias ? BIAS : 0, 0, SCRATCH, batch, sA, sB, m * n, lda, acc);
    // µs of process CPU for reps calls; cold: each call timed alone after 16 MiB are written (evicting the
    // operands from L2, as a training step's other kernels do between its products)
    const loop = (ex, memory) => {
      const cpu = () => {
        const c = process.cpuUsage();
        return c.user + c.system;
      };
      let us = 0;
      if (!COLD) {
        const t0 = cpu();
        for (let i = 0; i < reps; i++) call(ex);
        return cpu() - t0;
      }
      const junk = new Float32Array(memory.buffer, 64 << 20, 4 << 20);
      for (let i = 0; i < reps; i++) {
        junk.fill(i);
        const t0 = cpu();
        call(ex);
        us += cpu() - t0;
      }
      return us;
    };
    for (let w = 0; w < 2; w++) for (const { ex, memory } of builds) loop(ex, memory); // past V8's baseline compiler
    const best = builds.map(() => Infinity);
    const perRound = builds.map(() => []);
    let bestPeak = 0;
    for (let round = 0; round < ROUNDS; round++) {
      bestPeak = Math.max(bestPeak, peakGflops(peak, 1e6)); // the ceiling of this moment, ~1 ms beside each round
      // the builds' order rotated each round: the position in a round moves the ratio by a few per cent
      for (let j = 0; j < builds.length; j++) {
        const i = (j + round) % builds.length;
        const { ex, memory } = builds[i];
        const us = loop(ex, memory) / reps;
        best[i] = Math.min(best[i], us);
        perRound[i].push(us);
      }
    }
    // each build's time over its base's, round by round, median: steadier than the ratio of the fastest rounds
    const median = (xs) => xs.sort((x, y) => x - y)[xs.length >> 1];
    const ratios = Object.fromEntries(builds.flatMap(({ label }, i) => {
      const b = builds.findIndex((x) => x.label === `base ${label}`);
      return b < 0 ? [] : [[label, median(perRound[b].map((t, r) => t / perRound[i][r]))]];
    }));
    out[what] = { shape: `${m}×${k}×${n}${ta ? ' Aᵀ' : ''}${tb ? ' Bᵀ' : ''}${batch > 1 ? ` ×${batch}` : ''}`, peak: bestPeak, ratios, ...Object.fromEntries(builds.map(({ label }, i) => [label, flops / best[i] / 1e3])) };
  }
  console.log(JSON.stringify(out));
}

function printDirect(direct) {
  const labels = Object.keys(Object.values(direct)[0]).filter((l) => l !== 'shape' && l !== 'peak' && l !== 'ratios');
  const pairs = labels.filter((l) => labels.includes(`base ${l}`));
  console.log(`\nthe kernel alone (wasm \`gemm\` export) at the products of one training step of each default AE, GFLOP/s on process CPU time (fastest of ${ROUNDS} rounds, builds interleaved${COLD ? '; operands cold' : ''}); % peak: the first build against the f32x4 FMA peak measured beside each round (bench/wasm-peak-kernel.mjs); x/base: the base build's time over x's, median of the rounds`);
  console.log(`${'product'.padEnd(40)} ${'m×k×n ×batch'.padEnd(20)} ${labels.map((l) => l.padStart(10)).join(' ')} ${'% peak'.padStart(7)}${pairs.map((l) => `${`${l}/base`.padStart(12)}`).join('')}`);
  for (const [what, v] of Object.entries(direct)) {
    const rel = pairs.map((l) => `${v.ratios[l].toFixed(2)}×`.padStart(12)).join('');
    console.log(`${what.padEnd(40)} ${v.shape.padEnd(20)} ${labels.map((l) => v[l].toFixed(1).padStart(10)).join(' ')} ${`${((100 * v[labels[0]]) / v.peak).toFixed(0)}%`.padStart(7)}${rel}`);
  }
  const peaks = Object.values(direct).map((v) => v.peak);
  console.log(`f32x4 FMA peak over the rows: ${Math.min(...peaks).toFixed(1)}–${Math.max(...peaks).toFixed(1)} GFLOP/s`);
}

function runDirect() {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--direct'], { encoding: 'utf8' });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    process.stderr.write(r.stderr ?? '');
    throw new Error(`gemm bench child --direct failed (exit ${r.status})`);
  }
  return JSON.parse(line);
}

if (process.argv[2] === '--direct') {
  directChild();
} else if (process.argv[2] === '--child') {
  await child(process.argv[3]);
} else if (process.env.BENCH_GEMM_DIRECT_ONLY) {
  printDirect(runDirect());
} else {
  const stock = runChild('stock');
  const fixed = runChild('fixed', { SPECFLOW_WASM_FMA: '' });
  const plain = runChild('fixed', { SPECFLOW_WASM_FMA: '0' });
  console.log('matrix products at the reference dense AE\'s shapes, GFLOP/s (fastest of 7 rounds), a new right operand every call');
  console.log(`${'product'.padEnd(40)} ${'m×k×n'.padEnd(16)} ${'stock'.padStart(7)} ${'fixed'.padStart(7)} ${'plain'.padStart(7)}  fixed/stock  fixed/plain`);
  for (const [m, k, n, , , what] of CASES) {
    console.log(
      `${what.padEnd(40)} ${`${m}×${k}×${n}`.padEnd(16)} ${stock[what].toFixed(1).padStart(7)} ${fixed[what].toFixed(1).padStart(7)} ${plain[what].toFixed(1).padStart(7)}  ${`${(fixed[what] / stock[what]).toFixed(1)}×`.padEnd(11)}  ${(fixed[what] / plain[what]).toFixed(2)}×`,
    );
  }
  console.log('stock: tfjs 4.22 wasm (XNNPACK for untransposed products, a scalar loop otherwise); fixed: specflow\'s GEMM as runs use it (fused multiply-adds where available); plain: SPECFLOW_WASM_FMA=0.');
  printDirect(runDirect());
}
