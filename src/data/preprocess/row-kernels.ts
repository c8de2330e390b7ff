/**
 * Savitzky–Golay and the area integral on float64 rows in WebAssembly SIMD
 * (wasm/preprocess.ts, built by `npm run build:wasm` next to the compiled
 * sources in dist/data/preprocess/), each thread with its own instance and memory.
 *
 * The kernels compute the same bits as the JavaScript in smooth.ts and
 * normalize.ts (the same float64 operations in the same order for every
 * output; test/data/preprocess-wasm.test.ts holds them to it), so which one
 * runs changes the speed only. When the module is missing or cannot be
 * compiled the JavaScript runs instead: `rowKernelsStatus()` says which, and
 * SPECFLOW_PREPROCESS_WASM=0 asks for the JavaScript.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Exports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  savgol(y: number, out: number, d: number, w: number, window: number, hs: number): void;
  trapezoid(x: number, y: number, d: number): number;
  divide(y: number, out: number, d: number, scale: number): void;
  toFloat32(src: number, dst: number, n: number): void;
}

/** The slice of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

const FILE = 'specflow-preprocess.wasm';

/**
 * Next to this file in dist/, or dist/ seen from src/ (tests run the sources). The paths are
 * literals so that the stages' implementation fingerprint (the runner's content keys) finds the
 * module and hashes it: a rebuilt kernel changes the key of every stage that can run it.
 */
function wasmFile(): string | undefined {
  const candidates = [
    new URL('./specflow-preprocess.wasm', import.meta.url),
    new URL('../../../dist/data/preprocess/specflow-preprocess.wasm', import.meta.url),
  ].map((u) => fileURLToPath(u));
  return candidates.find((p) => existsSync(p));
}

let exports: Exports | undefined;
let status: string | undefined;

function load(): Exports | undefined {
  if (status !== undefined) return exports;
  if (process.env.SPECFLOW_PREPROCESS_WASM === '0') {
    status = 'JavaScript (SPECFLOW_PREPROCESS_WASM=0)';
    return undefined;
  }
  const file = wasmFile();
  if (!file) {
    status = `JavaScript (${FILE} not built: run \`npm run build\`)`;
    return undefined;
  }
  try {
    const api = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    exports = new api.Instance(new api.Module(readFileSync(file)), {}).exports as Exports;
    status = 'WebAssembly SIMD';
  } catch (e) {
    status = `JavaScript (${FILE} did not compile: ${e instanceof Error ? e.message : String(e)})`;
  }
  return exports;
}

/** Which implementation the preprocessing kernels use in this thread, and why. */
export function rowKernelsStatus(): string {
  load();
  return status!;
}

/**
 * The instance's memory as float64, at least `floats` past the heap base (grown as
 * needed; growing keeps the contents but replaces the buffer, so views are re-taken).
 * Returns the view and the heap base's index in it.
 */
function heap(ex: Exports, floats: number): { f64: Float64Array; base: number } {
  const base = ex.heapBase();
  const bytes = base + floats * 8;
  const have = ex.memory.buffer.byteLength;
  if (bytes > have) ex.memory.grow(Math.ceil((bytes - have) / 65536));
  return { f64: new Float64Array(ex.memory.buffer), base: base / 8 };
}

/** What is loaded in the memory now (a kernel reloads its constants when it is not this). */
let owner: object | undefined;

/**
 * A Savitzky–Golay row function (y, out) for rows of `d` points: `weights` the window ×
 * window table (row-major), `hs` the per-point divisors or undefined; undefined when
 * the wasm kernels are not available.
 */
export function wasmSavgolRows(weights: Float64Array, window: number, hs: Float64Array | undefined, d: number): ((y: Float64Array, out: Float64Array) => void) | undefined {
  const ex = load();
  if (!ex) return undefined;
  const self = {};
  let f64: Float64Array;
  let w = 0;
  let h = 0;
  let inp = 0;
  let out = 0;
  const prepare = () => {
    const m = heap(ex, weights.length + 3 * d);
    f64 = m.f64;
    w = m.base;
    h = w + weights.length;
    inp = h + d;
    out = inp + d;
    f64.set(weights, w);
    if (hs) f64.set(hs, h);
    owner = self;
  };
  prepare();
  let yView = f64!.subarray(inp, inp + d);
  let outView = f64!.subarray(out, out + d);
  return (y, o) => {
    if (owner !== self || f64.buffer !== ex.memory.buffer) {
      prepare();
      yView = f64.subarray(inp, inp + d);
      outView = f64.subarray(out, out + d);
    }
    yView.set(y);
    ex.savgol(inp * 8, out * 8, d, w * 8, window, hs ? h * 8 : 0);
    o.set(outView);
  };
}

/** The area kernels on rows over one axis `x`: integrate a row, then divide it by a scale. */
export interface AreaRows {
  /** Trapezoidal integral of `y` over the axis (as normalize.ts's trapezoidOf). */
  integrate(y: Float64Array): number;
  /** out[i] = y[i] / scale; `y` the row last integrated, `out` may be `y`. */
  divide(y: Float64Array, out: Float64Array, scale: number): void;
}

/** The area kernels over the axis `x` in wasm, or undefined when they are not available. */
export function wasmAreaRows(x: Float64Array): AreaRows | undefined {
  const ex = load();
  if (!ex) return undefined;
  const self = {};
  const d = x.length;
  let f64: Float64Array;
  let xi = 0;
  let yi = 0;
  let yView: Float64Array;
  let last: Float64Array | undefined;
  const prepare = () => {
    const m = heap(ex, 2 * d);
    f64 = m.f64;
    xi = m.base;
    yi = xi + d;
    f64.set(x, xi);
    yView = f64.subarray(yi, yi + d);
    last = undefined;
    owner = self;
  };
  prepare();
  const ready = () => {
    if (owner !== self || f64.buffer !== ex.memory.buffer) prepare();
  };
  return {
    integrate(y) {
      ready();
      yView.set(y);
      last = y;
      return ex.trapezoid(xi * 8, yi * 8, d);
    },
    divide(y, out, scale) {
      ready();
      if (y !== last) {
        yView.set(y);
        last = y;
      }
      ex.divide(yi * 8, yi * 8, d, scale);
      out.set(yView);
      last = undefined; // the loaded row is the quotient now
    },
  };
}

/** Values converted a call: 128 KiB of float64 staged, so both sides stay in cache. */
const CONVERT_PIECE = 16_384;

/**
 * `dst.set(src, at)` from float64 to float32 (IEEE rounding to nearest even, as the
 * typed-array conversion), through the wasm module when it is available: V8's
 * converting `set` took ~4× as long as copying in, converting four at a time and
 * copying out (Node 20).
 */
export function float32Into(src: Float64Array, dst: Float32Array, at = 0): void {
  const ex = load();
  if (!ex) {
    dst.set(src, at);
    return;
  }
  const piece = Math.min(CONVERT_PIECE, src.length);
  const { f64, base } = heap(ex, piece + Math.ceil(piece / 2));
  owner = undefined; // the kernels' constants are overwritten
  const f32 = new Float32Array(f64.buffer, (base + piece) * 8, piece);
  for (let from = 0; from < src.length; from += piece) {
    const m = Math.min(piece, src.length - from);
    f64.set(src.subarray(from, from + m), base);
    ex.toFloat32(base * 8, (base + piece) * 8, m);
    dst.set(m === piece ? f32 : f32.subarray(0, m), at + from);
  }
}
