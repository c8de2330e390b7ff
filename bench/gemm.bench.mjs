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
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

if (process.argv[2] === '--child') {
  await child(process.argv[3]);
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
}
