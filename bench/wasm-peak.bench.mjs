// The ceiling a wasm kernel can reach on this CPU: 128-bit fused multiply-adds
// (relaxed SIMD, what specflow's fused kernel build uses) with ten independent
// accumulators and no memory traffic, GFLOP/s per CPU-second. WebAssembly has
// no wider vectors, so no GEMM written in it can pass this figure, while a
// native BLAS (PyTorch's OpenBLAS) uses AVX-512 where the CPU has it. It turns
// the dense autoencoder's FLOP count into the shortest possible epoch.
//
//   node bench/run.mjs wasm-peak
import { CHAINS, peakGflops, peakKernel } from './wasm-peak-kernel.mjs';

const kernel = peakKernel();
let best = 0;
for (let r = 0; r < 5; r++) best = Math.max(best, peakGflops(kernel));
// dense 1024-256-64-8 (mirrored): forward and weight gradients 2 flops per weight per row each,
// input gradients for every layer but the first
const widths = [1024, 256, 64, 8, 64, 256, 1024];
let macs = 0;
for (let i = 0; i + 1 < widths.length; i++) macs += widths[i] * widths[i + 1];
const flopsPerRow = 2 * macs + 2 * macs + 2 * (macs - widths[0] * widths[1]);
const epochFlops = flopsPerRow * 4000;
console.log(`wasm relaxed-SIMD peak: ${best.toFixed(1)} GFLOP/s per CPU-second (f32x4 fused multiply-adds, ${CHAINS} independent chains, best of 5)`);
console.log(`dense AE 1024-256-64-8, 4000 × 1024, one epoch: ${(epochFlops / 1e9).toFixed(2)} GFLOP of products → at least ${(epochFlops / best / 1e9).toFixed(3)} s per epoch on one thread at that peak, with nothing else in the step`);

