// The f32x4 fused-multiply-add ceiling of this CPU as WebAssembly sees it:
// ten independent chains of relaxed-SIMD madds, no memory traffic, compiled
// here with asc. bench/wasm-peak.bench.mjs prints it; bench/gemm.bench.mjs
// measures it in the same process as the GEMM, so a product's GFLOP/s can be
// read as a share of the peak of that moment (this VM's speed drifts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

export const CHAINS = 10;
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

/** The peak kernel, compiled and instantiated: `flops(n)` runs n iterations and returns the flops they did. */
export function peakKernel() {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-peak-'));
  try {
    writeFileSync(join(dir, 'peak.ts'), SOURCE);
    const asc = fileURLToPath(new URL('../node_modules/.bin/asc', import.meta.url));
    const built = spawnSync(asc, [join(dir, 'peak.ts'), '--optimizeLevel', '3', '--noAssert', '--runtime', 'stub', '--enable', 'simd', '--enable', 'relaxed-simd', '-o', join(dir, 'peak.wasm')], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`asc failed: ${built.stderr}`);
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(join(dir, 'peak.wasm'))), { env: { abort() {} } });
    const run = instance.exports.run;
    // past V8's baseline compiler (wasm functions are optimised after some calls, in the background)
    const t0 = performance.now();
    while (performance.now() - t0 < 300) run(1e5);
    return (n) => {
      run(n);
      return n * CHAINS * 4 * 2;
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** GFLOP/s per CPU-second of `kernel` over n iterations. */
export function peakGflops(kernel, n = 1e8) {
  const c0 = process.cpuUsage();
  const flops = kernel(n);
  const c = process.cpuUsage(c0);
  return flops / ((c.user + c.system) / 1e6) / 1e9;
}
