// The ceiling a wasm kernel can reach on this CPU: 128-bit fused multiply-adds
// (relaxed SIMD, what specflow's fused kernel build uses) with ten independent
// accumulators and no memory traffic, GFLOP/s per CPU-second. WebAssembly has
// no wider vectors, so no GEMM written in it can pass this figure, while a
// native BLAS (PyTorch's OpenBLAS) uses AVX-512 where the CPU has it. It turns
// the dense autoencoder's FLOP count into the shortest possible epoch.
//
//   node bench/run.mjs wasm-peak
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

const CHAINS = 10;
const SOURCE = `export function run(n: i32): f32 {
  const b = f32x4.splat(1.0000001), c = f32x4.splat(0.9999999);
${Array.from({ length: CHAINS }, (_, i) => `  let a${i} = f32x4.splat(${i});`).join('\n')}
  for (let i = 0; i < n; i++) {
${Array.from({ length: CHAINS }, (_, i) => `    a${i} = f32x4.relaxed_madd(a${i}, b, c);`).join('\n')}
  }
  let s = a0;
${Array.from({ length: CHAINS - 1 }, (_, i) => `  s = f32x4.add(s, a${i + 1});`).join('\n')}
  return f32x4.extract_lane(s, 0);
}
`;

const dir = mkdtempSync(join(tmpdir(), 'wasm-peak-'));
try {
  writeFileSync(join(dir, 'peak.ts'), SOURCE);
  const asc = fileURLToPath(new URL('../node_modules/.bin/asc', import.meta.url));
  const built = spawnSync(asc, [join(dir, 'peak.ts'), '--optimizeLevel', '3', '--noAssert', '--runtime', 'stub', '--enable', 'simd', '--enable', 'relaxed-simd', '-o', join(dir, 'peak.wasm')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`asc failed: ${built.stderr}`);
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  const { instance } = await WebAssembly.instantiate(readFileSync(join(dir, 'peak.wasm')), { env: { abort() {} } });
  const run = instance.exports.run;
  const n = 1e8;
  run(1e6);
  let best = 0;
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    run(n);
    const c = process.cpuUsage(c0);
    best = Math.max(best, (n * CHAINS * 4 * 2) / ((c.user + c.system) / 1e6) / 1e9);
  }
  // dense 1024-256-64-8 (mirrored): forward and weight gradients 2 flops per weight per row each,
  // input gradients for every layer but the first
  const widths = [1024, 256, 64, 8, 64, 256, 1024];
  let macs = 0;
  for (let i = 0; i + 1 < widths.length; i++) macs += widths[i] * widths[i + 1];
  const flopsPerRow = 2 * macs + 2 * macs + 2 * (macs - widths[0] * widths[1]);
  const epochFlops = flopsPerRow * 4000;
  console.log(`wasm relaxed-SIMD peak: ${best.toFixed(1)} GFLOP/s per CPU-second (f32x4 fused multiply-adds, ${CHAINS} independent chains, best of 5)`);
  console.log(`dense AE 1024-256-64-8, 4000 × 1024, one epoch: ${(epochFlops / 1e9).toFixed(2)} GFLOP of products → at least ${(epochFlops / best / 1e9).toFixed(3)} s per epoch on one thread at that peak, with nothing else in the step`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
