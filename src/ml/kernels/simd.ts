/**
 * specflow's own SIMD kernels (wasm/kernels.ts, compiled by AssemblyScript)
 * instantiated on the wasm backend's memory, so they work on tfjs tensors in
 * place: a GEMM that takes transposed and batched operands directly and fuses
 * bias and relu, and a one-pass Adam update.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BackendWasm, TensorInfo } from './common.js';

interface Exports {
  gemmScratchFloats(m: number, n: number, k: number, transA: number): number;
  gemm(
    a: number, b: number, c: number, m: number, n: number, k: number, transA: number, transB: number,
    bias: number, act: number, scratch: number, batch: number, strideA: number, strideB: number, strideC: number,
  ): void;
  sumRows(x: number, out: number, rows: number, cols: number): void;
  adam(
    x: number, g: number, m: number, v: number, xOut: number, mOut: number, vOut: number, size: number,
    lrT: number, beta1: number, beta2: number, epsT: number,
  ): void;
}

/** The slice of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface EmscriptenParts {
  asm: { memory: object };
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

const WASM_NAME = 'specflow-kernels.wasm';

let compiled: object | undefined;

/** The compiled module: next to this file in dist/, or dist/ seen from src/ (tests run the sources). */
function compiledModule(): object {
  if (compiled) return compiled;
  const candidates = [new URL(`./${WASM_NAME}`, import.meta.url), new URL(`../../../dist/ml/kernels/${WASM_NAME}`, import.meta.url)];
  const found = candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
  if (!found) {
    throw new Error(`specflow: ${WASM_NAME} is missing (looked in ${candidates.map((u) => fileURLToPath(u)).join(', ')}); run \`npm run build\``);
  }
  compiled = new WebAssemblyApi.Module(readFileSync(found));
  return compiled;
}

export interface SimdKernels {
  exports: Exports;
  malloc(bytes: number): number;
  free(ptr: number): void;
  /** Heap offset of a tensor's data. */
  ptr(t: TensorInfo): number;
}

const byBackend = new WeakMap<object, SimdKernels>();

export function simdKernels(backend: BackendWasm): SimdKernels {
  let k = byBackend.get(backend);
  if (k) return k;
  const mod = backend.wasm as unknown as EmscriptenParts;
  const instance = new WebAssemblyApi.Instance(compiledModule(), { env: { memory: mod.asm.memory } });
  k = {
    exports: instance.exports as unknown as Exports,
    malloc: (bytes) => mod._malloc(bytes),
    free: (p) => mod._free(p),
    ptr: (t) => backend.dataIdMap.get(t.dataId).memoryOffset,
  };
  byBackend.set(backend, k);
  return k;
}

/** Whether the compiled kernels can be found (they are built with the TypeScript). */
export function simdKernelsAvailable(): boolean {
  try {
    compiledModule();
    return true;
  } catch {
    return false;
  }
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
  bias?: TensorInfo;
  relu?: boolean;
  outShape: number[];
}

/** out = op(A)·op(B) (+ bias) (relu), a new float32 tensor of outShape. */
export function gemm(backend: BackendWasm, g: GemmArgs): TensorInfo {
  const simd = simdKernels(backend);
  const out = backend.makeOutput(g.outShape, 'float32');
  if (g.m * g.n * g.batch === 0) return out;
  const scratchBytes = simd.exports.gemmScratchFloats(g.m, g.n, g.k, g.transA ? 1 : 0) * 4;
  const scratch = scratchBytes > 0 ? simd.malloc(scratchBytes) : 0;
  try {
    simd.exports.gemm(
      simd.ptr(g.a), simd.ptr(g.b), simd.ptr(out), g.m, g.n, g.k, g.transA ? 1 : 0, g.transB ? 1 : 0,
      g.bias ? simd.ptr(g.bias) : 0, g.relu ? 1 : 0, scratch, g.batch, g.strideA, g.strideB, g.m * g.n,
    );
  } finally {
    if (scratch) simd.free(scratch);
  }
  return out;
}
