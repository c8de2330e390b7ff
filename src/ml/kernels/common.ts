/**
 * Plumbing shared by specflow's wasm kernels: access to tfjs's own ("original")
 * wasm kernels so composed kernels can call them directly on TensorInfos, and
 * helpers to free intermediates. Kernels call each other this way rather than
 * through `tf.*` ops so that nothing they do lands on the gradient tape or in
 * the engine's tensor bookkeeping.
 */
import type {
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type TF = typeof import('@tensorflow/tfjs');
export type { BackendWasm, TensorInfo };

export interface KernelArgs<A = NamedAttrMap> {
  inputs: NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: A;
}

/** tfjs's own wasm kernels, captured before specflow replaced any of them. */
const originals = new Map<string, KernelConfig>();
let tfRef: TF | undefined;

export function bindTf(tf: TF): void {
  tfRef = tf;
}

export function boundTf(): TF {
  if (!tfRef) throw new Error('specflow wasm kernels: used before installWasmFixes');
  return tfRef;
}

export function rememberOriginal(tf: TF, kernelName: string): KernelConfig | undefined {
  tfRef = tf;
  if (!originals.has(kernelName)) {
    const k = tf.getKernel(kernelName, 'wasm');
    if (k) originals.set(kernelName, k);
  }
  return originals.get(kernelName);
}

export function original(kernelName: string): KernelConfig | undefined {
  return originals.get(kernelName);
}

/** Runs tfjs's original wasm kernel `name` (never a specflow replacement). */
export function run(
  name: string,
  backend: BackendWasm,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap = {},
): TensorInfo {
  // Kernels specflow never replaces are looked up live (and cached).
  const k = originals.get(name) ?? (tfRef ? rememberOriginal(tfRef, name) : undefined);
  if (!k) throw new Error(`specflow wasm kernels: original kernel ${name} not captured`);
  const out = (k.kernelFunc as KernelFunc)({ inputs, backend, attrs });
  return Array.isArray(out) ? (out[0] as TensorInfo) : (out as TensorInfo);
}

export function dispose(backend: BackendWasm, ...infos: (TensorInfo | undefined)[]): void {
  for (const t of infos) if (t) backend.disposeData(t.dataId);
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A Float32Array view of a wasm tensor. Re-fetch after any allocation: the heap may grow and detach old views. */
export function f32(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Reshape without copying: a new TensorInfo sharing `t`'s data (its own reference, dispose it). */
export function reshape(backend: BackendWasm, t: TensorInfo, shape: number[]): TensorInfo {
  return run('Reshape', backend, { x: t }, { shape });
}

/**
 * The Emscripten module behind the wasm backend. Typed here because
 * tfjs-backend-wasm's declarations lean on @types/emscripten, which is not a
 * dependency.
 */
export interface WasmModule {
  /** The instance's exports; `memory` is what specflow's own kernels import. */
  asm: { memory: object };
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  /** Views of the heap, replaced by Emscripten when memory grows: read them after allocating. */
  HEAPU8: Uint8Array;
  HEAPF32: Float32Array;
}

export function wasmModule(backend: BackendWasm): WasmModule {
  return backend.wasm as unknown as WasmModule;
}
