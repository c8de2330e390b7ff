/**
 * specflow's own SIMD kernels (wasm/kernels.ts, compiled by AssemblyScript)
 * instantiated on the wasm backend's memory, so they work on tfjs tensors in
 * place: a GEMM that takes transposed and batched operands directly and fuses
 * bias and relu, a one-pass Adam update, reductions over middle axes and
 * LeakyReLU with its gradient's kernels.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import type { BackendWasm, TensorInfo } from './common.js';
import { sizeOf, wasmModule } from './common.js';

interface Exports {
  gemmScratchFloats(m: number, n: number, k: number): number;
  setGemmResidual(delta: number): void;
  gemmColumnSums(a: number, b: number, c: number, m: number, n: number, k: number, scratch: number, sums: number): void;
  gemm(
    a: number, b: number, c: number, m: number, n: number, k: number, transA: number, transB: number,
    bias: number, act: number, scratch: number, batch: number, strideA: number, strideB: number, strideC: number, lda: number,
    accumulate: number,
  ): void;
  padRows(x: number, out: number, n: number, w: number, c: number, left: number, right: number): void;
  reduceMiddle(x: number, out: number, outer: number, r: number, inner: number, scale: number): void;
  reduceInner(x: number, out: number, outer: number, r: number, scale: number): void;
  addF32(a: number, b: number, out: number, n: number, mode: number, period: number): void;
  subF32(a: number, b: number, out: number, n: number, mode: number, period: number): void;
  mulF32(a: number, b: number, out: number, n: number, mode: number, period: number): void;
  divF32(a: number, b: number, out: number, n: number, mode: number, period: number): void;
  squaredDifferenceF32(a: number, b: number, out: number, n: number, mode: number, period: number): void;
  relu(x: number, out: number, n: number): void;
  expF32(x: number, out: number, n: number): void;
  erfF32(x: number, out: number, n: number): void;
  leakyRelu(x: number, out: number, n: number, alpha: number): void;
  reluGrad(dy: number, y: number, out: number, n: number): void;
  greater(a: number, b: number, out: number, n: number, bScalar: number): void;
  select(cond: number, t: number, e: number, out: number, n: number): void;
  adam(
    x: number, g: number, m: number, v: number, xOut: number, mOut: number, vOut: number, size: number,
    lrT: number, beta1: number, beta2: number, epsT: number,
  ): void;
  adamSummedInPlace(x: number, m: number, v: number, g0: number, g1: number, size: number, lrT: number, beta1: number, beta2: number, epsT: number): void;
  maddIsFused(a: number, c: number): number;
  layerNormResidual(
    x: number, res: number, resRows: number, gamma: number, beta: number, sum: number, y: number, mean: number, rstd: number, rows: number, d: number, eps: number,
  ): void;
  layerNormResidualGrad(
    dy: number, s: number, mean: number, rstd: number, gamma: number, dres: number, dx: number, dgamma: number, dbeta: number, rows: number, d: number,
  ): void;
  geluF32(x: number, out: number, cdf: number, n: number): void;
  geluGradF32(x: number, cdf: number, dy: number, out: number, n: number): void;
  attentionScratchFloats(t: number, dh: number, heads: number): number;
  attention(qkv: number, out: number, probs: number, b: number, t: number, heads: number, dh: number, scale: number, scratch: number): void;
  attentionGrad(
    qkv: number, probs: number, dout: number, dqkv: number, b: number, t: number, heads: number, dh: number, scale: number, scratch: number,
  ): void;
  // batch normalisation in training (./batch-norm.ts)
  bnCenter(x: number, mean: number, d: number, variance: number, rows: number, c: number, scale: number): void;
  bnAffine(d: number, s: number, beta: number, y: number, rows: number, c: number): void;
  bnGradSums(dy: number, d: number, sumDy: number, sumDyD: number, rows: number, c: number): void;
  bnGradInput(dy: number, d: number, s: number, k: number, cc: number, dx: number, rows: number, c: number): void;
  // the Conv-1D autoencoder's passes (./conv1d-passes.ts, ./conv1d.ts, ./conv2d-backprop-filter.ts)
  conv1dOneOut(xp: number, w: number, bias: number, y: number, n: number, ow: number, step: number, kk: number, sampleStride: number): void;
  conv1dOneOutFilterGrad(xp: number, dy: number, dw: number, n: number, ow: number, step: number, kk: number, sampleStride: number): void;
  bnVariance(x: number, mean: number, variance: number, rows: number, c: number, scale: number): void;
  bnAffineLeaky(x: number, mean: number, s: number, beta: number, y: number, rows: number, c: number, alpha: number): void;
  bnAffineLeakyPool(x: number, mean: number, s: number, beta: number, out: number, pairs: number, c: number, alpha: number): void;
  bnLeakyGradSums(
    dy: number, x: number, mean: number, s: number, beta: number, sumDz: number, sumDzD: number, rows: number, c: number, alpha: number, pool: number,
  ): void;
  bnLeakyGradInput(
    dy: number, x: number, mean: number, s: number, beta: number, k: number, cc: number, dx: number, rows: number, c: number, alpha: number, pool: number,
  ): void;
  bnGradCoefficients(sumDz: number, sumDzD: number, r: number, s: number, dGamma: number, k: number, cc: number, c: number, m: number): void;
  pairSum(x: number, out: number, pairs: number, c: number, scale: number): void;
  pairDup(x: number, out: number, rows: number, c: number, scale: number): void;
  // the Conv-1D as a 2-parallel fast FIR (./conv1d-fir2.ts)
  fir2Split(x: number, xe: number, xo: number, xs: number, n: number, w: number, c: number, left: number, v: number): void;
  fir2Combine(p0: number, p1: number, p2: number, bias: number, y: number, n: number, c: number, u0: number, ue: number, uo: number): void;
  fir2SplitGradPanels(dy: number, out: number, panelBytes: number, sum: number, n: number, ow: number, c: number, ue: number): void;
  packPanels(src: number, out: number, panelBytes: number, sum: number, rows: number, c: number): void;
  fir4SplitGradPanels(dy: number, out: number, panelBytes: number, sum: number, n: number, ow: number, c: number, ue: number): void;
  fir2GradGemm(
    a: number, aSample: number, lda: number, m: number, bp: number, panelBytes: number, n: number, depth: number, samples: number, c: number, first: number,
  ): void;
  fir4Split(x: number, out: number, arrayBytes: number, n: number, w: number, c: number, left: number, v1: number, v2: number): void;
  fir4Combine(qs: number, arrayBytes: number, rows: number, bias: number, y: number, n: number, c: number, ow: number): void;
  // the autoencoder's input scaling and loss (./loss.ts)
  scaleShiftF32(x: number, c: number, out: number, n: number, period: number, s: number): void;
  mseF32(p: number, t: number, diff: number, n: number, scale: number): number;
}

/** The slice of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number }) => object;
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * Two builds of one source: relaxed SIMD with fused multiply-adds (the
 * default wherever this Node.js compiles it: a dense AE epoch 1.1–1.35× faster,
 * `node bench/run.mjs dense-ae`), and
 * plain SIMD (SPECFLOW_WASM_FMA=0, or a Node.js without relaxed SIMD), where
 * every multiply and add is rounded on its own.
 *
 * Both are bitwise reproducible: a fused multiply-add rounds once, exactly as
 * IEEE 754 defines it, on every CPU that has the instruction (x86-64 since
 * 2013, every ARM64), and V8 lowers it to a multiply then an add, i.e. the
 * plain build's arithmetic, where the CPU has none. `kernelArithmetic()`
 * says which of the two a machine computes, and the run record names it.
 */
export type KernelBuild = 'simd' | 'simd-fma';

const FILES: Record<KernelBuild, string> = { simd: 'specflow-kernels.wasm', 'simd-fma': 'specflow-kernels-fma.wasm' };

const compiled = new Map<KernelBuild, object>();
let fmaCompiles: boolean | undefined;

/** What SPECFLOW_WASM_FMA asks for: unset → the fused build where it compiles, 1 → fused (or an error), 0 → plain. */
export function requestedKernelBuild(): KernelBuild | 'auto' {
  const v = process.env.SPECFLOW_WASM_FMA?.trim();
  if (v === undefined || v === '') return 'auto';
  if (v === '0') return 'simd';
  if (v === '1') return 'simd-fma';
  throw new Error(`SPECFLOW_WASM_FMA=${v}: use 0 (plain SIMD kernels) or 1 (fused multiply-adds, the default where Node.js supports them)`);
}

/**
 * The build chosen by the first kernel call of this thread (SPECFLOW_WASM_FMA then), kept until
 * forgetKernelBuild(). Read once rather than at every kernel call: an environment read costs
 * ~0.3 µs, and inlined into every kernel wrapper it made each one's optimised code larger and
 * slower to compile on V8's helper threads, which a two-thread training shares its cores with.
 */
let chosenBuild: KernelBuild | undefined;

/** The build the kernels run now: SPECFLOW_WASM_FMA as it was at the first call (or since forgetKernelBuild()). */
export function activeBuild(): KernelBuild {
  return (chosenBuild ??= chooseBuild());
}

/**
 * Makes the next kernel call read SPECFLOW_WASM_FMA again. For code that changes the variable
 * within a process (tests, benches comparing the builds); a run sets it before its first kernel.
 */
export function forgetKernelBuild(): void {
  chosenBuild = undefined;
  lastKernels = undefined;
}

function chooseBuild(): KernelBuild {
  const want = requestedKernelBuild();
  if (want !== 'auto') return want;
  if (fmaCompiles === undefined) {
    try {
      compiledModule('simd-fma');
      fmaCompiles = true;
    } catch {
      fmaCompiles = false;
    }
  }
  return fmaCompiles ? 'simd-fma' : 'simd';
}

/** Where a build's .wasm file is: next to this file in dist/, or dist/ seen from src/ (tests run the sources). */
export function kernelFile(build: KernelBuild): string {
  const name = FILES[build];
  const candidates = [new URL(`./${name}`, import.meta.url), new URL(`../../../dist/ml/kernels/${name}`, import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`specflow: ${name} is missing (looked in ${candidates.join(', ')}); run \`npm run build\``);
  return found;
}

export const KERNEL_BUILDS = Object.keys(FILES) as KernelBuild[];

function readBuild(build: KernelBuild): Uint8Array {
  return readFileSync(kernelFile(build));
}

/**
 * Node 20's V8 has relaxed SIMD behind a flag (on by default from Node 22).
 * The flag only gates what the wasm compiler accepts, and is set before the
 * one module that needs it is compiled.
 */
function compileRelaxed(bytes: Uint8Array): object {
  try {
    return new WebAssemblyApi.Module(bytes);
  } catch {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    try {
      return new WebAssemblyApi.Module(bytes);
    } catch (e) {
      throw new Error(`SPECFLOW_WASM_FMA=1: this Node.js cannot compile relaxed-SIMD WebAssembly (${e instanceof Error ? e.message : String(e)})`);
    }
  }
}

function compiledModule(build: KernelBuild): object {
  let module = compiled.get(build);
  if (!module) {
    const bytes = readBuild(build);
    module = build === 'simd-fma' ? compileRelaxed(bytes) : new WebAssemblyApi.Module(bytes);
    compiled.set(build, module);
  }
  return module;
}

const fusedByBuild = new Map<KernelBuild, boolean>();

/** Whether `build`'s multiply-adds round once on this machine (asked of the module itself). */
function buildFuses(build: KernelBuild): boolean {
  let fused = fusedByBuild.get(build);
  if (fused === undefined) {
    // An instance on a small memory of its own: the probe touches no memory.
    const memory = new WebAssemblyApi.Memory({ initial: 1 });
    const ex = new WebAssemblyApi.Instance(compiledModule(build), { env: { memory } }).exports as unknown as Exports;
    fused = ex.maddIsFused(1 + 2 ** -12, 1 + 2 ** -11) === 1;
    fusedByBuild.set(build, fused);
  }
  return fused;
}

/**
 * The arithmetic the wasm kernels compute on this machine with the current
 * SPECFLOW_WASM_FMA: 'fma' (multiply-adds rounded once) or 'plain'.
 */
export function kernelArithmetic(): 'fma' | 'plain' {
  return buildFuses(activeBuild()) ? 'fma' : 'plain';
}

export interface SimdKernels {
  exports: Exports;
  /** Heap offset of a tensor's data. */
  ptr(t: TensorInfo): number;
  /** A scratch buffer of at least `bytes`, kept between calls (kernels run one at a time per thread). */
  scratch(bytes: number): number;
}

const byBackend = new WeakMap<object, Map<KernelBuild, SimdKernels>>();
/** The last backend's kernels in the active build (a thread has one backend): no map look-up a call. */
let lastKernels: { backend: BackendWasm; kernels: SimdKernels } | undefined;

/** The kernels on this backend's memory, in the active build (activeBuild()). */
export function simdKernels(backend: BackendWasm): SimdKernels {
  if (lastKernels !== undefined && lastKernels.backend === backend) return lastKernels.kernels;
  const kernels = kernelsOf(backend, activeBuild());
  lastKernels = { backend, kernels };
  return kernels;
}

function kernelsOf(backend: BackendWasm, build: KernelBuild): SimdKernels {
  let builds = byBackend.get(backend);
  if (!builds) {
    builds = new Map();
    byBackend.set(backend, builds);
  }
  let k = builds.get(build);
  if (k) return k;
  const mod = wasmModule(backend);
  const scratch = { ptr: 0, bytes: 0 };
  const instance = new WebAssemblyApi.Instance(compiledModule(build), { env: { memory: mod.asm.memory } });
  k = {
    exports: instance.exports as unknown as Exports,
    ptr: (t) => backend.dataIdMap.get(t.dataId).memoryOffset,
    scratch: (bytes) => {
      if (bytes > scratch.bytes) {
        if (scratch.ptr) mod._free(scratch.ptr);
        // grown by half again, so a slowly growing size does not reallocate every call
        scratch.bytes = Math.max(bytes, Math.ceil(scratch.bytes * 1.5));
        scratch.ptr = mod._malloc(scratch.bytes);
      }
      return scratch.ptr;
    },
  };
  builds.set(build, k);
  return k;
}

export interface GemmArgs {
  a: TensorInfo;
  b: TensorInfo;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Number of products and the element strides between consecutive ones (0 broadcasts). */
  batch: number;
  strideA: number;
  strideB: number;
  bias?: TensorInfo | undefined;
  relu?: boolean | undefined;
  /** Element distance between A's stored rows (default: dense). */
  lda?: number | undefined;
  /** Sum the batch's products into one output of outShape (default: one output per product). */
  accumulate?: boolean | undefined;
  outShape: number[];
  /**
   * Receives B's n column sums (each over B's k rows in order, from +0: reduceMiddle's bits). Only for
   * op(A)ᵀ·B with one product, k > 0, n > 1, dense A and no bias, relu or accumulate (see columnSumsApply).
   */
  columnSumsOfB?: Float32Array | undefined;
  /**
   * Added in the store after the bias (before relu): C = op(A)·op(B) + bias + residual, residual of C's m × n
   * (one product only: batch 1, not accumulated, no column sums). The same bits as adding it afterwards.
   */
  residual?: TensorInfo | undefined;
}

/**
 * A product's GemmArgs with every optional field present and empty (callers set those they use):
 * every call of gemm then passes objects of one shape, whose field reads V8 caches. Built by
 * spreading a plan into literals, as they were, the objects came in several shapes, and reading
 * their absent fields (columnSumsApply, gemm) went the slow way: ~1–3 µs a product hot, more in
 * training, where the product kernels' JavaScript runs with cold caches (`node bench/gemm-batch-split.mjs`).
 */
export function gemmArgs(
  a: TensorInfo, b: TensorInfo, m: number, n: number, k: number, transA: boolean, transB: boolean,
  batch: number, strideA: number, strideB: number, outShape: number[],
): GemmArgs {
  return {
    a, b, m, n, k, transA, transB, batch, strideA, strideB,
    bias: undefined, relu: false, lda: undefined, accumulate: false, outShape, columnSumsOfB: undefined, residual: undefined,
  };
}

/** Whether a product can give B's column sums on the side (the gemmColumnSums export's case). */
export function columnSumsApply(g: GemmArgs): boolean {
  return g.transA && !g.transB && g.batch === 1 && g.k > 0 && g.n > 1 && !g.lda && !g.accumulate && !g.bias && !g.relu && !g.residual;
}

/** out = op(A)·op(B) (+ bias) (relu), a new float32 tensor of outShape. */
export function gemm(backend: BackendWasm, g: GemmArgs): TensorInfo {
  const simd = simdKernels(backend);
  const out = backend.makeOutput(g.outShape, 'float32');
  if (g.m * g.n === 0) return out;
  if (g.batch === 0 || (g.accumulate && g.k === 0)) {
    // an empty sum (the gemm export writes one output per product when k = 0)
    (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
    return out;
  }
  const scratchBytes = simd.exports.gemmScratchFloats(g.m, g.n, g.k) * 4;
  if (g.columnSumsOfB) {
    if (!columnSumsApply(g) || g.columnSumsOfB.length !== g.n) throw new Error('gemm: column sums of B asked of a product that cannot give them');
    const scratch = simd.scratch(scratchBytes + g.n * 4);
    const sums = scratch + scratchBytes;
    simd.exports.gemmColumnSums(simd.ptr(g.a), simd.ptr(g.b), simd.ptr(out), g.m, g.n, g.k, scratch, sums);
    g.columnSumsOfB.set(wasmModule(backend).HEAPF32.subarray(sums / 4, sums / 4 + g.n));
    return out;
  }
  const scratch = simd.scratch(scratchBytes);
  if (g.residual) {
    if (g.batch !== 1 || g.accumulate || sizeOf(g.residual.shape) !== g.m * g.n || g.residual.dtype !== 'float32') {
      throw new Error(`gemm: a residual of shape ${g.residual.shape} for a product of ${g.batch} × ${g.m} × ${g.n}`);
    }
    simd.exports.setGemmResidual(simd.ptr(g.residual) - simd.ptr(out));
  }
  try {
    simd.exports.gemm(
      simd.ptr(g.a), simd.ptr(g.b), simd.ptr(out), g.m, g.n, g.k, g.transA ? 1 : 0, g.transB ? 1 : 0,
      g.bias ? simd.ptr(g.bias) : 0, g.relu ? 1 : 0, scratch, g.batch, g.strideA, g.strideB, g.m * g.n, g.lda ?? 0,
      g.accumulate ? 1 : 0,
    );
  } finally {
    if (g.residual) simd.exports.setGemmResidual(0);
  }
  return out;
}
