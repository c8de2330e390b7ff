/**
 * The GEMM's arithmetic, bit for bit, in both kernel builds, against a
 * reference written here in plain JS: every output element is a sum over
 * depth in order, from +0, within each depth block of KC = 256 (madd(a, b, c)
 * = c + a·b: rounded product then rounded sum in the plain build, one
 * rounding in the fused build where the CPU fuses), blocks (and, with
 * accumulate, the batch's products) added to the output in order, then
 * + bias, then relu. Whatever tiles, packing or loop orders the kernel uses,
 * these are the bits it must produce — so a faster kernel is a drop-in one.
 */
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { KERNEL_BUILDS, kernelFile, type KernelBuild } from '../../src/ml/kernels/simd.js';

const KC = 256;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 next to x (a float32 value) in direction dir (±1). */
function nextFloat(x: number, dir: number): number {
  f32[0] = x;
  if (x === 0) u32[0] = 1;
  else u32[0] += (x > 0) === (dir > 0) ? 1 : -1;
  const r = f32[0];
  return x === 0 && dir < 0 ? -r : r;
}

/**
 * a·b + c rounded once to float32 (a, b, c float32). a·b is exact in a double
 * (48 significant bits); the double sum s = a·b + c is off the exact sum by e
 * (two-sum), and rounding s to float32 is right unless s falls exactly halfway
 * between two floats, where e (when not 0) decides, as the exact sum would.
 */
function fmaF32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb);
  const r = Math.fround(s);
  if (e === 0 || r === s) return r;
  const other = nextFloat(r, s > r ? 1 : -1);
  if (s !== (r + other) / 2) return r;
  return (e > 0) === (other > r) ? other : r;
}

interface Case {
  m: number; n: number; k: number; transA?: boolean; transB?: boolean;
  bias?: boolean; relu?: boolean; batch?: number; strideA?: number; strideB?: number;
  lda?: number; accumulate?: boolean;
}

/** The reference: out[q] (or the one sum when accumulate) as float32 bits. */
function reference(x: Case, A: Float32Array, B: Float32Array, bias: Float32Array, fused: boolean): Float32Array {
  const { m, n, k } = x;
  const batch = x.batch ?? 1;
  const ldA = x.lda || (x.transA ? m : k);
  const outs = x.accumulate ? 1 : batch;
  const C = new Float32Array(outs * m * n);
  const madd = fused ? fmaF32 : (a: number, b: number, c: number) => Math.fround(c + Math.fround(a * b));
  const aAt = (q: number, i: number, kk: number) => A[q * (x.strideA ?? 0) + (x.transA ? kk * ldA + i : i * ldA + kk)];
  const bAt = (q: number, kk: number, j: number) => B[q * (x.strideB ?? 0) + (x.transB ? j * k + kk : kk * n + j)];
  const epilogue = (v: number, j: number) => {
    if (x.bias) v = Math.fround(v + bias[j]);
    if (x.relu && !(v > 0)) v = Number.isNaN(v) ? v : 0;
    return v;
  };
  if (k === 0) {
    for (let q = 0; q < outs; q++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) C[(q * m + i) * n + j] = epilogue(0, j);
    return C;
  }
  for (let k0 = 0; k0 < k; k0 += KC) {
    const kc = Math.min(KC, k - k0);
    for (let q = 0; q < batch; q++) {
      const first = k0 === 0 && (!x.accumulate || q === 0);
      const last = k0 + kc >= k && (!x.accumulate || q === batch - 1);
      const base = x.accumulate ? 0 : q * m * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let kk = k0; kk < k0 + kc; kk++) acc = madd(aAt(q, i, kk), bAt(q, kk, j), acc);
          let v = first ? acc : Math.fround(acc + C[base + i * n + j]);
          if (last) v = epilogue(v, j);
          C[base + i * n + j] = v;
        }
      }
    }
  }
  return C;
}

interface GemmExports {
  gemm(...args: number[]): void;
  gemmColumnSums(a: number, b: number, c: number, m: number, n: number, k: number, scratch: number, sums: number): void;
  gemmScratchFloats(m: number, n: number, k: number): number;
  reduceMiddle(x: number, out: number, outer: number, r: number, inner: number, scale: number): void;
  maddIsFused(a: number, c: number): number;
}

function instantiate(build: KernelBuild): { ex: GemmExports; memory: WebAssembly.Memory } {
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  const memory = new WebAssembly.Memory({ initial: 256 });
  const module = new WebAssembly.Module(readFileSync(kernelFile(build)));
  const ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
  return { ex, memory };
}

/** Floats of assorted sign and magnitude (2^-6 .. 2^6), so sums round often. */
function fill(f: Float32Array, seed: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < f.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const u = s / 2 ** 32;
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    f[i] = Math.fround((u - 0.5) * 2 ** ((s >>> 20) % 13 - 6));
  }
}

function run(build: KernelBuild, x: Case, seed: number): { got: Uint32Array; want: Uint32Array } {
  const { ex, memory } = instantiate(build);
  const { m, n, k } = x;
  const batch = x.batch ?? 1;
  const ldA = x.lda || (x.transA ? m : k);
  const aFloats = (batch - 1) * (x.strideA ?? 0) + (x.transA ? Math.max(0, k - 1) * ldA + m : (m - 1) * ldA + k);
  const bFloats = (batch - 1) * (x.strideB ?? 0) + k * n;
  const cFloats = (x.accumulate ? 1 : batch) * m * n;
  const A = new Float32Array(aFloats);
  const B = new Float32Array(bFloats);
  const bias = new Float32Array(n);
  fill(A, seed);
  fill(B, seed + 1);
  fill(bias, seed + 2);
  // operands at odd float offsets, so no load happens to be aligned
  const a = 4 * 3;
  const b = a + 4 * (aFloats + 5);
  const bi = b + 4 * (bFloats + 7);
  const c = bi + 4 * (n + 1);
  const scratch = c + 4 * (cFloats + 3);
  const need = scratch + 4 * ex.gemmScratchFloats(m, n, k) + 64;
  if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
  const heap = new Float32Array(memory.buffer);
  heap.set(A, a / 4);
  heap.set(B, b / 4);
  heap.set(bias, bi / 4);
  heap.fill(Number.NaN, c / 4, c / 4 + cFloats); // the kernel must not read what it has not written
  ex.gemm(a, b, c, m, n, k, x.transA ? 1 : 0, x.transB ? 1 : 0, x.bias ? bi : 0, x.relu ? 1 : 0, scratch,
    batch, x.strideA ?? 0, x.strideB ?? 0, m * n, x.lda ?? 0, x.accumulate ? 1 : 0);
  const fused = ex.maddIsFused(1 + 2 ** -12, 1 + 2 ** -11) === 1;
  const got = new Uint32Array(memory.buffer, c, cFloats).slice();
  return { got, want: new Uint32Array(reference(x, A, B, bias, fused).buffer) };
}

const CASES: [string, Case][] = [
  ['odd shape, two depth blocks (the second not a multiple of 4)', { m: 37, n: 45, k: 302 }],
  ['transposed A', { m: 37, n: 45, k: 300, transA: true }],
  ['transposed B, bias, relu', { m: 38, n: 45, k: 259, transB: true, bias: true, relu: true }],
  ['narrow, transposed A read in place (a partial last tile)', { m: 43, n: 20, k: 270, transA: true, bias: true }],
  ['narrow, transposed A in place over several row blocks, overlapping rows', { m: 700, n: 12, k: 30, transA: true, lda: 100 }],
  ['transposed A packed by the tiles that first read it, rows a multiple of 5, three depth blocks', { m: 65, n: 48, k: 700, transA: true, bias: true, relu: true }],
  ['transposed A with distant rows (packed though narrow): fewer than 5 rows, one partial panel', { m: 4, n: 6, k: 600, transA: true, lda: 300 }],
  ['transposed A packed in two row blocks, the last tile of each 4 rows', { m: 324, n: 40, k: 70, transA: true }],
  ['both transposed, three depth blocks', { m: 19, n: 41, k: 530, transA: true, transB: true }],
  ['narrow (A read in place), bias, relu', { m: 29, n: 13, k: 270, bias: true, relu: true }],
  ['taller than one row block (three blocks)', { m: 661, n: 11, k: 40, transA: true, bias: true }],
  ['taller than one row block, A in place', { m: 650, n: 9, k: 33 }],
  ['taller than one row block, packed untransposed A (the second depth block by strips)', { m: 321, n: 249, k: 257 }],
  ['wide B (a block of packed A passed by each panel), transposed B, bias, relu', { m: 40, n: 300, k: 300, transB: true, bias: true, relu: true }],
  ['wide B, few rows: each whole panel packed by its first tile (a partial last panel, last tile of 3 rows), bias, relu', { m: 43, n: 300, k: 530, bias: true, relu: true }],
  ['transposed A, B wider than 256: each whole panel packed by its first tile, two depth blocks', { m: 37, n: 270, k: 300, transA: true }],
  ['short depth, by strips of rows (a partial last strip), bias, relu', { m: 337, n: 45, k: 8, bias: true, relu: true }],
  ['short depth by strips, transposed B, two depth blocks', { m: 23, n: 70, k: 300, transB: true }],
  ['short depth by strips, batch sharing B, overlapping rows', { m: 41, n: 36, k: 16, lda: 5, batch: 2, strideA: 300, strideB: 0, bias: true }],
  ['by strips reading ahead into the next strip, overlapping rows, a partial last strip', { m: 47, n: 40, k: 70, lda: 9, bias: true }],
  ['batch, each operand its own', { m: 9, n: 35, k: 70, batch: 3, strideA: 9 * 70, strideB: 70 * 35 }],
  ['batch sharing B (stride 0)', { m: 21, n: 17, k: 261, batch: 2, strideA: 21 * 261, strideB: 0, bias: true }],
  ['overlapping rows of A (a convolution)', { m: 30, n: 10, k: 45, lda: 3, batch: 2, strideA: 97, strideB: 0, bias: true, relu: true }],
  ['overlapping transposed rows, accumulated batch', { m: 45, n: 10, k: 300, transA: true, lda: 3, batch: 3, strideA: 1000, strideB: 3000, accumulate: true }],
  ['one column, bias, relu', { m: 53, n: 1, k: 517, bias: true, relu: true }],
  ['one column, transposed A', { m: 250, n: 1, k: 300, transA: true }],
  ['one column, overlapping rows, batch', { m: 31, n: 1, k: 40, lda: 4, batch: 3, strideA: 150, strideB: 0, bias: true }],
  ['one column, overlapping transposed rows, accumulated batch', { m: 49, n: 1, k: 270, transA: true, lda: 16, batch: 3, strideA: 4400, strideB: 270, accumulate: true }],
  ['transposed B, one row', { m: 1, n: 70, k: 33, transB: true }],
  ['empty sum, bias, relu', { m: 5, n: 9, k: 0, bias: true, relu: true }],
];

describe('GEMM bits against a plain-JS reference of its arithmetic', () => {
  for (const build of KERNEL_BUILDS) {
    for (const [what, x] of CASES) {
      it(`${build}: ${what} (${x.m}×${x.k}×${x.n})`, () => {
        const { got, want } = run(build, x, x.m * 131 + x.n * 7 + x.k);
        let differ = 0;
        let firstAt = -1;
        for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) { differ++; if (firstAt < 0) firstAt = i; }
        expect({ differ, firstAt, of: want.length }).toEqual({ differ: 0, firstAt: -1, of: want.length });
      });
    }
  }

  it('the fused reference rounds once: a case where rounding twice differs', () => {
    // (1 + 2^-12)² − (1 + 2^-11) = 2^-24 exactly; the product rounded first gives 0
    const a = Math.fround(1 + 2 ** -12);
    expect(fmaF32(a, a, -Math.fround(1 + 2 ** -11))).toBe(2 ** -24);
    // a² = 1 + 2^-11 + 2^-24 is exactly halfway between two floats: alone it rounds to even,
    // and any c, however small, decides — though the double sum a² + 2^-60 has already lost it
    const up = Math.fround(1 + 2 ** -11 + 2 ** -23);
    const even = Math.fround(1 + 2 ** -11);
    expect(fmaF32(a, a, 0)).toBe(even);
    expect(Math.fround(a * a + 2 ** -60)).toBe(even);
    expect(fmaF32(a, a, 2 ** -60)).toBe(up);
    expect(fmaF32(a, a, -(2 ** -60))).toBe(even);
    expect(fmaF32(-a, a, -(2 ** -60))).toBe(-up);
  });
});

// A weight gradient xᵀ·dy with dy's column sums on the side (the bias gradient, src/ml/kernels/column-sums.ts):
// the product's bits are the reference's, and each sum is dy's column added from +0 in row order in float32,
// which is also what the Sum kernel (reduceMiddle) computes, bit for bit.
describe('GEMM with the column sums of B (transposed A)', () => {
  const shapes: [string, Case][] = [
    ['three depth blocks (the last 88 rows), 16-, 4- and single-column sums', { m: 37, n: 27, k: 600, transA: true }],
    ['one short block, two columns', { m: 5, n: 2, k: 7, transA: true }],
    ['wide: two 16-column strips, a 4-column group and three single columns', { m: 64, n: 39, k: 300, transA: true }],
  ];
  for (const build of KERNEL_BUILDS) {
    for (const [what, x] of shapes) {
      it(`${build}: ${what} (${x.m}×${x.k}×${x.n})`, () => {
        const { ex, memory } = instantiate(build);
        const { m, n, k } = x;
        const A = new Float32Array(k * m);
        const B = new Float32Array(k * n);
        fill(A, m + k);
        fill(B, n + k);
        for (let r = 0; r < k; r++) B[r * n + (n - 1)] = -0; // an all −0 column sums to +0 from +0
        // at odd float offsets (the kernel aligns its packing buffers itself)
        const a = 4 * 3;
        const b = a + 4 * (A.length + 5);
        const c = b + 4 * (B.length + 7);
        const sums = c + 4 * (m * n + 1);
        const reduced = sums + 4 * (n + 3);
        const scratch = reduced + 4 * (n + 5);
        const need = scratch + 4 * ex.gemmScratchFloats(m, n, k) + 64;
        if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
        const heap = new Float32Array(memory.buffer);
        heap.set(A, a / 4);
        heap.set(B, b / 4);
        heap.fill(Number.NaN, sums / 4, sums / 4 + n); // sums are written, not added to
        ex.gemmColumnSums(a, b, c, m, n, k, scratch, sums);
        ex.reduceMiddle(b, reduced, 1, k, n, 1);
        const fused = ex.maddIsFused(1 + 2 ** -12, 1 + 2 ** -11) === 1;
        const want = new Uint32Array(reference(x, A, B, new Float32Array(n), fused).buffer);
        const got = new Uint32Array(memory.buffer, c, m * n);
        let differ = 0;
        for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) differ++;
        expect(differ).toBe(0);
        const wantSums = new Float32Array(n);
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let r = 0; r < k; r++) s = Math.fround(s + B[r * n + j]!);
          wantSums[j] = s;
        }
        expect(new Uint32Array(memory.buffer, sums, n)).toEqual(new Uint32Array(wantSums.buffer));
        expect(new Uint32Array(memory.buffer, reduced, n)).toEqual(new Uint32Array(wantSums.buffer));
        expect(Object.is(heap[sums / 4 + n - 1], 0)).toBe(true);
      });
    }
  }
});
