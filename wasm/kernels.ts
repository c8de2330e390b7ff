// specflow's SIMD kernels for the tfjs wasm backend, in AssemblyScript.
//
// The module imports tfjs-backend-wasm's own memory, so every pointer here is
// a tfjs tensor's heap offset (or scratch space malloc'd by tfjs): kernels
// read and write tensors in place, with no copies across modules. Nothing
// here allocates; the JS side passes every buffer in.
//
// Built by `npm run build` (asc, see package.json) twice: with relaxed SIMD
// into dist/ml/kernels/specflow-kernels-fma.wasm (the default where Node.js
// compiles it; see madd below) and plain SIMD into specflow-kernels.wasm
// (SPECFLOW_WASM_FMA=0).

// ---------------------------------------------------------------------------
// GEMM: C[m×n] = op(A)·op(B) (+ bias) (relu), row-major, op = optional transpose.
//
// Why our own: tfjs-wasm sends only untransposed products to XNNPACK, and
// XNNPACK repacks the right operand whenever its tensor id is new (every step
// for weights, always for gradients); the backward pass of a dense layer is
// all transposed products. Here both operands are packed block by block into
// the layouts the micro-kernels stream through (which is where a transpose
// is absorbed), in the manner of BLIS/XNNPACK: 5×8 or 4×8 tiles of f32x4
// accumulators, A broadcast and two vectors of B per depth step.
//
// V8 schedules all of a loop body's loads before its arithmetic, so every
// value loaded in a depth step is live beside the accumulators: a tile fits
// if accumulators + loads ≤ 15 xmm registers (4×8: 8 + 6; 5×8 with five
// splat loads or 6×8: 17 and more, and they spill; so does unrolling the
// depth loop). Every tile and path computes each element the same way
// (test/ml/gemm-bits.test.ts), so their choice never changes results.

const MR: i32 = 4; // rows of C per micro-tile
// Rows per micro-tile on packed A in the fused build: 5×8 (10 accumulators)
// gives the two FMA pipes (latency 4) slack that 4×8's 8 chains do not, and
// fits V8's 15 xmm registers because A's 5 values at a depth come from one
// vector load (4 broadcast by shuffles) and one splat. In the plain build a
// multiply and an add per step leave no register for it: 4×8 there.
const MR_PACKED: i32 = ASC_FEATURE_RELAXED_SIMD ? 5 : 4;
const NR: i32 = 8; // columns of C per micro-tile (two f32x4)
const PACK_A_MIN_N: i32 = 32; // narrower products read A in place
const TRANS_A_IN_PLACE_MAX_LD: i32 = 256; // ...transposed A if its rows (one per depth) are this close (farther ones thrash L1's sets)
const KC: i32 = 256; // depth of one packed block (a B panel is KC×8 floats = 8 KiB, stays in L1)
const MC: i32 = 320; // most rows of A per pass over the B panels (a packed A block ≤ 320 KiB stays in L2)
// A depth block of packed B smaller than this many floats (256 KiB, in L2) is passed by strips of
// MR_PACKED rows instead (stripPass): for short depths (the Transformer's k = 64, a latent layer's k = 8)
const STRIP_MAX_B: i32 = 65536;

// The block way with one row block (byPanel) packs each panel of B just before its tiles; with few
// rows (a dense layer's batch of 64) that pass over the weights, ~1 MiB a call read from L3, is a fixed
// cost shared by few tiles: 64×1024×256 took 1.05–1.08× the time per FLOP of 256×1024×256 (operands
// cold), and 1.00–1.02× with the packing skipped. So for untransposed B and at most this many rows the
// panel's first tile reads B in place and leaves the packed panel behind (microTile5Packing, as transAPass).
const PACK_B_IN_TILE_MAX_M: i32 = 128;

// Rows per pass: m split into equal blocks of at most MC rows, each a whole
// number of micro-tiles (of 4 and of 5 rows), so no thin last block passes
// every B panel again for a few rows.
// @ts-ignore: decorator
@inline
function rowBlock(m: i32): i32 {
  if (m <= MC) return m;
  const blocks = (m + MC - 1) / MC;
  return (((m + blocks - 1) / blocks + 19) / 20) * 20;
}
const COL_TILES: i32 = 6; // 4-row tiles per pass of the single-column kernel (6 accumulators, 13 registers)
const COL_ROWS: i32 = COL_TILES * 4;

export function gemmScratchFloats(m: i32, n: i32, k: i32): i32 {
  const kc = k < KC ? k : KC;
  const mc = rowBlock(m);
  // a single column packs no B, and A one group of COL_ROWS rows at a time
  if (n == 1) return kc * COL_ROWS;
  // a block of packed B, then a block of packed A (and room to align them, alignScratch)
  return kc * (((n + NR - 1) / NR) * NR) + kc * (((mc + MR_PACKED - 1) / MR_PACKED) * MR_PACKED) + <i32>SCRATCH_ALIGN / 4;
}

// Stores the 4×4 block of rows r0..r3 transposed: column j of the block (the
// rows' lane j) at d + j·stride. The packers turn rows into depth-major
// groups with it.
// @ts-ignore: decorator
@inline
function storeTransposed(r0: v128, r1: v128, r2: v128, r3: v128, d: usize, stride: usize): void {
  const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
  v128.store(d + stride, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
  v128.store(d + 2 * stride, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
  v128.store(d + 3 * stride, v128.shuffle<i32>(t1, t3, 2, 3, 6, 7));
}

// Packs op(B)[k0..k0+kc, 0..n] into panels of NR columns: panel p holds
// kc rows of 8 floats (columns p*8..p*8+7, zero past n). ldb is the element
// distance between B's stored rows (n untransposed, k transposed, when dense).
function packB(b: usize, bp: usize, n: i32, ldb: i32, k0: i32, kc: i32, transB: bool): void {
  const panels = (n + NR - 1) / NR;
  for (let p = 0; p < panels; p++) {
    const j0 = p * NR;
    const w = n - j0 < NR ? n - j0 : NR;
    let dst = bp + <usize>(p * kc * NR) * 4;
    if (!transB) {
      // B is k×n: row kk of the panel is B[k0+kk][j0..j0+8]
      let src = b + (<usize>k0 * <usize>ldb + <usize>j0) * 4;
      const rowBytes = <usize>ldb * 4;
      if (w == NR) {
        for (let kk = 0; kk < kc; kk++) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
          dst += NR * 4;
          src += rowBytes;
        }
      } else {
        for (let kk = 0; kk < kc; kk++) {
          for (let c = 0; c < NR; c++) store<f32>(dst + <usize>c * 4, c < w ? load<f32>(src + <usize>c * 4) : 0);
          dst += NR * 4;
          src += rowBytes;
        }
      }
    } else {
      // B is n×k: column c of the panel is row j0+c of B, contiguous along k.
      // Whole 4×4 blocks are transposed in registers.
      const kc4 = w == NR ? kc & ~3 : 0;
      for (let c4 = 0; c4 < NR; c4 += 4) {
        const rowBytes = <usize>ldb * 4;
        let src = b + (<usize>(j0 + c4) * <usize>ldb + <usize>k0) * 4;
        let d = dst + <usize>c4 * 4;
        for (let kk = 0; kk < kc4; kk += 4) {
          const r0 = v128.load(src);
          const r1 = v128.load(src + rowBytes);
          const r2 = v128.load(src + 2 * rowBytes);
          const r3 = v128.load(src + 3 * rowBytes);
          storeTransposed(r0, r1, r2, r3, d, <usize>(NR * 4));
          src += 16;
          d += 4 * NR * 4;
        }
      }
      for (let c = 0; c < NR; c++) {
        let d = dst + (<usize>kc4 * NR + <usize>c) * 4;
        if (c < w) {
          let src = b + (<usize>(j0 + c) * <usize>ldb + <usize>(k0 + kc4)) * 4;
          for (let kk = kc4; kk < kc; kk++) {
            store<f32>(d, load<f32>(src));
            d += NR * 4;
            src += 4;
          }
        } else {
          for (let kk = kc4; kk < kc; kk++) {
            store<f32>(d, 0);
            d += NR * 4;
          }
        }
      }
    }
  }
}

// Packs op(A)[0..m, k0..k0+kc] into tiles of MR rows: tile t holds kc groups
// of 4 floats (rows 4t..4t+3, zero past m), so the micro-kernel reads A
// through one pointer with constant offsets, whatever A's layout.
function packA(a: usize, ap: usize, m: i32, lda: i32, k0: i32, kc: i32, transA: bool): void {
  let d = ap;
  for (let i = 0; i < m; i += MR) {
    const h = m - i < MR ? m - i : MR;
    if (transA) {
      // A is k×m (rows lda apart): the tile's 4 values at depth kk are contiguous
      const rowBytes = <usize>lda * 4;
      let src = a + (<usize>k0 * <usize>lda + <usize>i) * 4;
      let dd = d;
      if (h == MR) {
        for (let kk = 0; kk < kc; kk++) {
          v128.store(dd, v128.load(src));
          src += rowBytes;
          dd += MR * 4;
        }
      } else {
        for (let kk = 0; kk < kc; kk++) {
          for (let r = 0; r < MR; r++) store<f32>(dd + <usize>r * 4, r < h ? load<f32>(src + <usize>r * 4) : 0);
          src += rowBytes;
          dd += MR * 4;
        }
      }
    } else {
      // A is m×k (rows lda apart; rows may overlap, as the windows of a
      // convolution do): row r of the tile is contiguous along k; whole 4×4
      // blocks are transposed in registers.
      const rowBytes = <usize>lda * 4;
      const kc4 = h == MR ? kc & ~3 : 0;
      let src = a + (<usize>i * <usize>lda + <usize>k0) * 4;
      let dd = d;
      for (let kk = 0; kk < kc4; kk += 4) {
        const r0 = v128.load(src);
        const r1 = v128.load(src + rowBytes);
        const r2 = v128.load(src + 2 * rowBytes);
        const r3 = v128.load(src + 3 * rowBytes);
        storeTransposed(r0, r1, r2, r3, dd, <usize>16);
        src += 16;
        dd += 64;
      }
      for (let r = 0; r < MR; r++) {
        let dr = d + (<usize>kc4 * MR + <usize>r) * 4;
        if (r < h) {
          let s2 = a + (<usize>(i + r) * <usize>lda + <usize>(k0 + kc4)) * 4;
          for (let kk = kc4; kk < kc; kk++) {
            store<f32>(dr, load<f32>(s2));
            s2 += 4;
            dr += MR * 4;
          }
        } else {
          for (let kk = kc4; kk < kc; kk++) {
            store<f32>(dr, 0);
            dr += MR * 4;
          }
        }
      }
    }
    d += <usize>(kc * MR) * 4;
  }
}

// packA for 5-row tiles (the fused build's micro-tile): tile t holds kc
// groups of 5 floats (rows 5t..5t+4, zero past m), 20 bytes a depth.
function packA5(a: usize, ap: usize, m: i32, lda: i32, k0: i32, kc: i32, transA: bool): void {
  const rowBytes = <usize>lda * 4;
  let d = ap;
  for (let i = 0; i < m; i += 5) {
    const h = m - i < 5 ? m - i : 5;
    if (h < 5 && transA) {
      // the h values contiguous, then zeros (4 of them as one vector: a weight gradient's m = 64 ends so)
      let src = a + (<usize>k0 * <usize>lda + <usize>i) * 4;
      let dd = d;
      for (let kk = 0; kk < kc; kk++) {
        if (h == 4) {
          v128.store(dd, v128.load(src));
        } else {
          v128.store(dd, f32x4.splat(0));
          for (let r = 0; r < h; r++) store<f32>(dd + <usize>r * 4, load<f32>(src + <usize>r * 4));
        }
        store<f32>(dd, 0, 16);
        src += rowBytes;
        dd += 20;
      }
    } else if (h < 5) {
      for (let kk = 0; kk < kc; kk++) {
        for (let r = 0; r < 5; r++) {
          const at = transA ? (<usize>(k0 + kk) * <usize>lda + <usize>(i + r)) * 4 : (<usize>(i + r) * <usize>lda + <usize>(k0 + kk)) * 4;
          store<f32>(d + <usize>(kk * 5 + r) * 4, r < h ? load<f32>(a + at) : 0);
        }
      }
    } else if (transA) {
      // A is k×m: the tile's 5 values at depth kk are contiguous
      let src = a + (<usize>k0 * <usize>lda + <usize>i) * 4;
      let dd = d;
      for (let kk = 0; kk < kc; kk++) {
        v128.store(dd, v128.load(src));
        store<f32>(dd, load<f32>(src, 16), 16);
        src += rowBytes;
        dd += 20;
      }
    } else {
      // A is m×k: rows 0..3 by 4×4 transposes, row 4 a lane at a time
      const kc4 = kc & ~3;
      let src = a + (<usize>i * <usize>lda + <usize>k0) * 4;
      let dd = d;
      for (let kk = 0; kk < kc4; kk += 4) {
        const r0 = v128.load(src);
        const r1 = v128.load(src + rowBytes);
        const r2 = v128.load(src + 2 * rowBytes);
        const r3 = v128.load(src + 3 * rowBytes);
        const r4 = v128.load(src + 4 * rowBytes);
        storeTransposed(r0, r1, r2, r3, dd, <usize>20);
        store<f32>(dd, f32x4.extract_lane(r4, 0), 16);
        store<f32>(dd, f32x4.extract_lane(r4, 1), 36);
        store<f32>(dd, f32x4.extract_lane(r4, 2), 56);
        store<f32>(dd, f32x4.extract_lane(r4, 3), 76);
        src += 16;
        dd += 80;
      }
      for (let kk = kc4; kk < kc; kk++) {
        for (let r = 0; r < 5; r++) store<f32>(d + <usize>(kk * 5 + r) * 4, load<f32>(a + (<usize>(i + r) * <usize>lda + <usize>(k0 + kk)) * 4));
      }
    }
    d += <usize>(kc * 5) * 4;
  }
}

// One 5×8 tile of C from a packed B panel and A's 5 values at each depth
// contiguous, aStep bytes apart (20 in a packA5 tile; transposed A read in
// place: its row distance), as microTile.
// @ts-ignore: decorator
@inline
function microTile5(
  ap: usize, aStep: usize, bp: usize, kc: i32, c: usize, ldc: usize, mr: i32, nr: i32,
  first: bool, last: bool, bias: usize, relu: bool,
): void {
  microTile5Packing(ap, aStep, 0, bp, NR * 4, 0, kc, c, ldc, mr, nr, first, last, bias, relu, false, false);
}

// One 4×8 tile of C from a packed A tile and a packed B panel of depth kc.
// `first`: C is overwritten, else added to; `last`: bias and relu are
// applied. Rows ≥ mr and columns ≥ nr are not stored.
// @ts-ignore: decorator
@inline
function microTile(
  ap: usize, bp: usize, kc: i32, c: usize, ldc: usize, mr: i32, nr: i32,
  first: bool, last: bool, bias: usize, relu: bool,
): void {
  microTileStep(ap, MR * 4, bp, kc, c, ldc, mr, nr, first, last, bias, relu);
}

// microTile with A's 4 values at each depth aStep bytes apart (transposed A
// read in place: its row distance).
// @ts-ignore: decorator
@inline
function microTileStep(
  ap: usize, aStep: usize, bp: usize, kc: i32, c: usize, ldc: usize, mr: i32, nr: i32,
  first: bool, last: bool, bias: usize, relu: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let pa = ap;
  let pb = bp;
  const end = bp + <usize>(kc * NR) * 4;
  while (pb < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let x = v128.load32_splat(pa);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(pa, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(pa, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(pa, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    pa += aStep;
    pb += NR * 4;
  }
  storeRow(c, c00, c01, first, last, bias, relu, nr);
  if (mr > 1) storeRow(c + ldc, c10, c11, first, last, bias, relu, nr);
  if (mr > 2) storeRow(c + 2 * ldc, c20, c21, first, last, bias, relu, nr);
  if (mr > 3) storeRow(c + 3 * ldc, c30, c31, first, last, bias, relu, nr);
}

// The same tile reading untransposed A in place, rows lda apart (a0 the
// tile's first row at depth k0): for narrow products (a Conv-1D with few
// output channels) packing A would copy more than the tile computes.
// @ts-ignore: decorator
@inline
function microTileDirect(
  a0: usize, rowBytes: usize, bp: usize, kc: i32, c: usize, ldc: usize, mr: i32, nr: i32,
  first: bool, last: bool, bias: usize, relu: bool,
): void {
  // rows past m re-read the tile's first row (never stored)
  let p0 = a0;
  let p1 = mr > 1 ? a0 + rowBytes : a0;
  let p2 = mr > 2 ? a0 + 2 * rowBytes : a0;
  let p3 = mr > 3 ? a0 + 3 * rowBytes : a0;
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let pb = bp;
  const end = bp + <usize>(kc * NR) * 4;
  while (pb < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let x = v128.load32_splat(p0);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(p1);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(p2);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(p3);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    p0 += 4;
    p1 += 4;
    p2 += 4;
    p3 += 4;
    pb += NR * 4;
  }
  storeRow(c, c00, c01, first, last, bias, relu, nr);
  if (mr > 1) storeRow(c + ldc, c10, c11, first, last, bias, relu, nr);
  if (mr > 2) storeRow(c + 2 * ldc, c20, c21, first, last, bias, relu, nr);
  if (mr > 3) storeRow(c + 3 * ldc, c30, c31, first, last, bias, relu, nr);
}

// A product with one column (a Conv-1D's single output channel and its
// filter gradient): the 4×8 tile would waste 7 of its 8 columns, so here the
// lanes run along rows instead. Each element's arithmetic is unchanged (madd
// over depth in order, then the same epilogue), only which lane computes it.
//
// Packs COL_ROWS rows of op(A) at depths k0..k0+kc depth-major for
// columnGroup (depth kk: the h ≤ COL_ROWS values A[0..h][k0+kk], zeros past h).
function packColumns(a: usize, ap: usize, h: i32, lda: i32, k0: i32, kc: i32, transA: bool): void {
  const rowBytes = <usize>lda * 4;
  const depthBytes = <usize>COL_ROWS * 4;
  if (transA) {
    // A is k×m: depth kk is part of one stored row
    for (let kk = 0; kk < kc; kk++) {
      const src = a + <usize>(k0 + kk) * rowBytes;
      const dst = ap + <usize>kk * depthBytes;
      for (let r = 0; r < COL_ROWS; r++) store<f32>(dst + <usize>r * 4, r < h ? load<f32>(src + <usize>r * 4) : 0);
    }
    return;
  }
  // A is m×k, rows lda apart: 4×4 blocks transposed in registers
  const h4 = h & ~3;
  const kc4 = kc & ~3;
  for (let i = 0; i < h4; i += 4) {
    let src = a + (<usize>i * <usize>lda + <usize>k0) * 4;
    let d = ap + <usize>i * 4;
    for (let kk = 0; kk < kc4; kk += 4) {
      const r0 = v128.load(src);
      const r1 = v128.load(src + rowBytes);
      const r2 = v128.load(src + 2 * rowBytes);
      const r3 = v128.load(src + 3 * rowBytes);
      storeTransposed(r0, r1, r2, r3, d, depthBytes);
      src += 16;
      d += 4 * depthBytes;
    }
    for (let kk = kc4; kk < kc; kk++) {
      for (let r = 0; r < 4; r++) store<f32>(ap + <usize>kk * depthBytes + <usize>(i + r) * 4, load<f32>(a + (<usize>(i + r) * <usize>lda + <usize>(k0 + kk)) * 4));
    }
  }
  for (let i = h4; i < COL_ROWS; i++) {
    for (let kk = 0; kk < kc; kk++) {
      store<f32>(ap + <usize>kk * depthBytes + <usize>i * 4, i < h ? load<f32>(a + (<usize>i * <usize>lda + <usize>(k0 + kk)) * 4) : 0);
    }
  }
}

// C[0..h] (h ≤ COL_ROWS rows of one column, contiguous) from COL_ROWS rows of
// A depth-major (depth kk at pa + kk·depthBytes) and the column b[0..kc]:
// COL_TILES f32x4 accumulators of 4 rows each share one splat of b.
// @ts-ignore: decorator
@inline
function columnGroup(pa: usize, depthBytes: usize, b: usize, kc: i32, c: usize, h: i32, first: bool, last: bool, bias: usize, biasV: v128, relu: bool): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0);
  let c3 = f32x4.splat(0), c4 = f32x4.splat(0), c5 = f32x4.splat(0);
  let pb = b;
  const end = b + <usize>kc * 4;
  while (pb < end) {
    const x = v128.load32_splat(pb);
    c0 = madd(v128.load(pa), x, c0);
    c1 = madd(v128.load(pa, 16), x, c1);
    c2 = madd(v128.load(pa, 32), x, c2);
    c3 = madd(v128.load(pa, 48), x, c3);
    c4 = madd(v128.load(pa, 64), x, c4);
    c5 = madd(v128.load(pa, 80), x, c5);
    pa += depthBytes;
    pb += 4;
  }
  storeColumn(c, c0, h, first, last, bias, biasV, relu);
  if (h > 4) storeColumn(c + 16, c1, h - 4, first, last, bias, biasV, relu);
  if (h > 8) storeColumn(c + 32, c2, h - 8, first, last, bias, biasV, relu);
  if (h > 12) storeColumn(c + 48, c3, h - 12, first, last, bias, biasV, relu);
  if (h > 16) storeColumn(c + 64, c4, h - 16, first, last, bias, biasV, relu);
  if (h > 20) storeColumn(c + 80, c5, h - 20, first, last, bias, biasV, relu);
}

// A residual added in the GEMM's epilogue, after the bias and before relu:
// C = op(A)·op(B) + bias + R, R laid out as C, at gemmResidual bytes from C
// (0: none). Set by setGemmResidual around one gemm call (a one-product
// gemm: batch 1, not accumulated; src/ml/kernels/simd.ts) and 0 otherwise, so
// every other kernel's tiles store as before.
let gemmResidual: isize = 0;

export function setGemmResidual(delta: isize): void {
  gemmResidual = delta;
}

// storeRow's epilogue for 4 rows of one column (h of them stored): relu
// keeps v where v > 0 or v is NaN, as storeRow's scalar path does.
// @ts-ignore: decorator
@inline
function storeColumn(c: usize, v: v128, h: i32, first: bool, last: bool, bias: usize, biasV: v128, relu: bool): void {
  if (h >= 4) {
    if (!first) v = f32x4.add(v, v128.load(c));
    if (last) {
      if (bias) v = f32x4.add(v, biasV);
      if (gemmResidual) v = f32x4.add(v, v128.load(<usize>(<isize>c + gemmResidual)));
      if (relu) v = v128.bitselect(v, f32x4.splat(0), v128.or(f32x4.gt(v, f32x4.splat(0)), f32x4.ne(v, v)));
    }
    v128.store(c, v);
    return;
  }
  for (let j = 0; j < h; j++) {
    let x: f32 = laneOf(v, j);
    if (!first) x += load<f32>(c + <usize>j * 4);
    if (last) {
      if (bias) x += load<f32>(bias);
      if (gemmResidual) x += load<f32>(<usize>(<isize>c + gemmResidual) + <usize>j * 4);
      if (relu && !(x > 0)) x = x != x ? x : 0;
    }
    store<f32>(c + <usize>j * 4, x);
  }
}

// a·b + c: in the relaxed-SIMD build one fused multiply-add (one rounding,
// on CPUs with FMA; V8 emits a multiply then an add on others), in the plain
// build a multiply and an add, each rounded. The order c + a·b is the same
// in both, so the fused build on a CPU without FMA gives the plain bits.
// @ts-ignore: decorator
@inline
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// 1 when madd rounds once on this machine (relaxed SIMD on a CPU with FMA),
// 0 when it is a rounded multiply then a rounded add (the plain build, or a
// CPU without FMA): called with a = 1 + 2^-12 and c = 1 + 2^-11, a·a − c is
// 2^-24 exactly, which rounding a·a to float first loses (a tie to even).
export function maddIsFused(a: f32, c: f32): i32 {
  const r = madd(f32x4.splat(a), f32x4.splat(a), f32x4.splat(-c));
  return f32x4.extract_lane(r, 0) != 0 ? 1 : 0;
}

// @ts-ignore: decorator
@inline
function storeRow(c: usize, v0: v128, v1: v128, first: bool, last: bool, bias: usize, relu: bool, nr: i32): void {
  if (nr == NR) {
    if (!first) {
      v0 = f32x4.add(v0, v128.load(c));
      v1 = f32x4.add(v1, v128.load(c, 16));
    }
    if (last) {
      if (bias) {
        v0 = f32x4.add(v0, v128.load(bias));
        v1 = f32x4.add(v1, v128.load(bias, 16));
      }
      if (gemmResidual) {
        const r = <usize>(<isize>c + gemmResidual);
        v0 = f32x4.add(v0, v128.load(r));
        v1 = f32x4.add(v1, v128.load(r, 16));
      }
      if (relu) {
        v0 = f32x4.max(v0, f32x4.splat(0));
        v1 = f32x4.max(v1, f32x4.splat(0));
      }
    }
    v128.store(c, v0);
    v128.store(c, v1, 16);
    return;
  }
  // partial tile: spill to scalars
  for (let j = 0; j < nr; j++) {
    let v: f32 = j < 4 ? laneOf(v0, j) : laneOf(v1, j - 4);
    if (!first) v += load<f32>(c + <usize>j * 4);
    if (last) {
      if (bias) v += load<f32>(bias + <usize>j * 4);
      if (gemmResidual) v += load<f32>(<usize>(<isize>c + gemmResidual) + <usize>j * 4);
      if (relu && !(v > 0)) v = v != v ? v : 0;
    }
    store<f32>(c + <usize>j * 4, v);
  }
}

// @ts-ignore: decorator
@inline
function laneOf(v: v128, j: i32): f32 {
  if (j == 0) return f32x4.extract_lane(v, 0);
  if (j == 1) return f32x4.extract_lane(v, 1);
  if (j == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}

/**
 * C = op(A)·op(B) (+ bias[n]) (relu when act = 1), batched over `batch`
 * products with element strides strideA/strideB/strideC between them
 * (strideA or strideB 0 broadcasts one operand). lda is the element distance
 * between A's stored rows (0: dense, k or m); with lda < k untransposed rows
 * overlap, which makes a stride-s convolution one product (lda = s·channels),
 * and so do transposed ones (a convolution's filter gradient).
 * accumulate = 1 sums the batch's products into one C (strideC unused): C =
 * Σ_q op(A_q)·op(B_q), each element summed in a fixed order.
 * scratch must hold gemmScratchFloats(m, n, k) floats.
 */
export function gemm(
  a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, transA: i32, transB: i32,
  bias: usize, act: i32, scratch: usize,
  batch: i32, strideA: i32, strideB: i32, strideC: i32, lda: i32, accumulate: i32,
): void {
  const ldc = <usize>n * 4;
  const relu = act == 1;
  const kcMax = k < KC ? k : KC;
  const bpack = alignScratch(scratch);
  const apack = bpack + <usize>(kcMax * (((n + NR - 1) / NR) * NR)) * 4;
  const ldA = lda > 0 ? lda : transA ? m : k;
  // A is packed unless the product is narrow: then each packed tile would
  // serve few panels, and A is read in place (transposed A's last, partial
  // tile excepted: reading it whole could pass the end of A; and transposed
  // A with distant rows).
  const packed = n > PACK_A_MIN_N || (transA != 0 && ldA > TRANS_A_IN_PLACE_MAX_LD);
  const mcMax = rowBlock(m);
  if (k == 0) {
    // an empty sum, then the epilogue
    for (let q = 0; q < batch; q++) {
      const cq = c + <usize>q * <usize>strideC * 4;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          const at = cq + (<usize>i * <usize>n + <usize>j) * 4;
          let v: f32 = bias ? load<f32>(bias + <usize>j * 4) : 0;
          if (gemmResidual) v += load<f32>(<usize>(<isize>at + gemmResidual));
          if (relu && v < 0) v = 0;
          store<f32>(at, v);
        }
      }
    }
    return;
  }
  if (n == 1) {
    gemmColumn(a, b, c, m, k, transA != 0, bias, relu, scratch, batch, strideA, strideB, strideC, ldA, accumulate != 0);
    return;
  }
  // Depth blocks outermost, so an operand shared by the whole batch is packed
  // once per block rather than once per product.
  for (let k0 = 0; k0 < k; k0 += KC) {
    const kc = k - k0 < KC ? k - k0 : KC;
    for (let q = 0; q < batch; q++) {
      const first = k0 == 0 && (accumulate == 0 || q == 0);
      const last = k0 + kc >= k && (accumulate == 0 || q == batch - 1);
      // One row block (each panel passed once): B packed panel by panel just before its tiles, into
      // one 8 KiB buffer that stays in L1, rather than a whole block first (1 MiB for the dense AE's
      // 256×1024 weight, written out to L2): 0.96–0.99× the time at m = 128–256, paired medians.
      const byPanel = packed && m <= mcMax && batch == 1;
      if (!byPanel && (q == 0 || strideB != 0)) packB(b + <usize>q * <usize>strideB * 4, bpack, n, transB ? k : n, k0, kc, transB != 0);
      if (colSums) addColumns(b + <usize>k0 * <usize>n * 4, colSums, kc, n, k0 == 0);
      const aq = a + <usize>q * <usize>strideA * 4;
      const cq = accumulate ? c : c + <usize>q * <usize>strideC * 4;
      if (MR_PACKED == 5 && byPanel && transA && !transB && n <= TRANS_A_PASS_MAX_N) {
        transAPass(aq, ldA, k0, kc, k, b, bpack, apack, cq, m, n, first, last, bias, relu);
        continue;
      }
      if (packed && !transA && kc * (((n + NR - 1) / NR) * NR) < STRIP_MAX_B) {
        if (byPanel) packB(b, bpack, n, transB ? k : n, k0, kc, transB != 0);
        stripPass(aq, ldA, k0, kc, bpack, apack, cq, m, n, first, last, bias, relu);
        continue;
      }
      // Blocks of ≤ MC rows: a block's packed A stays in L2 while it passes
      // every B panel, and each B panel stays in L1 while the block's row
      // tiles pass it.
      for (let i0 = 0; i0 < m; i0 += mcMax) {
        const mc = m - i0 < mcMax ? m - i0 : mcMax;
        const ai = transA ? aq + <usize>i0 * 4 : aq + <usize>i0 * <usize>ldA * 4;
        if (packed && (q == 0 || strideA != 0 || m > mcMax)) {
          if (MR_PACKED == 5) packA5(ai, apack, mc, ldA, k0, kc, transA != 0);
          else packA(ai, apack, mc, ldA, k0, kc, transA != 0);
        }
        const step = packed || transA ? MR_PACKED : MR;
        const whole = mc - mc % step; // rows in whole tiles
        if (!packed && transA && whole < mc) {
          if (MR_PACKED == 5) packA5(ai + <usize>whole * 4, apack, mc - whole, ldA, k0, kc, true);
          else packA(ai + <usize>whole * 4, apack, mc - whole, ldA, k0, kc, true);
        }
        for (let j0 = 0; j0 < n; j0 += NR) {
          const nr = n - j0 < NR ? n - j0 : NR;
          let panel = bpack + <usize>(j0 * kc) * 4;
          // a whole panel of untransposed B is packed by its first tile (reading B in place), not by a pass
          // of its own before the tiles (see PACK_B_IN_TILE_MAX_M)
          const packInTile = MR_PACKED == 5 && byPanel && !transB && nr == NR && mc <= PACK_B_IN_TILE_MAX_M;
          if (byPanel) {
            panel = bpack;
            if (!packInTile) packB(transB ? b + <usize>j0 * <usize>k * 4 : b + <usize>j0 * 4, bpack, nr, transB ? k : n, k0, kc, transB != 0);
          }
          const biasJ: usize = bias ? bias + <usize>j0 * 4 : 0;
          for (let i = 0; i < mc; i += step) {
            const mr = mc - i < step ? mc - i : step;
            const cTile = cq + <usize>(i0 + i) * ldc + <usize>j0 * 4;
            // where this tile's A values of depth k0 are, and the bytes between depths
            let at = apack + <usize>(i * kc) * 4;
            let aStep = <usize>(MR_PACKED * 4);
            if (!packed && transA) {
              at = i < whole ? ai + (<usize>k0 * <usize>ldA + <usize>i) * 4 : apack;
              aStep = i < whole ? <usize>ldA * 4 : aStep;
            }
            if (!packed && !transA) {
              microTileDirect(ai + (<usize>i * <usize>ldA + <usize>k0) * 4, <usize>ldA * 4, panel, kc, cTile, ldc, mr, nr, first, last, biasJ, relu);
            } else if (MR_PACKED == 5 && packInTile && i == 0) {
              microTile5Packing(at, aStep, 0, b + (<usize>k0 * <usize>n + <usize>j0) * 4, <usize>n * 4, bpack, kc, cTile, ldc, mr, nr, first, last, biasJ, relu, false, true);
            } else if (MR_PACKED == 5) {
              microTile5(at, aStep, panel, kc, cTile, ldc, mr, nr, first, last, biasJ, relu);
            } else {
              microTileStep(at, aStep, panel, kc, cTile, ldc, mr, nr, first, last, biasJ, relu);
            }
          }
        }
      }
    }
  }
}

// One depth block of C = A·B (A untransposed, B packed) strip by strip: the
// strip's MR_PACKED rows of A are packed (a few KiB, in L1) and passed over
// every panel of B before the next strip. With a short depth the block way
// (a packed block of A passed by each panel in turn) spends as long on
// writing C as on computing it: C's rows are written 32 bytes at a time,
// up to 320 rows apart, and with k = 8 and n = 4096 no two such writes
// share a page. Here C is written a few whole rows at a time and A is
// read in order. Each element's arithmetic is the block way's.
//
// While a strip's tiles run (depth blocks of ≥ STRIP_TOUCH_MIN_DEPTH, at
// most STRIP_TOUCH_MAX_N columns, rows of A that do not overlap: a
// convolution's overlapping windows are mostly in cache already, and its
// 128×224×64 ×256 product took 1.05× the time), the lines of A the next strip packs are
// read, a share before each panel's tile, so that its packer finds them in
// cache: packed straight from L3 (A of 2–6 MiB, the Transformer's), the
// strips' packing took 12–20 % of the time at n = 64; with the touches
// 0.88–0.97× the time at n = 64 (k = 64–192), but 1.00–1.03× at n = 128
// and 192 (k = 64), where a strip's tiles take long enough for the hardware
// to have fetched the next strip (paired runs); touching all of them at once
// before the strip's first tile gained nothing. They only load, so the
// result is unchanged.
function stripPass(
  a: usize, ldA: i32, k0: i32, kc: i32, bpack: usize, apack: usize, c: usize, m: i32, n: i32,
  first: bool, last: bool, bias: usize, relu: bool,
): void {
  // the touching strips in a function of their own: as a second instance of the loop in this one, they
  // cost the other products 1.04–1.07× the time (k = 64, n = 128 and 192, in training) and k = 8 1.06–1.13×
  if (kc >= STRIP_TOUCH_MIN_DEPTH && n <= STRIP_TOUCH_MAX_N && ldA >= kc) stripPassTouching(a, ldA, k0, kc, bpack, apack, c, m, n, first, last, bias, relu);
  else stripRows(a, ldA, k0, kc, bpack, apack, c, m, n, first, last, bias, relu, false);
}

function stripPassTouching(
  a: usize, ldA: i32, k0: i32, kc: i32, bpack: usize, apack: usize, c: usize, m: i32, n: i32,
  first: bool, last: bool, bias: usize, relu: bool,
): void {
  stripRows(a, ldA, k0, kc, bpack, apack, c, m, n, first, last, bias, relu, true);
}

// stripPass's loop over the strips (touching: reading each next strip's lines on the way).
// @ts-ignore: decorator
@inline
function stripRows(
  a: usize, ldA: i32, k0: i32, kc: i32, bpack: usize, apack: usize, c: usize, m: i32, n: i32,
  first: bool, last: bool, bias: usize, relu: bool, touching: bool,
): void {
  let sink: i32 = 0;
  for (let i = 0; i < m; i += MR_PACKED) {
    const mr = m - i < MR_PACKED ? m - i : MR_PACKED;
    const ai = a + <usize>i * <usize>ldA * 4;
    if (MR_PACKED == 5) packA5(ai, apack, mr, ldA, k0, kc, false);
    else packA(ai, apack, mr, ldA, k0, kc, false);
    sink += stripPanels(ai, ldA, k0, kc, bpack, apack, c + <usize>i * <usize>n * 4, m - i, mr, n, first, last, bias, relu, touching);
  }
  // the touched values, kept (in the spent packing buffer) so that no compiler drops their loads
  if (touching) store<i32>(apack, sink);
}
const STRIP_TOUCH_MIN_DEPTH: i32 = 32;
const STRIP_TOUCH_MAX_N: i32 = 64;

// One strip's tiles (mr rows of A at ai, packed at apack; C's rows at cRow; `below` rows of A from
// ai on), over every panel; with `touching`, the next strip's rows' lines of the block read on the
// way (their sum returned).
// @ts-ignore: decorator
@inline
function stripPanels(
  ai: usize, ldA: i32, k0: i32, kc: i32, bpack: usize, apack: usize, cRow: usize, below: i32, mr: i32, n: i32,
  first: bool, last: bool, bias: usize, relu: bool, touching: bool,
): i32 {
  const ldc = <usize>n * 4;
  const rowBytes = <usize>ldA * 4;
  const segmentBytes = <usize>kc * 4; // of each row, the block's depths
  // the next strip's rows: each row's segment line by line, ~1/panels of the lines before each panel
  const nextRows = touching ? (below - mr < MR_PACKED ? below - mr : MR_PACKED) : 0;
  const panels = (n + NR - 1) / NR;
  const share = touching ? (<usize>nextRows * ((segmentBytes + 63) >> 6) + <usize>panels - 1) / <usize>panels : 0;
  let row = 0;
  let touch = ai + <usize>mr * rowBytes + <usize>k0 * 4;
  let rowEnd = touch + segmentBytes;
  let sink: i32 = 0;
  for (let j0 = 0; j0 < n; j0 += NR) {
    const nr = n - j0 < NR ? n - j0 : NR;
    const panel = bpack + <usize>(j0 * kc) * 4;
    const biasJ: usize = bias ? bias + <usize>j0 * 4 : 0;
    if (touching) {
      for (let t: usize = 0; t < share && row < nextRows; t++) {
        sink += load<i32>(touch);
        touch += 64;
        if (touch >= rowEnd) {
          row++;
          touch = rowEnd - segmentBytes + rowBytes;
          rowEnd = touch + segmentBytes;
        }
      }
    }
    // a whole tile of a one-block product with literal flags, so the inlined epilogue has no branches on them
    // (0.97–1.0× the time at k = 64, paired runs)
    if (MR_PACKED == 5 && first && last && nr == NR && mr == 5) microTile5(apack, 20, panel, kc, cRow + <usize>j0 * 4, ldc, 5, NR, true, true, biasJ, relu);
    else if (MR_PACKED == 5) microTile5(apack, 20, panel, kc, cRow + <usize>j0 * 4, ldc, mr, nr, first, last, biasJ, relu);
    else microTileStep(apack, MR * 4, panel, kc, cRow + <usize>j0 * 4, ldc, mr, nr, first, last, biasJ, relu);
  }
  return sink;
}

// One depth block of C = Aᵀ·B (A stored k×m, rows ldA apart; B k×n, dense) where one row block
// passes every panel (m ≤ MC), as the block way does it but with no packing pass: the first
// panel's tiles read A in place and leave its packed copy behind, and each panel's first tile
// reads B in place and leaves the packed panel behind (microTile5Packing). With it, the next
// depth block's rows of A and B are read a share before each tile, so that those tiles find
// them in cache. The Transformer's weight gradients (depth 8192, operands of 2–6 MiB, from L3)
// spent 20–28 % of their time packing; this way 0.92–0.96× the time (paired runs; either
// change alone gained nothing). Each element's arithmetic is the block way's: the same bits.
const TRANS_A_PASS_MAX_N: i32 = 256; // wider B's rows lie pages apart: 8×256×4096 took 1.2–1.8× the time this way
function transAPass(
  a: usize, ldA: i32, k0: i32, kc: i32, k: i32, b: usize, bpack: usize, apack: usize, c: usize, m: i32, n: i32,
  first: bool, last: bool, bias: usize, relu: bool,
): void {
  const ldc = <usize>n * 4;
  const aStep = <usize>ldA * 4;
  const bStep = <usize>n * 4;
  const whole = m - m % 5;
  // a partial last tile is packed beforehand: reading its 5 columns in place could pass A's end
  if (whole < m) packA5(a + <usize>whole * 4, apack + <usize>(whole * kc) * 4, m - whole, ldA, k0, kc, true);
  // the next block's rows of A (when they lie close: then read as one span with what lies between)
  // and of B (contiguous), a share of their lines before each tile
  const kn = k - k0 - kc < KC ? k - k0 - kc : KC;
  let touchA = a + <usize>(k0 + kc) * aStep;
  const touchAEnd = kn > 0 && ldA <= 2 * m ? touchA + <usize>(kn - 1) * aStep + <usize>m * 4 : touchA;
  let touchB = b + <usize>(k0 + kc) * bStep;
  const touchBEnd = touchB + <usize>kn * bStep;
  const tiles = <usize>((m + 4) / 5) * <usize>((n + NR - 1) / NR);
  const share = ((((touchAEnd - touchA) + (touchBEnd - touchB)) >> 6) + tiles) / tiles;
  let sink: i32 = 0;
  for (let j0 = 0; j0 < n; j0 += NR) {
    const nr = n - j0 < NR ? n - j0 : NR;
    const bIn = b + (<usize>k0 * <usize>n + <usize>j0) * 4;
    // a partial panel is packed beforehand (reading 8 columns in place could pass B's end)
    if (nr < NR) packB(b + <usize>j0 * 4, bpack, nr, n, k0, kc, false);
    const biasJ: usize = bias ? bias + <usize>j0 * 4 : 0;
    for (let i = 0; i < m; i += 5) {
      for (let t: usize = 0; t < share; t++) {
        if (touchA < touchAEnd) {
          sink += load<i32>(touchA);
          touchA += 64;
        } else if (touchB < touchBEnd) {
          sink += load<i32>(touchB);
          touchB += 64;
        }
      }
      const mr = m - i < 5 ? m - i : 5;
      const cTile = c + <usize>i * ldc + <usize>j0 * 4;
      const aPacked = apack + <usize>(i * kc) * 4;
      const aIn = a + (<usize>k0 * <usize>ldA + <usize>i) * 4;
      const readA = j0 == 0 && i < whole;
      const readB = i == 0 && nr == NR;
      if (readA && readB) microTile5Packing(aIn, aStep, aPacked, bIn, bStep, bpack, kc, cTile, ldc, mr, nr, first, last, biasJ, relu, true, true);
      else if (readA) microTile5Packing(aIn, aStep, aPacked, bpack, NR * 4, 0, kc, cTile, ldc, mr, nr, first, last, biasJ, relu, true, false);
      else if (readB) microTile5Packing(aPacked, 20, 0, bIn, bStep, bpack, kc, cTile, ldc, mr, nr, first, last, biasJ, relu, false, true);
      else microTile5(aPacked, 20, bpack, kc, cTile, ldc, mr, nr, first, last, biasJ, relu);
    }
  }
  // the touched values, kept (in the spent packing buffer) so that no compiler drops their loads
  store<i32>(apack, sink);
}

// microTile5 reading B's rows bStep bytes apart, and leaving what it reads packed: A's 5 values of
// each depth at aOut (packA5's layout) when storeA, B's 8 at bOut (packB's) when storeB.
// @ts-ignore: decorator
@inline
function microTile5Packing(
  ap: usize, aStep: usize, aOut: usize, bp: usize, bStep: usize, bOut: usize, kc: i32, c: usize, ldc: usize, mr: i32, nr: i32,
  first: bool, last: bool, bias: usize, relu: bool, storeA: bool, storeB: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let pa = ap;
  let pb = bp;
  let qa = aOut;
  let qb = bOut;
  const end = bp + <usize>kc * bStep;
  while (pb < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const av = v128.load(pa);
    const a4 = v128.load32_splat(pa, 16);
    if (storeB) {
      v128.store(qb, b0);
      v128.store(qb, b1, 16);
      qb += NR * 4;
    }
    if (storeA) {
      v128.store(qa, av);
      store<f32>(qa, f32x4.extract_lane(a4, 0), 16);
      qa += 20;
    }
    let x = v128.shuffle<i32>(av, av, 0, 0, 0, 0);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.shuffle<i32>(av, av, 1, 1, 1, 1);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.shuffle<i32>(av, av, 2, 2, 2, 2);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.shuffle<i32>(av, av, 3, 3, 3, 3);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    c40 = madd(a4, b0, c40);
    c41 = madd(a4, b1, c41);
    pa += aStep;
    pb += bStep;
  }
  storeRow(c, c00, c01, first, last, bias, relu, nr);
  if (mr > 1) storeRow(c + ldc, c10, c11, first, last, bias, relu, nr);
  if (mr > 2) storeRow(c + 2 * ldc, c20, c21, first, last, bias, relu, nr);
  if (mr > 3) storeRow(c + 3 * ldc, c30, c31, first, last, bias, relu, nr);
  if (mr > 4) storeRow(c + 4 * ldc, c40, c41, first, last, bias, relu, nr);
}

// gemm for n = 1, in the same block order (B, one column, is contiguous
// whether transposed or not, so it is read in place).
function gemmColumn(
  a: usize, b: usize, c: usize, m: i32, k: i32, transA: bool, bias: usize, relu: bool, scratch: usize,
  batch: i32, strideA: i32, strideB: i32, strideC: i32, ldA: i32, accumulate: bool,
): void {
  const biasV = bias ? v128.load32_splat(bias) : f32x4.splat(0);
  for (let k0 = 0; k0 < k; k0 += KC) {
    const kc = k - k0 < KC ? k - k0 : KC;
    for (let q = 0; q < batch; q++) {
      const first = k0 == 0 && (!accumulate || q == 0);
      const last = k0 + kc >= k && (!accumulate || q == batch - 1);
      const aq = a + <usize>q * <usize>strideA * 4;
      const bq = b + (<usize>q * <usize>strideB + <usize>k0) * 4;
      const cq = accumulate ? c : c + <usize>q * <usize>strideC * 4;
      // Whole groups of transposed A are read in place (depth kk is part of
      // stored row kk); the others are packed, COL_ROWS rows at a time.
      for (let i = 0; i < m; i += COL_ROWS) {
        const h = m - i < COL_ROWS ? m - i : COL_ROWS;
        const ci = cq + <usize>i * 4;
        if (transA && h == COL_ROWS) {
          columnGroup(aq + (<usize>k0 * <usize>ldA + <usize>i) * 4, <usize>ldA * 4, bq, kc, ci, h, first, last, bias, biasV, relu);
        } else {
          packColumns(transA ? aq + <usize>i * 4 : aq + <usize>i * <usize>ldA * 4, scratch, h, ldA, k0, kc, transA);
          columnGroup(scratch, <usize>COL_ROWS * 4, bq, kc, ci, h, first, last, bias, biasV, relu);
        }
      }
    }
  }
}

// out[q] = [left·c zeros, x[q] (w·c floats), right·c zeros] for q < n: the
// rows of a 1-D convolution's input padded for its windows.
export function padRows(x: usize, out: usize, n: i32, w: i32, c: i32, left: i32, right: i32): void {
  const lb = <usize>(left * c) * 4;
  const xb = <usize>(w * c) * 4;
  const rb = <usize>(right * c) * 4;
  let src = x;
  let dst = out;
  for (let q = 0; q < n; q++) {
    memory.fill(dst, 0, lb);
    memory.copy(dst + lb, src, xb);
    memory.fill(dst + lb + xb, 0, rb);
    src += xb;
    dst += lb + xb + rb;
  }
}

// ---------------------------------------------------------------------------
// Adam, one variable per call, in one pass (tfjs composes it from ~16
// elementwise kernels per variable, each a full pass over memory):
//   m' = β1·m + (1−β1)·g,  v' = β2·v + (1−β2)·g²,
//   x' = x − lr_t · m' / (√v' + ε_t)
// with lr_t and ε_t carrying the bias corrections (as tf.train.adam does).
// Outputs may alias inputs.
export function adam(
  x: usize, g: usize, m: usize, v: usize, xOut: usize, mOut: usize, vOut: usize, size: i32,
  lrT: f32, beta1: f32, beta2: f32, epsT: f32,
): void {
  adamUpdate(x, g, 0, m, v, xOut, mOut, vOut, size, lrT, beta1, beta2, epsT);
}

// The same update in place (x, m, v overwritten) with the gradient g = g0 + g1,
// added in that order in float32 (one correctly rounded add per element: the
// bits of adding them first): a data-parallel owner thread sums two shards'
// gradients inside Adam's pass instead of in a pass and an allocation of its own.
// g1 = 0: the gradient is g0 alone.
export function adamSummedInPlace(
  x: usize, m: usize, v: usize, g0: usize, g1: usize, size: i32, lrT: f32, beta1: f32, beta2: f32, epsT: f32,
): void {
  adamUpdate(x, g0, g1, m, v, x, m, v, size, lrT, beta1, beta2, epsT);
}

@inline
function adamUpdate(
  x: usize, g: usize, g1: usize, m: usize, v: usize, xOut: usize, mOut: usize, vOut: usize, size: i32,
  lrT: f32, beta1: f32, beta2: f32, epsT: f32,
): void {
  const b1 = f32x4.splat(beta1);
  const c1 = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2);
  const c2 = f32x4.splat(1 - beta2);
  const lr = f32x4.splat(lrT);
  const eps = f32x4.splat(epsT);
  const vec = size & ~3;
  let o: usize = 0;
  const end = <usize>vec * 4;
  while (o < end) {
    const gi = g1 ? f32x4.add(v128.load(g + o), v128.load(g1 + o)) : v128.load(g + o);
    const mi = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(c1, gi));
    const vi = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(c2, f32x4.mul(gi, gi)));
    const step = f32x4.div(f32x4.mul(lr, mi), f32x4.add(f32x4.sqrt(vi), eps));
    v128.store(xOut + o, f32x4.sub(v128.load(x + o), step));
    v128.store(mOut + o, mi);
    v128.store(vOut + o, vi);
    o += 16;
  }
  for (let i = vec; i < size; i++) {
    const p = <usize>i * 4;
    const gi = g1 ? load<f32>(g + p) + load<f32>(g1 + p) : load<f32>(g + p);
    const mi = beta1 * load<f32>(m + p) + (1 - beta1) * gi;
    const vi = beta2 * load<f32>(v + p) + (1 - beta2) * gi * gi;
    store<f32>(xOut + p, load<f32>(x + p) - (lrT * mi) / (Mathf.sqrt(vi) + epsT));
    store<f32>(mOut + p, mi);
    store<f32>(vOut + p, vi);
  }
}

// ---------------------------------------------------------------------------
// Reduction over a block of middle axes: x viewed as [outer, r, inner],
// out[o][i] = scale · Σ_j x[o][j][i] (a Sum with scale 1, a Mean with 1/r).
// Bias gradients (Σ over the batch), batch-norm moments and average pooling
// reduce that way; tfjs-wasm reduces only innermost axes, so it transposes
// the whole input first. Terms are added in index order, the same order on
// every run, four inner elements per instruction. The rows go in blocks of
// 32, every column strip of a block before the next block (the partial sums
// stored and reloaded exactly, so the same bits as one pass down all rows):
// a matrix larger than L2 is then streamed from memory once, instead of once
// per 16-column strip (the Transformer's bias gradients over 8192 rows of
// 192 columns: 0.61 → 0.27 ms, `node bench/transformer-kernels-ab.mjs sum192`).
const REDUCE_ROW_BLOCK: i32 = 32;

export function reduceMiddle(x: usize, out: usize, outer: i32, r: i32, inner: i32, scale: f32): void {
  const rowBytes = <usize>inner * 4;
  const s4 = f32x4.splat(scale);
  const vec = inner & ~3;
  for (let o = 0; o < outer; o++) {
    const dst = out + <usize>o * rowBytes;
    const src = x + <usize>o * <usize>r * rowBytes;
    for (let j = 0; j < r || j == 0; j += REDUCE_ROW_BLOCK) {
      addColumns(src + <usize>j * rowBytes, dst, min(REDUCE_ROW_BLOCK, r - j), inner, j == 0);
    }
    if (scale == 1) continue;
    for (let i = 0; i < vec; i += 4) v128.store(dst + <usize>i * 4, f32x4.mul(v128.load(dst + <usize>i * 4), s4));
    for (let i = vec; i < inner; i++) store<f32>(dst + <usize>i * 4, load<f32>(dst + <usize>i * 4) * scale);
  }
}

// sums[0..n] = (fromZero ? +0 : sums) + Σ of the rows×n block at x (rows n
// floats apart), each column's terms added in row order: 16 columns at a
// time down the rows (each row read is one whole cache line, and four
// independent sums hide the add latency), then 4, then single columns — the
// bits do not depend on the strip width. Shared by reduceMiddle and the
// GEMM's column sums of B (gemmColumnSums), which must agree bit for bit.
function addColumns(x: usize, sums: usize, rows: i32, n: i32, fromZero: bool): void {
  const rowBytes = <usize>n * 4;
  const strip = n & ~15;
  const vec = n & ~3;
  for (let j = 0; j < strip; j += 16) {
    const s = sums + <usize>j * 4;
    let a0 = fromZero ? f32x4.splat(0) : v128.load(s);
    let a1 = fromZero ? f32x4.splat(0) : v128.load(s, 16);
    let a2 = fromZero ? f32x4.splat(0) : v128.load(s, 32);
    let a3 = fromZero ? f32x4.splat(0) : v128.load(s, 48);
    let p = x + <usize>j * 4;
    for (let r = 0; r < rows; r++) {
      a0 = f32x4.add(a0, v128.load(p));
      a1 = f32x4.add(a1, v128.load(p, 16));
      a2 = f32x4.add(a2, v128.load(p, 32));
      a3 = f32x4.add(a3, v128.load(p, 48));
      p += rowBytes;
    }
    v128.store(s, a0);
    v128.store(s, a1, 16);
    v128.store(s, a2, 32);
    v128.store(s, a3, 48);
  }
  for (let j = strip; j < vec; j += 4) {
    const s = sums + <usize>j * 4;
    let acc = fromZero ? f32x4.splat(0) : v128.load(s);
    let p = x + <usize>j * 4;
    for (let r = 0; r < rows; r++) {
      acc = f32x4.add(acc, v128.load(p));
      p += rowBytes;
    }
    v128.store(s, acc);
  }
  for (let j = vec; j < n; j++) {
    const s = sums + <usize>j * 4;
    let acc: f32 = fromZero ? 0 : load<f32>(s);
    let p = x + <usize>j * 4;
    for (let r = 0; r < rows; r++) {
      acc += load<f32>(p);
      p += rowBytes;
    }
    store<f32>(s, acc);
  }
}

// out[o] = scale · Σ x[o·r .. o·r + r): the innermost axes (a loss's mean,
// softmax and layer-norm sums). tfjs-wasm adds one float at a time; here
// eight partial sums run side by side (lane j of accumulator q takes the
// elements ≡ 4q + j mod 16), then combine in a fixed order: a different but
// equally fixed summation order, and a more accurate one for long rows.
export function reduceInner(x: usize, out: usize, outer: i32, r: i32, scale: f32): void {
  const body = r & ~15;
  for (let o = 0; o < outer; o++) {
    const row = x + <usize>o * <usize>r * 4;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let p = row;
    const end = row + <usize>body * 4;
    while (p < end) {
      a0 = f32x4.add(a0, v128.load(p));
      a1 = f32x4.add(a1, v128.load(p, 16));
      a2 = f32x4.add(a2, v128.load(p, 32));
      a3 = f32x4.add(a3, v128.load(p, 48));
      p += 64;
    }
    const v = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
    let acc: f32 = (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
    for (let i = body; i < r; i++) acc += load<f32>(row + <usize>i * 4);
    store<f32>(out + <usize>o * 4, scale == 1 ? acc : acc * scale);
  }
}

// ---------------------------------------------------------------------------
// Binary arithmetic with the broadcasts training uses: out = a ∘ b for
// equal shapes, a scalar on either side, or a row of `period` values
// repeated along the other operand (a bias). op: 0 add, 1 sub, 2 mul,
// 3 div, 4 squared difference. Each element is the same single IEEE
// operation (or two, for (a−b)²) as tfjs-wasm's scalar loop, so the results
// are the same bits, four at a time.
// mode: 0 equal shapes, 1 b repeats with period `period`, 2 a repeats.

// @ts-ignore: decorator
@inline
function binOp4(op: i32, x: v128, y: v128): v128 {
  if (op == 0) return f32x4.add(x, y);
  if (op == 1) return f32x4.sub(x, y);
  if (op == 2) return f32x4.mul(x, y);
  if (op == 3) return f32x4.div(x, y);
  const d = f32x4.sub(x, y);
  return f32x4.mul(d, d);
}

// @ts-ignore: decorator
@inline
function binOp1(op: i32, x: f32, y: f32): f32 {
  if (op == 0) return x + y;
  if (op == 1) return x - y;
  if (op == 2) return x * y;
  if (op == 3) return x / y;
  const d = x - y;
  return d * d;
}

// out[i] = a[i] ∘ b[i] over n elements (a, b and out may alias).
// @ts-ignore: decorator
@inline
function binaryRun(op: i32, a: usize, b: usize, out: usize, n: i32): void {
  const vec = n & ~3;
  let o: usize = 0;
  const end = <usize>vec * 4;
  while (o < end) {
    v128.store(out + o, binOp4(op, v128.load(a + o), v128.load(b + o)));
    o += 16;
  }
  for (let i = vec; i < n; i++) {
    const q = <usize>i * 4;
    store<f32>(out + q, binOp1(op, load<f32>(a + q), load<f32>(b + q)));
  }
}

// out[i] = a[i] ∘ s (swap: s ∘ a[i]).
// @ts-ignore: decorator
@inline
function binaryScalar(op: i32, a: usize, s: f32, swap: bool, out: usize, n: i32): void {
  const vec = n & ~3;
  const s4 = f32x4.splat(s);
  let o: usize = 0;
  const end = <usize>vec * 4;
  while (o < end) {
    const x = v128.load(a + o);
    v128.store(out + o, swap ? binOp4(op, s4, x) : binOp4(op, x, s4));
    o += 16;
  }
  for (let i = vec; i < n; i++) {
    const q = <usize>i * 4;
    const x = load<f32>(a + q);
    store<f32>(out + q, swap ? binOp1(op, s, x) : binOp1(op, x, s));
  }
}

function binaryOp(op: i32, a: usize, b: usize, out: usize, n: i32, mode: i32, period: i32): void {
  if (mode == 0) {
    binaryRun(op, a, b, out, n);
    return;
  }
  // one operand of `period` values repeated along the other ("big")
  const big = mode == 1 ? a : b;
  const row = mode == 1 ? b : a;
  const swap = mode == 2;
  if (period == 1) {
    binaryScalar(op, big, load<f32>(row), swap, out, n);
    return;
  }
  for (let start = 0; start < n; start += period) {
    const off = <usize>start * 4;
    if (swap) binaryRun(op, row, big + off, out + off, period);
    else binaryRun(op, big + off, row, out + off, period);
  }
}

// One export per op, so that each loop is specialised for its operation.
export function addF32(a: usize, b: usize, out: usize, n: i32, mode: i32, period: i32): void { binaryOp(0, a, b, out, n, mode, period); }
export function subF32(a: usize, b: usize, out: usize, n: i32, mode: i32, period: i32): void { binaryOp(1, a, b, out, n, mode, period); }
export function mulF32(a: usize, b: usize, out: usize, n: i32, mode: i32, period: i32): void { binaryOp(2, a, b, out, n, mode, period); }
export function divF32(a: usize, b: usize, out: usize, n: i32, mode: i32, period: i32): void { binaryOp(3, a, b, out, n, mode, period); }
export function squaredDifferenceF32(a: usize, b: usize, out: usize, n: i32, mode: i32, period: i32): void { binaryOp(4, a, b, out, n, mode, period); }

// out = max(x, 0) as tfjs-wasm (XNNPACK) computes it, on the bits as
// integers: anything with the sign bit set (−0 and a negative NaN too)
// becomes +0, everything else is kept.
export function relu(x: usize, out: usize, n: i32): void {
  const vec = n & ~3;
  const zero = i32x4.splat(0);
  let o: usize = 0;
  const end = <usize>vec * 4;
  while (o < end) {
    v128.store(out + o, i32x4.max_s(v128.load(x + o), zero));
    o += 16;
  }
  for (let i = vec; i < n; i++) {
    const q = <usize>i * 4;
    const v = load<i32>(x + q);
    store<i32>(out + q, v < 0 ? 0 : v);
  }
}

// ---------------------------------------------------------------------------
// exp and erf, four lanes at a time (tfjs-wasm calls libm once per element:
// 3–8× slower on 2048×128, `node bench/run.mjs wasm-kernels`); GELU's forward
// and gradient call erf and exp on every activation of the Transformer's MLP.

// e^x (Cephes expf: x = n·ln2 + r with ln2 in two parts, e^r by a degree-6
// polynomial on |r| ≤ ln2/2; within 2 ulp). 2^n is applied in two halves, so
// results down to the smallest subnormal survive. NaN propagates; +∞ and
// x > 88.72 give +∞, −∞ and x < −103.98 give 0 (or the smallest subnormal).
// @ts-ignore: decorator
@inline
function exp4(x: v128): v128 {
  // pmax/pmin (one instruction each) keep a NaN in x: it is their first operand
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-110)), f32x4.splat(89));
  // n and e^r: expRound, expOfRemainder (in the [xfast] section)
  const fn = expRound(xc);
  const y = expOfRemainder(xc, fn);
  const ni = i32x4.sub(fn, i32x4.splat(0x4b400000));
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

// erf: for |x| < 1 its Taylor series to x²⁵ (truncation < 1e-11, and small
// arguments keep their relative accuracy); beyond, Abramowitz & Stegun
// 7.1.26, sign(x)·(1 − t·P(t)·e^(−x²)) with t = 1/(1 + p|x|) (|error| ≤
// 1.5e-7, the formula PyTorch's vectorised CPU erf uses). Within 2e-7 of the
// true erf (test/ml/kernels.test.ts); libm's erff is more accurate, and slower.
// @ts-ignore: decorator
@inline
const THRESH: f32 = 1.4;
function erf4(x: v128): v128 {
  const signBit = v128.and(x, i32x4.splat(0x80000000));
  const v = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let q = f32x4.splat(9.422759064650411e-11);
  q = madd(q, z, f32x4.splat(-1.2290555301717926e-09));
  q = madd(q, z, f32x4.splat(1.4807192815879218e-08));
  q = madd(q, z, f32x4.splat(-1.6365844691234924e-07));
  q = madd(q, z, f32x4.splat(1.6462114365889246e-06));
  q = madd(q, z, f32x4.splat(-1.492565035840625e-05));
  q = madd(q, z, f32x4.splat(0.00012055332981789664));
  q = madd(q, z, f32x4.splat(-0.0008548327023450853));
  q = madd(q, z, f32x4.splat(0.005223977625442188));
  q = madd(q, z, f32x4.splat(-0.026866170645131252));
  q = madd(q, z, f32x4.splat(0.11283791670955126));
  q = madd(q, z, f32x4.splat(-0.37612638903183754));
  q = madd(q, z, f32x4.splat(1.1283791670955126));
  const small = f32x4.mul(x, q);
  const t = f32x4.div(f32x4.splat(1), madd(f32x4.splat(0.3275911), v, f32x4.splat(1)));
  let p = f32x4.splat(1.061405429);
  p = madd(p, t, f32x4.splat(-1.453152027));
  p = madd(p, t, f32x4.splat(1.421413741));
  p = madd(p, t, f32x4.splat(-0.284496736));
  p = madd(p, t, f32x4.splat(0.254829592));
  p = f32x4.mul(p, t);
  const large = v128.or(f32x4.sub(f32x4.splat(1), f32x4.mul(p, exp4(f32x4.neg(z)))), signBit);
  return v128.bitselect(small, large, f32x4.lt(v, f32x4.splat(1)));
}

// op 0: exp, 1: erf; n floats from x to out (may alias).
function unaryMath(op: i32, x: usize, out: usize, n: i32): void {
  const vec = n & ~3;
  const end = <usize>vec * 4;
  let o: usize = 0;
  while (o < end) {
    const v = v128.load(x + o);
    v128.store(out + o, op == 0 ? exp4(v) : erf4(v));
    o += 16;
  }
  if (vec < n) {
    // the last 1–3 values through one zero-padded vector, so that they get the same arithmetic
    let tail = f32x4.splat(0);
    for (let i = vec; i < n; i++) tail = withLane(tail, i - vec, load<f32>(x + <usize>i * 4));
    const r = op == 0 ? exp4(tail) : erf4(tail);
    for (let i = vec; i < n; i++) store<f32>(out + <usize>i * 4, laneOf(r, i - vec));
  }
}

// @ts-ignore: decorator
@inline
function withLane(v: v128, j: i32, value: f32): v128 {
  if (j == 0) return f32x4.replace_lane(v, 0, value);
  if (j == 1) return f32x4.replace_lane(v, 1, value);
  if (j == 2) return f32x4.replace_lane(v, 2, value);
  return f32x4.replace_lane(v, 3, value);
}

export function expF32(x: usize, out: usize, n: i32): void { unaryMath(0, x, out, n); }
export function erfF32(x: usize, out: usize, n: i32): void { unaryMath(1, x, out, n); }

// ---------------------------------------------------------------------------
// LeakyReLU and the two kernels of its gradient (tfjs: where(x > 0, dy,
// α·dy)), which tfjs-wasm runs at 3–7 ns per element: 3 ms each for one
// 64×512×16 activation of the Conv-1D autoencoder.

export function leakyRelu(x: usize, out: usize, n: i32, alpha: f32): void {
  const a4 = f32x4.splat(alpha);
  const zero = f32x4.splat(0);
  const vec = n & ~3;
  for (let i = 0; i < vec; i += 4) {
    const p = <usize>i * 4;
    const v = v128.load(x + p);
    v128.store(out + p, v128.bitselect(v, f32x4.mul(v, a4), f32x4.gt(v, zero)));
  }
  for (let i = vec; i < n; i++) {
    const v = load<f32>(x + <usize>i * 4);
    store<f32>(out + <usize>i * 4, v > 0 ? v : v * alpha);
  }
}

// ReLU's gradient as tfjs computes it, dy·step(y) (step: 1 where y > 0, NaN
// where y is NaN, else 0), in one pass: the bits of a Step then a Multiply.
export function reluGrad(dy: usize, y: usize, out: usize, n: i32): void {
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  const vec = n & ~3;
  for (let i = 0; i < vec; i += 4) {
    const p = <usize>i * 4;
    const v = v128.load(y + p);
    const s = v128.bitselect(v, v128.bitselect(one, zero, f32x4.gt(v, zero)), f32x4.ne(v, v));
    v128.store(out + p, f32x4.mul(v128.load(dy + p), s));
  }
  for (let i = vec; i < n; i++) {
    const p = <usize>i * 4;
    const v = load<f32>(y + p);
    store<f32>(out + p, load<f32>(dy + p) * (v > 0 ? <f32>1 : v != v ? v : <f32>0));
  }
}

// out[i] = a[i] > b[i] (b[0] when bScalar), as 0/1 bytes (tfjs's bool layout).
export function greater(a: usize, b: usize, out: usize, n: i32, bScalar: i32): void {
  const vec = n & ~15;
  const one = i8x16.splat(1);
  const bs = v128.load32_splat(b);
  for (let i = 0; i < vec; i += 16) {
    const p = a + <usize>i * 4;
    const q = b + <usize>i * 4;
    const m0 = f32x4.gt(v128.load(p), bScalar ? bs : v128.load(q));
    const m1 = f32x4.gt(v128.load(p, 16), bScalar ? bs : v128.load(q, 16));
    const m2 = f32x4.gt(v128.load(p, 32), bScalar ? bs : v128.load(q, 32));
    const m3 = f32x4.gt(v128.load(p, 48), bScalar ? bs : v128.load(q, 48));
    const lo = i16x8.narrow_i32x4_s(m0, m1);
    const hi = i16x8.narrow_i32x4_s(m2, m3);
    v128.store(out + <usize>i, v128.and(i8x16.narrow_i16x8_s(lo, hi), one));
  }
  const bv = load<f32>(b);
  for (let i = vec; i < n; i++) {
    const y = bScalar ? bv : load<f32>(b + <usize>i * 4);
    store<u8>(out + <usize>i, load<f32>(a + <usize>i * 4) > y ? 1 : 0);
  }
}

// out[i] = cond[i] ? t[i] : e[i], cond as bytes.
export function select(cond: usize, t: usize, e: usize, out: usize, n: i32): void {
  const vec = n & ~3;
  const zero = i32x4.splat(0);
  for (let i = 0; i < vec; i += 4) {
    const c = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(cond + <usize>i)));
    const p = <usize>i * 4;
    v128.store(out + p, v128.bitselect(v128.load(t + p), v128.load(e + p), i32x4.ne(c, zero)));
  }
  for (let i = vec; i < n; i++) {
    const p = <usize>i * 4;
    store<f32>(out + p, load<u8>(cond + <usize>i) ? load<f32>(t + p) : load<f32>(e + p));
  }
}

// ---------------------------------------------------------------------------
// Transformer ops with closed-form gradients: layer norm, GELU and multi-head
// attention as single passes. tfjs composes each from a dozen kernels, every
// one a full pass over the activation, and attention in addition needs four
// transposes (heads out, heads back) and a batched product per head whose
// matrices (T×dh, 32×16 by default) are too small for the GEMM to pack.

// @ts-ignore: decorator
@inline
function sum4(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// GELU, y = x/2·(1 + erf(x/√2)), also writing Φ(x) = (1 + erf(x/√2))/2 for
// the gradient dx = dy·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π), which then
// needs no second erf. erf here is the rational approximation XLA and Eigen
// use for float32, x·P(x²)/Q(x²) on x clamped to ±4: one division and no
// exp, GELU's forward pass in 0.45× the time with erf4, within 5e-7 of the
// true erf (GELU within 3e-7·max(1, |x|): test/ml/transformer-ops.test.ts).
// The Erf kernel keeps erf4.
// @ts-ignore: decorator
@inline
function erfRational4(x: v128): v128 {
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-4)), f32x4.splat(4));
  const z = f32x4.mul(xc, xc);
  let p = f32x4.splat(-2.72614225801306e-10);
  p = madd(p, z, f32x4.splat(2.77068142495902e-08));
  p = madd(p, z, f32x4.splat(-2.10102402082508e-06));
  p = madd(p, z, f32x4.splat(-5.69250639462346e-05));
  p = madd(p, z, f32x4.splat(-7.34990630326855e-04));
  p = madd(p, z, f32x4.splat(-2.95459980854025e-03));
  p = madd(p, z, f32x4.splat(-1.60960333262415e-02));
  let q = f32x4.splat(-1.45660718464996e-05);
  q = madd(q, z, f32x4.splat(-2.13374055278905e-04));
  q = madd(q, z, f32x4.splat(-1.68282697438203e-03));
  q = madd(q, z, f32x4.splat(-7.37332916720468e-03));
  q = madd(q, z, f32x4.splat(-1.42647390514189e-02));
  return f32x4.div(f32x4.mul(xc, p), q);
}

// Multi-head self-attention on the fused projection qkv [b·t, 3·d] (columns:
// Q, K, V; head h at h·dh within each), d = heads·dh:
//   P = softmax(scale·Q_h·K_hᵀ) (saved transposed, [b, heads, t, tp]),  out_h = P·V_h
// written straight into out [b·t, d] at the head's columns, so neither
// direction transposes heads. Every product is the GEMM's 4×8 micro-tile
// reading its left operand in place (the scores': K packed by packA), on a
// right operand packed into panels of 8 columns. The operands are packed once
// per sample for every head ([attn2]: the sample's rows read a whole row
// block at a time, where packing head by head read one head's 16 columns of
// each of its 32 rows, 768 bytes apart; per head only where dh is no
// multiple of 8, so that heads would straddle panels). scratch:
// attentionScratchFloats(t, dh, heads), starting anywhere (aligned to a cache
// line here). (attention and attentionGrad are in the [xfast] section below,
// attention since [txattn] at the end.)

export function attentionScratchFloats(t: i32, dh: i32, heads: i32): i32 {
  const tp = (t + 3) & ~3;
  const d = heads * dh;
  // the forward's Qᵀ, V and K of every head packed, then tp maxima; the gradient's dOᵀ, dO, K and
  // Q packed, then dSᵀ and its sums; and room to start on a cache line
  const forward = panelsOf(t) * d + panelsOf(d) * t + rowTiles(t) * d + tp;
  const gradient = panelsOf(t) * d + 3 * panelsOf(d) * t + (t + 1) * tp;
  return (forward > gradient ? forward : gradient) + <i32>SCRATCH_ALIGN / 4;
}

// Rows of a packed A with m rows: whole tiles of MR.
// @ts-ignore: decorator
@inline
function rowTiles(m: i32): i32 {
  return ((m + MR - 1) / MR) * MR;
}

// Columns of a packed B with n columns: whole panels of NR.
// @ts-ignore: decorator
@inline
function panelsOf(n: i32): i32 {
  return ((n + NR - 1) / NR) * NR;
}

// C[m×n] (rows ldc floats apart) = op(A)·B, A read in place: A[m×k], rows
// lda floats apart, or with transA Aᵀ stored k×m (rows lda floats apart, 4
// floats readable past m); B packed by packB.
function smallProduct(a: usize, lda: i32, bp: usize, k: i32, c: usize, ldc: i32, m: i32, n: i32, transA: bool = false, panelDepth: i32 = 0): void {
  const rowBytes = <usize>lda * 4;
  const ldcBytes = <usize>ldc * 4;
  // B's panels may be deeper than k (packed for every head at once, this product's depths inside)
  const step = panelDepth > 0 ? panelDepth : k;
  for (let j0 = 0; j0 < n; j0 += NR) {
    const nr = n - j0 < NR ? n - j0 : NR;
    const panel = bp + <usize>(j0 * step) * 4;
    for (let i = 0; i < m; i += MR) {
      const mr = m - i < MR ? m - i : MR;
      const ci = c + <usize>i * ldcBytes + <usize>j0 * 4;
      if (transA) microTileStep(a + <usize>i * 4, rowBytes, panel, k, ci, ldcBytes, mr, nr, true, true, 0, false);
      else microTileDirect(a + <usize>i * rowBytes, rowBytes, panel, k, ci, ldcBytes, mr, nr, true, true, 0, false);
    }
  }
}

// A mask of the lanes j < n (n in 1..3 keeps that many; ≥ 4 all).
// @ts-ignore: decorator
@inline
function lanesBelow(n: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(n));
}

// [trainbench] Batch normalisation in training (src/ml/nn.ts
// batchNormTraining): the passes over an activation x [rows, c] (channels
// last) fused, two forward and two backward where tfjs's kernels made six
// and seven. Each element, and each per-channel sum (rows 0, 1, 2, … in
// order), is the same IEEE operations in the same order as the kernels they
// replace (Sub, Square, Mean over rows; Multiply, Add; Sum, Multiply, Sum;
// Multiply, Multiply, Add, Add), so the results are the same bits. No fused
// multiply-adds here for that reason. Per-channel accumulators live in the
// small output vectors (L1), rows are walked in memory order.

// d = x − mean[ch]; variance[ch] = scale · Σ_rows d² (tfjs: Sub, Square, Mean).
export function bnCenter(x: usize, mean: usize, d: usize, variance: usize, rows: i32, c: i32, scale: f32): void {
  const vec = c & ~3;
  memory.fill(variance, 0, <usize>c * 4);
  let p: usize = 0;
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < vec; i += 4) {
      const q = <usize>i * 4;
      const v = f32x4.sub(v128.load(x + p + q), v128.load(mean + q));
      v128.store(d + p + q, v);
      v128.store(variance + q, f32x4.add(v128.load(variance + q), f32x4.mul(v, v)));
    }
    for (let i = vec; i < c; i++) {
      const q = <usize>i * 4;
      const v: f32 = load<f32>(x + p + q) - load<f32>(mean + q);
      store<f32>(d + p + q, v);
      store<f32>(variance + q, load<f32>(variance + q) + v * v);
    }
    p += <usize>c * 4;
  }
  if (scale != 1) for (let i = 0; i < c; i++) store<f32>(variance + <usize>i * 4, load<f32>(variance + <usize>i * 4) * scale);
}

// y = d·s[ch] + beta[ch] (tfjs: Multiply, Add).
export function bnAffine(d: usize, s: usize, beta: usize, y: usize, rows: i32, c: i32): void {
  const vec = c & ~3;
  let p: usize = 0;
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < vec; i += 4) {
      const q = <usize>i * 4;
      v128.store(y + p + q, f32x4.add(f32x4.mul(v128.load(d + p + q), v128.load(s + q)), v128.load(beta + q)));
    }
    for (let i = vec; i < c; i++) {
      const q = <usize>i * 4;
      store<f32>(y + p + q, load<f32>(d + p + q) * load<f32>(s + q) + load<f32>(beta + q));
    }
    p += <usize>c * 4;
  }
}

// sumDy[ch] = Σ_rows dy; sumDyD[ch] = Σ_rows dy·d (tfjs: Sum; Multiply, Sum).
export function bnGradSums(dy: usize, d: usize, sumDy: usize, sumDyD: usize, rows: i32, c: i32): void {
  const vec = c & ~3;
  memory.fill(sumDy, 0, <usize>c * 4);
  memory.fill(sumDyD, 0, <usize>c * 4);
  let p: usize = 0;
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < vec; i += 4) {
      const q = <usize>i * 4;
      const g = v128.load(dy + p + q);
      v128.store(sumDy + q, f32x4.add(v128.load(sumDy + q), g));
      v128.store(sumDyD + q, f32x4.add(v128.load(sumDyD + q), f32x4.mul(g, v128.load(d + p + q))));
    }
    for (let i = vec; i < c; i++) {
      const q = <usize>i * 4;
      const g = load<f32>(dy + p + q);
      store<f32>(sumDy + q, load<f32>(sumDy + q) + g);
      store<f32>(sumDyD + q, load<f32>(sumDyD + q) + g * load<f32>(d + p + q));
    }
    p += <usize>c * 4;
  }
}

// dx = (dy·s[ch] + d·k[ch]) + cc[ch] (tfjs: Multiply, Multiply, Add, Add).
export function bnGradInput(dy: usize, d: usize, s: usize, k: usize, cc: usize, dx: usize, rows: i32, c: i32): void {
  const vec = c & ~3;
  let p: usize = 0;
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < vec; i += 4) {
      const q = <usize>i * 4;
      const a = f32x4.mul(v128.load(dy + p + q), v128.load(s + q));
      const b = f32x4.mul(v128.load(d + p + q), v128.load(k + q));
      v128.store(dx + p + q, f32x4.add(f32x4.add(a, b), v128.load(cc + q)));
    }
    for (let i = vec; i < c; i++) {
      const q = <usize>i * 4;
      const a: f32 = load<f32>(dy + p + q) * load<f32>(s + q);
      const b: f32 = load<f32>(d + p + q) * load<f32>(k + q);
      store<f32>(dx + p + q, (a + b) + load<f32>(cc + q));
    }
    p += <usize>c * 4;
  }
}
// [trainbench] end of batch normalisation

// ---------------------------------------------------------------------------
// [convxf] Conv-1D training passes (src/ml/kernels/conv1d-passes.ts): a
// convolution to one output channel, batch normalisation fused with the
// LeakyReLU that follows it, and the pair pooling / upsampling of the
// Conv-1D autoencoder.

// y[q·ow + t] = Σ_{j<kk} xp[q·sampleStride + t·step + j]·w[j] (+ bias[0]):
// a Conv-1D to ONE output channel (the autoencoder's last layer) over a
// padded input, the window of t being kk = fw·cin contiguous floats. The
// GEMM computes 8 output channels per tile, so one channel wasted 7/8 of it.
// Four windows at a time share each load of w; each dot is summed in four
// lanes, the lanes then in a fixed order, the tail last.
export function conv1dOneOut(
  xp: usize, w: usize, bias: usize, y: usize, n: i32, ow: i32, step: i32, kk: i32, sampleStride: i32,
): void {
  const vec = kk & ~3;
  const b: f32 = bias ? load<f32>(bias) : 0;
  const stepBytes = <usize>step * 4;
  for (let q = 0; q < n; q++) {
    const xq = xp + <usize>q * <usize>sampleStride * 4;
    const yq = y + <usize>q * <usize>ow * 4;
    let t = 0;
    for (; t + 4 <= ow; t += 4) {
      const x0 = xq + <usize>t * stepBytes;
      const x1 = x0 + stepBytes;
      const x2 = x1 + stepBytes;
      const x3 = x2 + stepBytes;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let j = 0; j < vec; j += 4) {
        const o = <usize>j * 4;
        const wv = v128.load(w + o);
        a0 = madd(v128.load(x0 + o), wv, a0);
        a1 = madd(v128.load(x1 + o), wv, a1);
        a2 = madd(v128.load(x2 + o), wv, a2);
        a3 = madd(v128.load(x3 + o), wv, a3);
      }
      let s0 = sum4(a0), s1 = sum4(a1), s2 = sum4(a2), s3 = sum4(a3);
      for (let j = vec; j < kk; j++) {
        const o = <usize>j * 4;
        const wj = load<f32>(w + o);
        s0 += load<f32>(x0 + o) * wj;
        s1 += load<f32>(x1 + o) * wj;
        s2 += load<f32>(x2 + o) * wj;
        s3 += load<f32>(x3 + o) * wj;
      }
      store<f32>(yq + <usize>t * 4, s0 + b);
      store<f32>(yq + <usize>t * 4 + 4, s1 + b);
      store<f32>(yq + <usize>t * 4 + 8, s2 + b);
      store<f32>(yq + <usize>t * 4 + 12, s3 + b);
    }
    for (; t < ow; t++) {
      const x0 = xq + <usize>t * stepBytes;
      let a0 = f32x4.splat(0);
      for (let j = 0; j < vec; j += 4) a0 = madd(v128.load(x0 + <usize>j * 4), v128.load(w + <usize>j * 4), a0);
      let s0 = sum4(a0);
      for (let j = vec; j < kk; j++) s0 += load<f32>(x0 + <usize>j * 4) * load<f32>(w + <usize>j * 4);
      store<f32>(yq + <usize>t * 4, s0 + b);
    }
  }
}

// dw[j] = Σ_q Σ_t dy[q·ow + t]·xp[q·sampleStride + t·step + j] for j < kk:
// the filter gradient of conv1dOneOut, summed over q then t in order for
// every j, 24 or 16 j at a time (the tail four, then one, at a time). Sample
// by sample, every strip of j in turn with its sums kept in dw between
// samples (the same order of additions): strips outermost passed the whole
// batch's input once per strip, from memory.
export function conv1dOneOutFilterGrad(
  xp: usize, dy: usize, dw: usize, n: i32, ow: i32, step: i32, kk: i32, sampleStride: i32,
): void {
  const stepBytes = <usize>step * 4;
  const wide = kk - kk % 24;
  const strip = wide + ((kk - wide) & ~15);
  const vec = kk & ~3;
  memory.fill(dw, 0, <usize>kk * 4);
  for (let q = 0; q < n; q++) {
    const g = dy + <usize>q * <usize>ow * 4;
    const xq = xp + <usize>q * <usize>sampleStride * 4;
    // 24 j at a time where there are: 6 chains of madds (latency 4) keep the FMA pipes busier than 4 did
    // (the last layer's filter gradient ran at ~40 % of the FMA peak); 8 spill (V8 loads a step's 8
    // vectors before its madds: 17 registers)
    for (let j = 0; j < wide; j += 24) {
      const d = dw + <usize>j * 4;
      let a0 = v128.load(d), a1 = v128.load(d, 16), a2 = v128.load(d, 32), a3 = v128.load(d, 48);
      let a4 = v128.load(d, 64), a5 = v128.load(d, 80);
      let x = xq + <usize>j * 4;
      for (let t = 0; t < ow; t++) {
        const s = v128.load32_splat(g + <usize>t * 4);
        a0 = madd(v128.load(x), s, a0);
        a1 = madd(v128.load(x, 16), s, a1);
        a2 = madd(v128.load(x, 32), s, a2);
        a3 = madd(v128.load(x, 48), s, a3);
        a4 = madd(v128.load(x, 64), s, a4);
        a5 = madd(v128.load(x, 80), s, a5);
        x += stepBytes;
      }
      v128.store(d, a0);
      v128.store(d, a1, 16);
      v128.store(d, a2, 32);
      v128.store(d, a3, 48);
      v128.store(d, a4, 64);
      v128.store(d, a5, 80);
    }
    for (let j = wide; j < strip; j += 16) {
      const d = dw + <usize>j * 4;
      let a0 = v128.load(d), a1 = v128.load(d, 16), a2 = v128.load(d, 32), a3 = v128.load(d, 48);
      let x = xq + <usize>j * 4;
      for (let t = 0; t < ow; t++) {
        const s = v128.load32_splat(g + <usize>t * 4);
        a0 = madd(v128.load(x), s, a0);
        a1 = madd(v128.load(x, 16), s, a1);
        a2 = madd(v128.load(x, 32), s, a2);
        a3 = madd(v128.load(x, 48), s, a3);
        x += stepBytes;
      }
      v128.store(d, a0);
      v128.store(d, a1, 16);
      v128.store(d, a2, 32);
      v128.store(d, a3, 48);
    }
    for (let j = strip; j < vec; j += 4) {
      const d = dw + <usize>j * 4;
      let a0 = v128.load(d);
      let x = xq + <usize>j * 4;
      for (let t = 0; t < ow; t++) {
        a0 = madd(v128.load(x), v128.load32_splat(g + <usize>t * 4), a0);
        x += stepBytes;
      }
      v128.store(d, a0);
    }
    for (let j = vec; j < kk; j++) {
      const d = dw + <usize>j * 4;
      let a = load<f32>(d);
      let x = xq + <usize>j * 4;
      for (let t = 0; t < ow; t++) {
        a += load<f32>(x) * load<f32>(g + <usize>t * 4);
        x += stepBytes;
      }
      store<f32>(d, a);
    }
  }
}

// (batch normalisation fused with its LeakyReLU: see [convleft])

// Pairs of rows of c floats: out[o] = ((0 + x[2o]) + x[2o+1])·scale (the
// scale skipped when 1), the order and rounding of reduceMiddle over the
// pair (tfjs's Mean or Sum of a [.., 2, c] view): average pooling by 2 and
// the gradient of nearest upsampling by 2.
export function pairSum(x: usize, out: usize, pairs: i32, c: i32, scale: f32): void {
  const vec = c & ~3;
  const s4 = f32x4.splat(scale);
  const zero = f32x4.splat(0);
  const rowBytes = <usize>c * 4;
  for (let o = 0; o < pairs; o++) {
    const a = x + <usize>o * 2 * rowBytes;
    const b = a + rowBytes;
    const dst = out + <usize>o * rowBytes;
    for (let i = 0; i < vec; i += 4) {
      const q = <usize>i * 4;
      let v = f32x4.add(f32x4.add(zero, v128.load(a + q)), v128.load(b + q));
      if (scale != 1) v = f32x4.mul(v, s4);
      v128.store(dst + q, v);
    }
    for (let i = vec; i < c; i++) {
      const q = <usize>i * 4;
      let v: f32 = (<f32>0 + load<f32>(a + q)) + load<f32>(b + q);
      if (scale != 1) v *= scale;
      store<f32>(dst + q, v);
    }
  }
}

// out[2o] = out[2o+1] = x[o]·scale (rows of c floats; copied when scale is
// 1, as x·1 is x): nearest upsampling by 2, and the gradient of average pooling by 2.
export function pairDup(x: usize, out: usize, rows: i32, c: i32, scale: f32): void {
  const vec = c & ~3;
  const s4 = f32x4.splat(scale);
  const rowBytes = <usize>c * 4;
  for (let o = 0; o < rows; o++) {
    const src = x + <usize>o * rowBytes;
    const a = out + <usize>o * 2 * rowBytes;
    const b = a + rowBytes;
    for (let i = 0; i < vec; i += 4) {
      const q = <usize>i * 4;
      const v = scale == 1 ? v128.load(src + q) : f32x4.mul(v128.load(src + q), s4);
      v128.store(a + q, v);
      v128.store(b + q, v);
    }
    for (let i = vec; i < c; i++) {
      const q = <usize>i * 4;
      const v: f32 = scale == 1 ? load<f32>(src + q) : load<f32>(src + q) * scale;
      store<f32>(a + q, v);
      store<f32>(b + q, v);
    }
  }
}
// [convxf] end of Conv-1D training passes

// ---------------------------------------------------------------------------
// [convfir] Conv-1D as a 2-parallel fast FIR (src/ml/kernels/conv1d-fir2.ts).
// A stride-1 convolution's even and odd outputs share products: with the
// padded input's even and odd samples xe, xo, the filter's even and odd taps
// we, wo and s = xo + xe (shifted by one), both phases come from three
// half-length convolutions over half the outputs (0.75 of the products).
// These are its passes over memory; the three convolutions are GEMMs.

// Per sample q and t < v (rows of c floats), of the input x zero-padded by
// `left` rows (and with zeros past its end):
//   xe[t] = xp[2t], xo[t] = xp[2t+1], xs[t] = xp[2t+1] + xp[2t+2].
export function fir2Split(x: usize, xe: usize, xo: usize, xs: usize, n: i32, w: i32, c: i32, left: i32, v: i32): void {
  const rowBytes = <usize>c * 4;
  const vec = c & ~3;
  for (let q = 0; q < n; q++) {
    const xq = x + <usize>q * <usize>w * rowBytes;
    const base = <usize>q * <usize>v * rowBytes;
    for (let t = 0; t < v; t++) {
      const i0 = 2 * t - left;
      const de = xe + base + <usize>t * rowBytes;
      const dO = xo + base + <usize>t * rowBytes;
      const ds = xs + base + <usize>t * rowBytes;
      const in0 = i0 >= 0 && i0 < w;
      const in1 = i0 + 1 >= 0 && i0 + 1 < w;
      const in2 = i0 + 2 >= 0 && i0 + 2 < w;
      const r0 = xq + <isize>i0 * <isize>rowBytes;
      const r1 = r0 + rowBytes;
      const r2 = r1 + rowBytes;
      if (in0 && in1 && in2 && vec == c) {
        // an inner row, channels in whole vectors: one loop, no memory.copy calls (a call per 16–64 floats)
        for (let o: usize = 0; o < rowBytes; o += 16) {
          const b = v128.load(r1 + o);
          v128.store(de + o, v128.load(r0 + o));
          v128.store(dO + o, b);
          v128.store(ds + o, f32x4.add(b, v128.load(r2 + o)));
        }
        continue;
      }
      if (in0) memory.copy(de, r0, rowBytes);
      else memory.fill(de, 0, rowBytes);
      if (in1) memory.copy(dO, r1, rowBytes);
      else memory.fill(dO, 0, rowBytes);
      if (in1 && in2) {
        for (let i = 0; i < vec; i += 4) {
          const o = <usize>i * 4;
          v128.store(ds + o, f32x4.add(v128.load(r1 + o), v128.load(r2 + o)));
        }
        for (let i = vec; i < c; i++) {
          const o = <usize>i * 4;
          store<f32>(ds + o, load<f32>(r1 + o) + load<f32>(r2 + o));
        }
      } else if (in1) memory.copy(ds, r1, rowBytes);
      else if (in2) memory.copy(ds, r2, rowBytes);
      else memory.fill(ds, 0, rowBytes);
    }
  }
}

// The outputs from the three products (rows of c floats; p0 has u0 rows a
// sample, p1 ue, p2 uo, y ow = ue + uo); with n = 1 and no bias, the
// filter gradient from its three sums as well (rows = taps):
//   y[2u] = (p0[u] + p1[u]) (+ bias),  y[2u+1] = ((p2[u] − p1[u]) − p0[u+1]) (+ bias).
export function fir2Combine(
  p0: usize, p1: usize, p2: usize, bias: usize, y: usize, n: i32, c: i32, u0: i32, ue: i32, uo: i32,
): void {
  const rowBytes = <usize>c * 4;
  const vec = c & ~3;
  const zero = f32x4.splat(0);
  for (let q = 0; q < n; q++) {
    const a = p0 + <usize>q * <usize>u0 * rowBytes;
    const b = p1 + <usize>q * <usize>ue * rowBytes;
    const s = p2 + <usize>q * <usize>uo * rowBytes;
    const yq = y + <usize>q * <usize>(ue + uo) * rowBytes;
    for (let u = 0; u < ue; u++) {
      const au = a + <usize>u * rowBytes;
      const bu = b + <usize>u * rowBytes;
      const su = s + <usize>u * rowBytes;
      const ye = yq + <usize>(2 * u) * rowBytes;
      const odd = u < uo;
      for (let i = 0; i < vec; i += 4) {
        const o = <usize>i * 4;
        const bv = bias ? v128.load(bias + o) : zero;
        const pb = v128.load(bu + o);
        let e = f32x4.add(v128.load(au + o), pb);
        if (bias) e = f32x4.add(e, bv);
        v128.store(ye + o, e);
        if (odd) {
          let d = f32x4.sub(f32x4.sub(v128.load(su + o), pb), v128.load(au + rowBytes + o));
          if (bias) d = f32x4.add(d, bv);
          v128.store(ye + rowBytes + o, d);
        }
      }
      for (let i = vec; i < c; i++) {
        const o = <usize>i * 4;
        const bv: f32 = bias ? load<f32>(bias + o) : 0;
        const pb = load<f32>(bu + o);
        let e: f32 = load<f32>(au + o) + pb;
        if (bias) e += bv;
        store<f32>(ye + o, e);
        if (odd) {
          let d: f32 = (load<f32>(su + o) - pb) - load<f32>(au + rowBytes + o);
          if (bias) d += bv;
          store<f32>(ye + rowBytes + o, d);
        }
      }
    }
  }
}

// The filter gradient of the 2-parallel fast FIR (src/ml/kernels/conv1d-fir2.ts,
// filterGradFir): its three products dW-phase[i][j] = Σ_q Σ_t A_q[t][i]·B_q[t][j],
// summed over a whole block of samples with each output tile's sums kept in
// registers, where gemm (transposed A, batched with accumulate) stored and
// reloaded every tile after each sample's few dozen positions, packed each
// sample's B again, and packed a partial last tile of A for every sample.

// The output gradient's phases for fir2GradGemm, written straight into its
// packed layout (no packing pass of its own): phase f (0, 1, 2: d0, d1, ds)
// of channel panel p (channels 8p..8p+7, zeros past c) is n·ue rows of 8
// floats at out + (f·panels + p)·panelBytes, row q·ue + u of sample q:
//   d0[u] = dy[2u], d1[u] = dy[2u+1] (0 past the end), ds[u] = d0[u] + d1[u].
// With `sum` (not 0),
// also sum[ch] += dy[row][ch] over the rows in order (the bias gradient, the
// order and bits of reduceMiddle's Σ over rows, carried from block to block),
// from the same loads.
export function fir2SplitGradPanels(dy: usize, out: usize, panelBytes: usize, sum: usize, n: i32, ow: i32, c: i32, ue: i32): void {
  const rowBytes = <usize>c * 4;
  const panels = (c + NR - 1) / NR;
  const phaseBytes = <usize>panels * panelBytes;
  const zero = f32x4.splat(0);
  for (let q = 0; q < n; q++) {
    const g = dy + <usize>q * <usize>ow * rowBytes;
    for (let u = 0; u < ue; u++) {
      const r0 = g + <usize>(2 * u) * rowBytes;
      const r1 = r0 + rowBytes;
      const odd = 2 * u + 1 < ow;
      let e = out + <usize>(q * ue + u) * NR * 4;
      for (let j0 = 0; j0 < c; j0 += NR) {
        const o = <usize>j0 * 4;
        if (j0 + NR <= c) {
          const a0 = v128.load(r0 + o);
          const a1 = v128.load(r0 + o, 16);
          const b0 = odd ? v128.load(r1 + o) : zero;
          const b1 = odd ? v128.load(r1 + o, 16) : zero;
          v128.store(e, a0);
          v128.store(e, a1, 16);
          v128.store(e + phaseBytes, b0);
          v128.store(e + phaseBytes, b1, 16);
          v128.store(e + 2 * phaseBytes, odd ? f32x4.add(a0, b0) : a0);
          v128.store(e + 2 * phaseBytes, odd ? f32x4.add(a1, b1) : a1, 16);
          if (sum) {
            let s0 = f32x4.add(v128.load(sum + o), a0);
            let s1 = f32x4.add(v128.load(sum + o, 16), a1);
            if (odd) {
              s0 = f32x4.add(s0, b0);
              s1 = f32x4.add(s1, b1);
            }
            v128.store(sum + o, s0);
            v128.store(sum + o, s1, 16);
          }
        } else {
          // a last, partial panel: lanes past c are 0
          for (let j = 0; j < NR; j++) {
            const at = <usize>j * 4;
            const inside = j0 + j < c;
            const a: f32 = inside ? load<f32>(r0 + o + at) : 0;
            const b: f32 = inside && odd ? load<f32>(r1 + o + at) : 0;
            store<f32>(e + at, a);
            store<f32>(e + phaseBytes + at, b);
            store<f32>(e + 2 * phaseBytes + at, odd ? a + b : a);
            if (sum && inside) {
              let s = load<f32>(sum + o + at) + a;
              if (odd) s += b;
              store<f32>(sum + o + at, s);
            }
          }
        }
        e += panelBytes;
      }
    }
  }
}

// Rows of c floats as fir2GradGemm's packed panels (a direct filter
// gradient's dy: panel p holds channels 8p..8p+7 of every row, zeros past c,
// at out + p·panelBytes); with `sum` (not 0), also sum[ch] += row[ch] over the
// rows in order (the bias gradient, reduceMiddle's order and bits), from the
// same loads.
export function packPanels(src: usize, out: usize, panelBytes: usize, sum: usize, rows: i32, c: i32): void {
  const rowBytes = <usize>c * 4;
  const zero = f32x4.splat(0);
  // whole panels down the rows, the panel's sums in registers (each channel's rows in order all the same)
  const whole = c & ~(NR - 1);
  for (let j0 = 0; j0 < whole; j0 += NR) {
    let p = src + <usize>j0 * 4;
    let e = out + <usize>(j0 / NR) * panelBytes;
    const end = e + <usize>rows * NR * 4;
    let s0 = sum ? v128.load(sum + <usize>j0 * 4) : zero;
    let s1 = sum ? v128.load(sum + <usize>j0 * 4, 16) : zero;
    while (e < end) {
      const a0 = v128.load(p);
      const a1 = v128.load(p, 16);
      v128.store(e, a0);
      v128.store(e, a1, 16);
      s0 = f32x4.add(s0, a0);
      s1 = f32x4.add(s1, a1);
      p += rowBytes;
      e += NR * 4;
    }
    if (sum) {
      v128.store(sum + <usize>j0 * 4, s0);
      v128.store(sum + <usize>j0 * 4, s1, 16);
    }
  }
  if (whole == c) return;
  // the last, partial panel: zeros past c
  const e0 = out + <usize>(whole / NR) * panelBytes;
  for (let r = 0; r < rows; r++) {
    const row = src + <usize>r * rowBytes;
    const e = e0 + <usize>r * NR * 4;
    v128.store(e, zero);
    v128.store(e, zero, 16);
    for (let j = whole; j < c; j++) {
      const v = load<f32>(row + <usize>j * 4);
      store<f32>(e + <usize>(j - whole) * 4, v);
      if (sum) store<f32>(sum + <usize>j * 4, load<f32>(sum + <usize>j * 4) + v);
    }
  }
}

// fir2SplitGradPanels for the 4-parallel filter gradient: the second level's
// nine phases of dy (rows r0..r3 = dy[4u..4u+3], 0 past ow), phase 3a + b
// the b-th (e, o, s) of the first level's phase a (d0, d1, ds):
//   r0, r2, r0 + r2,  r1, r3, r1 + r3,  r0 + r1, r2 + r3, (r0 + r1) + (r2 + r3)
// as panels of 8 channels, panel p of phase f at out + (f·panels + p)·panelBytes,
// row q·ue + u of sample q (ue = ⌈⌈ow/2⌉/2⌉ rows a sample); `sum` as there.
export function fir4SplitGradPanels(dy: usize, out: usize, panelBytes: usize, sum: usize, n: i32, ow: i32, c: i32, ue: i32): void {
  const rowBytes = <usize>c * 4;
  const panels = (c + NR - 1) / NR;
  const phaseBytes = <usize>panels * panelBytes;
  const zero = f32x4.splat(0);
  for (let q = 0; q < n; q++) {
    const g = dy + <usize>q * <usize>ow * rowBytes;
    for (let u = 0; u < ue; u++) {
      const r = 4 * u;
      const p0 = g + <usize>r * rowBytes;
      const in1 = r + 1 < ow;
      const in2 = r + 2 < ow;
      const in3 = r + 3 < ow;
      let e = out + <usize>(q * ue + u) * NR * 4;
      for (let j0 = 0; j0 < c; j0 += NR) {
        for (let h = 0; h < NR; h += 4) {
          const o = <usize>(j0 + h) * 4;
          const at = e + <usize>h * 4;
          let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
          if (j0 + h + 4 <= c) {
            a0 = v128.load(p0 + o);
            if (in1) a1 = v128.load(p0 + rowBytes + o);
            if (in2) a2 = v128.load(p0 + 2 * rowBytes + o);
            if (in3) a3 = v128.load(p0 + 3 * rowBytes + o);
          } else {
            // channels past c: lanes of 0
            for (let j = j0 + h; j < c; j++) {
              const from = p0 + <usize>j * 4;
              a0 = withLane(a0, j - j0 - h, load<f32>(from));
              if (in1) a1 = withLane(a1, j - j0 - h, load<f32>(from + rowBytes));
              if (in2) a2 = withLane(a2, j - j0 - h, load<f32>(from + 2 * rowBytes));
              if (in3) a3 = withLane(a3, j - j0 - h, load<f32>(from + 3 * rowBytes));
            }
          }
          const s01 = f32x4.add(a0, a1);
          const s23 = f32x4.add(a2, a3);
          v128.store(at, a0);
          v128.store(at + phaseBytes, a2);
          v128.store(at + 2 * phaseBytes, f32x4.add(a0, a2));
          v128.store(at + 3 * phaseBytes, a1);
          v128.store(at + 4 * phaseBytes, a3);
          v128.store(at + 5 * phaseBytes, f32x4.add(a1, a3));
          v128.store(at + 6 * phaseBytes, s01);
          v128.store(at + 7 * phaseBytes, s23);
          v128.store(at + 8 * phaseBytes, f32x4.add(s01, s23));
          if (sum && j0 + h < c) {
            // rows in order, as fir2SplitGradPanels (lanes past c hold 0 and are not stored)
            let s = j0 + h + 4 <= c ? v128.load(sum + o) : zero;
            if (j0 + h + 4 > c) for (let j = j0 + h; j < c; j++) s = withLane(s, j - j0 - h, load<f32>(sum + <usize>j * 4));
            s = f32x4.add(s, a0);
            if (in1) s = f32x4.add(s, a1);
            if (in2) s = f32x4.add(s, a2);
            if (in3) s = f32x4.add(s, a3);
            if (j0 + h + 4 <= c) v128.store(sum + o, s);
            else for (let j = j0 + h; j < c; j++) store<f32>(sum + <usize>j * 4, laneOf(s, j - j0 - h));
          }
        }
        e += panelBytes;
      }
    }
  }
}

// One tile of mr ≤ 5 rows (A's 5 values at a depth contiguous, aStep bytes
// apart within a sample, `jump` more bytes from a sample's last depth to the
// next sample's first) and nr ≤ 8 columns (a packed panel, the samples' rows
// one after the other) over `depth` positions of each of `samples` samples;
// C overwritten (`fresh`) or added to. Rows past mr read A past the tile
// (never stored).
// @ts-ignore: decorator
@inline
function gradTile5(
  pa: usize, aStep: usize, jump: usize, pb: usize, depth: i32, samples: i32, c: usize, ldc: usize, mr: i32, nr: i32, fresh: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  const sampleBytes = <usize>(depth * NR) * 4;
  for (let q = 0; q < samples; q++) {
    const end = pb + sampleBytes;
    while (pb < end) {
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      const av = v128.load(pa);
      let x = v128.shuffle<i32>(av, av, 0, 0, 0, 0);
      c00 = madd(x, b0, c00);
      c01 = madd(x, b1, c01);
      x = v128.shuffle<i32>(av, av, 1, 1, 1, 1);
      c10 = madd(x, b0, c10);
      c11 = madd(x, b1, c11);
      x = v128.shuffle<i32>(av, av, 2, 2, 2, 2);
      c20 = madd(x, b0, c20);
      c21 = madd(x, b1, c21);
      x = v128.shuffle<i32>(av, av, 3, 3, 3, 3);
      c30 = madd(x, b0, c30);
      c31 = madd(x, b1, c31);
      x = v128.load32_splat(pa, 16);
      c40 = madd(x, b0, c40);
      c41 = madd(x, b1, c41);
      pa += aStep;
      pb += NR * 4;
    }
    pa += jump;
  }
  storeRow(c, c00, c01, fresh, false, 0, false, nr);
  if (mr > 1) storeRow(c + ldc, c10, c11, fresh, false, 0, false, nr);
  if (mr > 2) storeRow(c + 2 * ldc, c20, c21, fresh, false, 0, false, nr);
  if (mr > 3) storeRow(c + 3 * ldc, c30, c31, fresh, false, 0, false, nr);
  if (mr > 4) storeRow(c + 4 * ldc, c40, c41, fresh, false, 0, false, nr);
}

// gradTile5 with 4 rows (8 accumulators: the plain build's tile, and the
// fused build's last rows).
// @ts-ignore: decorator
@inline
function gradTile4(
  pa: usize, aStep: usize, jump: usize, pb: usize, depth: i32, samples: i32, c: usize, ldc: usize, mr: i32, nr: i32, fresh: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const sampleBytes = <usize>(depth * NR) * 4;
  for (let q = 0; q < samples; q++) {
    const end = pb + sampleBytes;
    while (pb < end) {
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      let x = v128.load32_splat(pa);
      c00 = madd(x, b0, c00);
      c01 = madd(x, b1, c01);
      x = v128.load32_splat(pa, 4);
      c10 = madd(x, b0, c10);
      c11 = madd(x, b1, c11);
      x = v128.load32_splat(pa, 8);
      c20 = madd(x, b0, c20);
      c21 = madd(x, b1, c21);
      x = v128.load32_splat(pa, 12);
      c30 = madd(x, b0, c30);
      c31 = madd(x, b1, c31);
      pa += aStep;
      pb += NR * 4;
    }
    pa += jump;
  }
  storeRow(c, c00, c01, fresh, false, 0, false, nr);
  if (mr > 1) storeRow(c + ldc, c10, c11, fresh, false, 0, false, nr);
  if (mr > 2) storeRow(c + 2 * ldc, c20, c21, fresh, false, 0, false, nr);
  if (mr > 3) storeRow(c + 3 * ldc, c30, c31, fresh, false, 0, false, nr);
}

// C[m×n] = (first) or += Σ_q Σ_t A_q[t][i]·B_q[t][j] for q < samples, t <
// depth: A_q[t][i] = a[q·aSample + t·lda + i] (a Conv-1D's overlapping
// windows, lda = channels), B in fir2SplitGradPanels's panels (panelBytes
// apart). Each element is one chain of madds over the samples and positions
// in order, then added to C: the same bits for any machine with this build.
// A is read up to 3 floats past row m − 1 (rows of a partial tile, never
// stored): the caller leaves them readable.
export function fir2GradGemm(
  a: usize, aSample: i32, lda: i32, m: i32, bp: usize, panelBytes: usize, n: i32, depth: i32, samples: i32, c: usize, first: i32,
): void {
  const ldc = <usize>n * 4;
  const aStep = <usize>lda * 4;
  const jump = <usize>(aSample - depth * lda) * 4;
  const fresh = first != 0;
  // rows in 5-row tiles, the rest in (at most four) 4-row tiles, so no tile
  // computes rows it does not store where m allows (m = 5a + 4b); the plain
  // build: 4-row tiles only (see MR_PACKED)
  const b4 = (4 * (m % 5)) % 5;
  const m5 = MR_PACKED != 5 ? 0 : m >= 4 * b4 ? m - 4 * b4 : m - (m % 5);
  for (let j0 = 0; j0 < n; j0 += NR) {
    const nr = n - j0 < NR ? n - j0 : NR;
    const panel = bp + <usize>(j0 / NR) * panelBytes;
    let i = 0;
    for (; i < m5; i += 5) {
      gradTile5(a + <usize>i * 4, aStep, jump, panel, depth, samples, c + <usize>i * ldc + <usize>j0 * 4, ldc, 5, nr, fresh);
    }
    for (; i < m; i += 4) {
      const mr = m - i < 4 ? m - i : 4;
      gradTile4(a + <usize>i * 4, aStep, jump, panel, depth, samples, c + <usize>i * ldc + <usize>j0 * 4, ldc, mr, nr, fresh);
    }
  }
}
// The 4-parallel fast FIR (the 2-parallel one applied to each of its three
// half-size correlations) in one pass each way, where fir2Split and
// fir2Combine twice wrote and read the intermediate phases. c a multiple of 4.

// @ts-ignore: decorator
@inline
function rowOr0(p: usize, o: usize): v128 {
  return p ? v128.load(p + o) : f32x4.splat(0);
}

// Row i of x (rows of rowBytes) or 0 when i is outside [0, w) or `keep` is false.
// @ts-ignore: decorator
@inline
function rowAt(xq: usize, i: i32, w: i32, rowBytes: usize, keep: bool): usize {
  return keep && i >= 0 && i < w ? xq + <usize>i * rowBytes : 0;
}

// d[0..n) = s[0..n), n bytes (a multiple of 16)
// @ts-ignore: decorator
@inline
function fir4Copy(d: usize, s: usize, n: usize): void {
  let o: usize = 0;
  // a cache line an iteration (the autoencoder's rows are whole lines): a quarter of the loop's branches
  for (; o + 64 <= n; o += 64) {
    v128.store(d + o, v128.load(s + o));
    v128.store(d + o, v128.load(s + o, 16), 16);
    v128.store(d + o, v128.load(s + o, 32), 32);
    v128.store(d + o, v128.load(s + o, 48), 48);
  }
  for (; o < n; o += 16) v128.store(d + o, v128.load(s + o));
}

// d = a + b, n bytes
// @ts-ignore: decorator
@inline
function fir4Add2(d: usize, a: usize, b: usize, n: usize): void {
  let o: usize = 0;
  for (; o + 64 <= n; o += 64) {
    v128.store(d + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
    v128.store(d + o, f32x4.add(v128.load(a + o, 16), v128.load(b + o, 16)), 16);
    v128.store(d + o, f32x4.add(v128.load(a + o, 32), v128.load(b + o, 32)), 32);
    v128.store(d + o, f32x4.add(v128.load(a + o, 48), v128.load(b + o, 48)), 48);
  }
  for (; o < n; o += 16) v128.store(d + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
}

// d = (r0 + r1) + (r2 + r3), rows r1..r3 n bytes apart after r0 (fir4Split's last array)
// @ts-ignore: decorator
@inline
function fir4Add4(d: usize, r0: usize, n: usize): void {
  const r1 = r0 + n;
  const r2 = r1 + n;
  const r3 = r2 + n;
  let o: usize = 0;
  for (; o + 32 <= n; o += 32) {
    v128.store(d + o, f32x4.add(f32x4.add(v128.load(r0 + o), v128.load(r1 + o)), f32x4.add(v128.load(r2 + o), v128.load(r3 + o))));
    v128.store(d + o, f32x4.add(f32x4.add(v128.load(r0 + o, 16), v128.load(r1 + o, 16)), f32x4.add(v128.load(r2 + o, 16), v128.load(r3 + o, 16))), 16);
  }
  for (; o < n; o += 16) {
    v128.store(d + o, f32x4.add(f32x4.add(v128.load(r0 + o), v128.load(r1 + o)), f32x4.add(v128.load(r2 + o), v128.load(r3 + o))));
  }
}

// The nine phases of x for its nine products, arrays `arrayBytes` apart at
// `out`, each [n, v2, c]: with the first level's phases of the padded input
// xp (by `left` rows), X0[r] = xp[2r], X1[r] = xp[2r+1], X2[r] = xp[2r+1] +
// xp[2r+2] for r < v1 (0 past v1), array 3a + b is phase b of Xa:
// Xa[2t], Xa[2t+1], Xa[2t+1] + Xa[2t+2] (t < v2). A missing row adds 0.
export function fir4Split(x: usize, out: usize, arrayBytes: usize, n: i32, w: i32, c: i32, left: i32, v1: i32, v2: i32): void {
  const rowBytes = <usize>c * 4;
  for (let q = 0; q < n; q++) {
    const xq = x + <usize>q * <usize>w * rowBytes;
    for (let t = 0; t < v2; t++) {
      const i = 4 * t - left;
      const k0 = 2 * t < v1;
      const k1 = 2 * t + 1 < v1;
      const k2 = 2 * t + 2 < v1;
      // xp[4t + j] as the rows of level-one row 2t + k use them (j = 2k, 2k+1, 2k+2)
      const e0 = rowAt(xq, i, w, rowBytes, k0);
      const o0 = rowAt(xq, i + 1, w, rowBytes, k0);
      const s0 = rowAt(xq, i + 2, w, rowBytes, k0);
      const e1 = rowAt(xq, i + 2, w, rowBytes, k1);
      const o1 = rowAt(xq, i + 3, w, rowBytes, k1);
      const s1 = rowAt(xq, i + 4, w, rowBytes, k1);
      const e2 = rowAt(xq, i + 4, w, rowBytes, k2);
      const o2 = rowAt(xq, i + 5, w, rowBytes, k2);
      const s2 = rowAt(xq, i + 6, w, rowBytes, k2);
      const d = out + (<usize>q * <usize>v2 + <usize>t) * rowBytes;
      if (e0 && s2) {
        // every row present (all of them inside x and below v1): the rows are consecutive. One array at a
        // time, with its own short loop: the nine stores and seven loads of one loop kept sixteen addresses
        // live, more than V8 keeps in registers (0.75–0.98× the pass's time, PASSES=1 node bench/conv-fir-layers.mjs; same sums, same order)
        const r = e0;
        fir4Copy(d, r, rowBytes);
        fir4Copy(d + arrayBytes, r + 2 * rowBytes, rowBytes);
        fir4Add2(d + 2 * arrayBytes, r + 2 * rowBytes, r + 4 * rowBytes, rowBytes);
        fir4Copy(d + 3 * arrayBytes, r + rowBytes, rowBytes);
        fir4Copy(d + 4 * arrayBytes, r + 3 * rowBytes, rowBytes);
        fir4Add2(d + 5 * arrayBytes, r + 3 * rowBytes, r + 5 * rowBytes, rowBytes);
        fir4Add2(d + 6 * arrayBytes, r + rowBytes, r + 2 * rowBytes, rowBytes);
        fir4Add2(d + 7 * arrayBytes, r + 3 * rowBytes, r + 4 * rowBytes, rowBytes);
        fir4Add4(d + 8 * arrayBytes, r + 3 * rowBytes, rowBytes);
        continue;
      }
      for (let o: usize = 0; o < rowBytes; o += 16) {
        const a1 = rowOr0(e1, o);
        const b0 = rowOr0(o0, o);
        const b1 = rowOr0(o1, o);
        const c0 = f32x4.add(b0, rowOr0(s0, o));
        const c1 = f32x4.add(b1, rowOr0(s1, o));
        v128.store(d + o, rowOr0(e0, o));
        v128.store(d + arrayBytes + o, a1);
        v128.store(d + 2 * arrayBytes + o, f32x4.add(a1, rowOr0(e2, o)));
        v128.store(d + 3 * arrayBytes + o, b0);
        v128.store(d + 4 * arrayBytes + o, b1);
        v128.store(d + 5 * arrayBytes + o, f32x4.add(b1, rowOr0(o2, o)));
        v128.store(d + 6 * arrayBytes + o, c0);
        v128.store(d + 7 * arrayBytes + o, c1);
        v128.store(d + 8 * arrayBytes + o, f32x4.add(c1, f32x4.add(rowOr0(o2, o), rowOr0(s2, o))));
      }
    }
  }
}

// Row r of a first-level product Pa from its three second-level ones (base
// pointers of one sample, rows of rowBytes), as fir2Combine makes it:
// Pa[2u] = Q0[u] + Q1[u], Pa[2u+1] = (Q2[u] − Q1[u]) − Q0[u+1].
// @ts-ignore: decorator
@inline
function fir4Row(q0: usize, q1: usize, q2: usize, r: i32, rowBytes: usize, o: usize): v128 {
  const u = <usize>(r >> 1) * rowBytes + o;
  if ((r & 1) == 0) return f32x4.add(v128.load(q0 + u), v128.load(q1 + u));
  return f32x4.sub(f32x4.sub(v128.load(q2 + u), v128.load(q1 + u)), v128.load(q0 + u + rowBytes));
}

// y [n, ow, c] (+ bias) from the nine products, array 3a + b at
// qs + (3a + b)·arrayBytes, [n, rows, c] each: the first level's P0, P1, P2
// from them (fir4Row), then y[2m] = P0[m] + P1[m], y[2m+1] = (P2[m] − P1[m]) −
// P0[m+1], the operations and order of fir2Combine applied twice.
export function fir4Combine(qs: usize, arrayBytes: usize, rows: i32, bias: usize, y: usize, n: i32, c: i32, ow: i32): void {
  const rowBytes = <usize>c * 4;
  const ue = (ow + 1) / 2;
  const uo = ow / 2;
  const zero = f32x4.splat(0);
  for (let q = 0; q < n; q++) {
    const base = qs + <usize>q * <usize>rows * rowBytes;
    const a0 = base, a1 = base + arrayBytes, a2 = base + 2 * arrayBytes;
    const b0 = base + 3 * arrayBytes, b1 = base + 4 * arrayBytes, b2 = base + 5 * arrayBytes;
    const c0 = base + 6 * arrayBytes, c1 = base + 7 * arrayBytes, c2 = base + 8 * arrayBytes;
    const yq = y + <usize>q * <usize>ow * rowBytes;
    // y[4u .. 4u+3] from the products' rows u (and u + 1) while all four exist, as the loop below makes them
    const whole = ow / 4;
    for (let u = 0; u < whole; u++) {
      const ur = <usize>u * rowBytes;
      const yu = yq + <usize>(4 * u) * rowBytes;
      for (let o: usize = 0; o < rowBytes; o += 16) {
        const at = ur + o;
        const a00 = v128.load(a0 + at), a10 = v128.load(a1 + at);
        const b10 = v128.load(b1 + at);
        const c10 = v128.load(c1 + at);
        const p0e = f32x4.add(a00, a10);
        const p0o = f32x4.sub(f32x4.sub(v128.load(a2 + at), a10), v128.load(a0 + at + rowBytes));
        const p0n = f32x4.add(v128.load(a0 + at + rowBytes), v128.load(a1 + at + rowBytes));
        const p1e = f32x4.add(v128.load(b0 + at), b10);
        const p1o = f32x4.sub(f32x4.sub(v128.load(b2 + at), b10), v128.load(b0 + at + rowBytes));
        const p2e = f32x4.add(v128.load(c0 + at), c10);
        const p2o = f32x4.sub(f32x4.sub(v128.load(c2 + at), c10), v128.load(c0 + at + rowBytes));
        let y0 = f32x4.add(p0e, p1e);
        let y1 = f32x4.sub(f32x4.sub(p2e, p1e), p0o);
        let y2 = f32x4.add(p0o, p1o);
        let y3 = f32x4.sub(f32x4.sub(p2o, p1o), p0n);
        if (bias) {
          const bv = v128.load(bias + o);
          y0 = f32x4.add(y0, bv);
          y1 = f32x4.add(y1, bv);
          y2 = f32x4.add(y2, bv);
          y3 = f32x4.add(y3, bv);
        }
        v128.store(yu + o, y0);
        v128.store(yu + rowBytes + o, y1);
        v128.store(yu + 2 * rowBytes + o, y2);
        v128.store(yu + 3 * rowBytes + o, y3);
      }
    }
    for (let m = 2 * whole; m < ue; m++) {
      const ye = yq + <usize>(2 * m) * rowBytes;
      const odd = m < uo;
      for (let o: usize = 0; o < rowBytes; o += 16) {
        const bv = bias ? v128.load(bias + o) : zero;
        const p1 = fir4Row(b0, b1, b2, m, rowBytes, o);
        let e = f32x4.add(fir4Row(a0, a1, a2, m, rowBytes, o), p1);
        if (bias) e = f32x4.add(e, bv);
        v128.store(ye + o, e);
        if (odd) {
          let d = f32x4.sub(f32x4.sub(fir4Row(c0, c1, c2, m, rowBytes, o), p1), fir4Row(a0, a1, a2, m + 1, rowBytes, o));
          if (bias) d = f32x4.add(d, bv);
          v128.store(ye + rowBytes + o, d);
        }
      }
    }
  }
}
// [convfir] end of the fast-FIR Conv-1D passes

// ---------------------------------------------------------------------------
// [densefast] The autoencoder's input scaling and mean squared error in one
// pass each (src/ml/kernels/loss.ts), where tfjs took two kernels each (Sub
// then RealDiv; SquaredDifference then Mean). Every element gets the same
// IEEE operations, and the sum the same lanes and order as reduceInner, so
// the results are the same bits as the kernels they replace.

// out = (x − c[i mod period]) / s over n elements (rows of `period` values).
export function scaleShiftF32(x: usize, c: usize, out: usize, n: i32, period: i32, s: f32): void {
  const vec = period & ~3;
  const s4 = f32x4.splat(s);
  const rowBytes = <usize>period * 4;
  for (let start = 0; start < n; start += period) {
    const off = <usize>start * 4;
    const xr = x + off;
    const or = out + off;
    let o: usize = 0;
    const end = <usize>vec * 4;
    while (o < end) {
      v128.store(or + o, f32x4.div(f32x4.sub(v128.load(xr + o), v128.load(c + o)), s4));
      o += 16;
    }
    while (o < rowBytes) {
      store<f32>(or + o, (load<f32>(xr + o) - load<f32>(c + o)) / s);
      o += 4;
    }
  }
}

// diff = p − t over n elements; returns Σ diff² · scale summed as
// reduceInner sums SquaredDifference's output (four 4-lane accumulators over
// blocks of 16, then the lanes, then the tail one at a time).
export function mseF32(p: usize, t: usize, diff: usize, n: i32, scale: f32): f32 {
  const body = n & ~15;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let o: usize = 0;
  const end = <usize>body * 4;
  while (o < end) {
    const d0 = f32x4.sub(v128.load(p + o), v128.load(t + o));
    const d1 = f32x4.sub(v128.load(p + o, 16), v128.load(t + o, 16));
    const d2 = f32x4.sub(v128.load(p + o, 32), v128.load(t + o, 32));
    const d3 = f32x4.sub(v128.load(p + o, 48), v128.load(t + o, 48));
    v128.store(diff + o, d0);
    v128.store(diff + o, d1, 16);
    v128.store(diff + o, d2, 32);
    v128.store(diff + o, d3, 48);
    a0 = f32x4.add(a0, f32x4.mul(d0, d0));
    a1 = f32x4.add(a1, f32x4.mul(d1, d1));
    a2 = f32x4.add(a2, f32x4.mul(d2, d2));
    a3 = f32x4.add(a3, f32x4.mul(d3, d3));
    o += 64;
  }
  const v = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  let acc: f32 = (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
  for (let i = body; i < n; i++) {
    const q = <usize>i * 4;
    const d: f32 = load<f32>(p + q) - load<f32>(t + q);
    store<f32>(diff + q, d);
    acc += d * d;
  }
  return scale == 1 ? acc : acc * scale;
}
// [densefast] end of the fused loss

// ---------------------------------------------------------------------------
// [xfast] Transformer passes, second round: attention's softmax in fewer
// passes, written straight into the saved probabilities.

// exp4's two steps (see exp4). expRound: n =
// round(x·log2 e) by the 1.5·2^23 trick (the sum's low mantissa bits are n
// as an integer; n itself is the sum − 1.5·2^23).
// @ts-ignore: decorator
@inline
function expRound(xc: v128): v128 {
  return f32x4.add(f32x4.mul(xc, f32x4.splat(1.44269504088896341)), f32x4.splat(12582912.0));
}

// expOfRemainder: e^r for r = x − n·ln2 (ln2 in two parts), |r| ≤ ln2/2, by
// Cephes expf's degree-6 polynomial; fn from expRound.
// @ts-ignore: decorator
@inline
function expOfRemainder(xc: v128, fn: v128): v128 {
  const n = f32x4.sub(fn, f32x4.splat(12582912.0));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  return f32x4.add(madd(p, f32x4.mul(r, r), r), f32x4.splat(1));
}

// GELU and its gradient, four vectors per iteration: V8 schedules a loop
// body's chains one after another, and erf's and exp's dependent
// multiply-adds then leave the FMA pipes idle; four independent chains in
// one body run 1.5–2× faster.
// @ts-ignore: decorator
@inline
function geluStore(xv: v128, out: usize, cdf: usize): void {
  const c = normalCdf4(xv);
  v128.store(out, f32x4.mul(xv, c));
  v128.store(cdf, c);
}

// Φ(x) = erf(x/√2)/2 + 1/2 in one multiply-add, so GELU = x·Φ(x) is one multiply more
// @ts-ignore: decorator
@inline
function normalCdf4(xv: v128): v128 {
  const half = f32x4.splat(0.5);
  return madd(erfRational4(f32x4.mul(xv, f32x4.splat(<f32>0.7071067811865476))), half, half);
}

export function geluF32(x: usize, out: usize, cdf: usize, n: i32): void {
  const vec = n & ~3;
  const vec16 = n & ~15;
  let i = 0;
  for (; i < vec16; i += 16) {
    const p = <usize>i * 4;
    const a = v128.load(x + p), b = v128.load(x + p, 16), c = v128.load(x + p, 32), d = v128.load(x + p, 48);
    geluStore(a, out + p, cdf + p);
    geluStore(b, out + p + 16, cdf + p + 16);
    geluStore(c, out + p + 32, cdf + p + 32);
    geluStore(d, out + p + 48, cdf + p + 48);
  }
  for (; i < vec; i += 4) geluStore(v128.load(x + <usize>i * 4), out + <usize>i * 4, cdf + <usize>i * 4);
  if (vec < n) geluTail(x, out, cdf, vec, n);
}

// The last 1–3 values through one zero-padded vector (the same arithmetic).
function geluTail(x: usize, out: usize, cdf: usize, vec: i32, n: i32): void {
  let xv = f32x4.splat(0);
  for (let j = vec; j < n; j++) xv = withLane(xv, j - vec, load<f32>(x + <usize>j * 4));
  const c = normalCdf4(xv);
  const y = f32x4.mul(xv, c);
  for (let j = vec; j < n; j++) {
    store<f32>(out + <usize>j * 4, laneOf(y, j - vec));
    store<f32>(cdf + <usize>j * 4, laneOf(c, j - vec));
  }
}

// dx = dy·(Φ(x) + x·φ(x)), four vectors per iteration as GELU's forward.
// @ts-ignore: decorator
@inline
function geluGradOf(xv: v128, cv: v128, gv: v128): v128 {
  // x·φ(x) = (x/√(2π))·2^(−x²·log2(e)/2): exp2NonPositive4 ([txattn] section), 13 operations where e^x took 20
  const e = exp2NonPositive4(f32x4.mul(f32x4.mul(xv, xv), f32x4.splat(<f32>-0.7213475204444817)));
  return f32x4.mul(gv, madd(f32x4.mul(xv, f32x4.splat(<f32>0.3989422804014327)), e, cv));
}

export function geluGradF32(x: usize, cdf: usize, dy: usize, out: usize, n: i32): void {
  const vec = n & ~3;
  const vec16 = n & ~15;
  let i = 0;
  for (; i < vec16; i += 16) {
    const p = <usize>i * 4;
    // each vector's three loads next to its use: loaded all at the top, the twelve
    // vectors and the exponential's constants did not fit V8's 16 registers
    v128.store(out + p, geluGradOf(v128.load(x + p), v128.load(cdf + p), v128.load(dy + p)));
    v128.store(out + p, geluGradOf(v128.load(x + p, 16), v128.load(cdf + p, 16), v128.load(dy + p, 16)), 16);
    v128.store(out + p, geluGradOf(v128.load(x + p, 32), v128.load(cdf + p, 32), v128.load(dy + p, 32)), 32);
    v128.store(out + p, geluGradOf(v128.load(x + p, 48), v128.load(cdf + p, 48), v128.load(dy + p, 48)), 48);
  }
  for (; i < vec; i += 4) {
    const p = <usize>i * 4;
    v128.store(out + p, geluGradOf(v128.load(x + p), v128.load(cdf + p), v128.load(dy + p)));
  }
  if (vec < n) {
    let xv = f32x4.splat(0), cv = f32x4.splat(0), gv = f32x4.splat(0);
    for (let j = vec; j < n; j++) {
      const q = <usize>j * 4;
      xv = withLane(xv, j - vec, load<f32>(x + q));
      cv = withLane(cv, j - vec, load<f32>(cdf + q));
      gv = withLane(gv, j - vec, load<f32>(dy + q));
    }
    const r = geluGradOf(xv, cv, gv);
    for (let j = vec; j < n; j++) store<f32>(out + <usize>j * 4, laneOf(r, j - vec));
  }
}

// Attention with the probabilities kept transposed: Pᵀ [t × tp] per (sample,
// head), row j holding P[0..t][j] (lanes past t zero). Then each softmax runs
// down the columns, four rows of P in the four lanes of a vector: no
// horizontal max or sum, and the lanes' chains independent (the row-wise
// softmax spent more time in its serial reductions than the products took).
// The products read Pᵀ in place in both directions: out = P·V as transposed
// A, dV = Pᵀ·dO as plain A (no packing of P).

// (The forward pass, attention: the [txattn] section at the end of this file.)

// Lanes i < t of column group g (all ones but in the last group of a t that is no multiple of 4).
// @ts-ignore: decorator
@inline
function groupMask(g: i32, t: i32): v128 {
  return lanesBelow(t - 4 * g);
}

// Gradient for dout [b·t, d] into dqkv [b·t, 3·d], from the saved Pᵀ:
//   dV_h = Pᵀ·dO_h,  dPᵀ = V_h·dO_hᵀ,  dSᵀ = Pᵀ ⊙ (dPᵀ − colsum(Pᵀ ⊙ dPᵀ))·scale,
//   dQ_h = (dSᵀ)ᵀ·K_h,  dK_h = dSᵀ·Q_h
// scratch: attentionScratchFloats(t, dh) (a B panel, then dSᵀ [t × tp] and tp sums).
export function attentionGrad(
  qkv: usize, probs: usize, dout: usize, dqkv: usize, b: i32, t: i32, heads: i32, dh: i32, scale: f32, scratch: usize,
): void {
  const d = heads * dh;
  const ld = 3 * d;
  const tp = (t + 3) & ~3;
  // heads start on panel boundaries: dO, K and Q are packed once per sample for all heads
  const whole = dh % NR == 0;
  const headPanels = <usize>(panelsOf(d) * t) * 4;
  const dOT = alignScratch(scratch);
  const dOp = dOT + <usize>(panelsOf(t) * d) * 4;
  const kp = dOp + headPanels;
  const qp = kp + headPanels;
  const ds = qp + headPanels;
  for (let bi = 0; bi < b; bi++) {
    const rows = qkv + <usize>(bi * t) * <usize>ld * 4;
    const drows = dqkv + <usize>(bi * t) * <usize>ld * 4;
    const dorows = dout + <usize>(bi * t) * <usize>d * 4;
    // the sample's rows read once, in order: dOᵀ of every head (depths h·dh.. of each panel), and dO, K, Q (panels h·dh/8..)
    packB(dorows, dOT, t, d, 0, d, true);
    if (whole) {
      packB(dorows, dOp, d, d, 0, t, false);
      packB(rows + <usize>d * 4, kp, d, ld, 0, t, false);
      packB(rows, qp, d, ld, 0, t, false);
    }
    for (let h = 0; h < heads; h++) {
      const q = rows + <usize>(h * dh) * 4;
      const k = rows + <usize>(d + h * dh) * 4;
      const v = rows + <usize>(2 * d + h * dh) * 4;
      const dO = dorows + <usize>(h * dh) * 4;
      const pT = probs + <usize>((bi * heads + h) * t) * <usize>tp * 4;
      const head = <usize>(h * dh * t) * 4;
      if (!whole) {
        packB(dO, dOp, dh, d, 0, t, false);
        packB(k, kp, dh, ld, 0, t, false);
        packB(q, qp, dh, ld, 0, t, false);
      }
      const off = whole ? head : 0;
      // dV_h = Pᵀ·dO_h
      smallProduct(pT, tp, dOp + off, t, drows + <usize>(2 * d + h * dh) * 4, ld, t, dh);
      // dPᵀ = V_h·dO_hᵀ
      smallProduct(v, ld, dOT + <usize>(h * dh * NR) * 4, dh, ds, tp, t, t, false, d);
      // the column sums Σ_j Pᵀ⊙dPᵀ (rows j in order), then dSᵀ in place
      scoreGradColumns(pT, ds, t, tp, scale);
      // dQ_h = (dSᵀ)ᵀ·K_h
      smallProduct(ds, tp, kp + off, t, drows + <usize>(h * dh) * 4, ld, t, dh, true);
      // dK_h = dSᵀ·Q_h
      smallProduct(ds, tp, qp + off, t, drows + <usize>(d + h * dh) * 4, ld, t, dh);
    }
  }
}

// Layer norm over rows of d floats of s = x, or s = x + res (a residual
// branch joining the stream, written to sum: the Add before a pre-norm
// block's layer norm in the same pass; res has resRows rows, repeated down x
// when fewer: the Transformer's positional encoding): μ and r = 1/√(σ² + eps) per row into
// mean and rstd, y = (s − μ)·r·γ + β. The gradient recomputes x̂ = (s − μ)·r
// from them rather than reading a saved x̂. Sums run in four lanes of four
// accumulators (chains of d/16 adds, not d/4), then in a fixed order.
export function layerNormResidual(
  x: usize, res: usize, resRows: i32, gamma: usize, beta: usize, sum: usize, y: usize, mean: usize, rstd: usize, rows: i32, d: i32, eps: f32,
): void {
  const inv = <f32>1 / <f32>d;
  const rowBytes = <usize>d * 4;
  let resRow = 0;
  let row = 0;
  // Four rows at a time where d is whole vectors: each row's sums
  // as before, their last horizontal adds, μ and 1/√(σ² + eps) for the four
  // rows in one vector (the same operations lane by lane, so the same bits):
  // one row's chain of sums, reduction, square root and division is mostly
  // latency, which four independent rows now overlap (0.91× the time of a
  // default SpecflowAddLayerNorm call; with x + res summed as it is stored,
  // addRowSum, 0.75–0.78×: bench/transformer-kernels-ab.mjs addLayerNorm)
  if ((d & 3) == 0) {
    const inv4 = f32x4.splat(inv);
    const eps4 = f32x4.splat(eps);
    for (; row + 4 <= rows; row += 4) {
      const off = <usize>row * rowBytes;
      const src = res ? sum + off : x + off;
      let t0: v128, t1: v128, t2: v128, t3: v128;
      if (res) {
        const r0 = resRow;
        if (++resRow == resRows) resRow = 0;
        const r1 = resRow;
        if (++resRow == resRows) resRow = 0;
        const r2 = resRow;
        if (++resRow == resRows) resRow = 0;
        const r3 = resRow;
        if (++resRow == resRows) resRow = 0;
        t0 = addRowSum(x + off, res + <usize>r0 * rowBytes, src, d);
        t1 = addRowSum(x + off + rowBytes, res + <usize>r1 * rowBytes, src + rowBytes, d);
        t2 = addRowSum(x + off + 2 * rowBytes, res + <usize>r2 * rowBytes, src + 2 * rowBytes, d);
        t3 = addRowSum(x + off + 3 * rowBytes, res + <usize>r3 * rowBytes, src + 3 * rowBytes, d);
      } else {
        t0 = rowSum(src, d);
        t1 = rowSum(src + rowBytes, d);
        t2 = rowSum(src + 2 * rowBytes, d);
        t3 = rowSum(src + 3 * rowBytes, d);
      }
      const mu4 = f32x4.mul(sum4x4(t0, t1, t2, t3), inv4);
      const ss4 = sum4x4(
        rowSquares(src, f32x4.splat(f32x4.extract_lane(mu4, 0)), d),
        rowSquares(src + rowBytes, f32x4.splat(f32x4.extract_lane(mu4, 1)), d),
        rowSquares(src + 2 * rowBytes, f32x4.splat(f32x4.extract_lane(mu4, 2)), d),
        rowSquares(src + 3 * rowBytes, f32x4.splat(f32x4.extract_lane(mu4, 3)), d),
      );
      const rs4 = f32x4.div(f32x4.splat(1), f32x4.sqrt(f32x4.add(f32x4.mul(ss4, inv4), eps4)));
      v128.store(mean + <usize>row * 4, mu4);
      v128.store(rstd + <usize>row * 4, rs4);
      const yr = y + off;
      normRow(src, f32x4.splat(f32x4.extract_lane(mu4, 0)), f32x4.splat(f32x4.extract_lane(rs4, 0)), gamma, beta, yr, d);
      normRow(src + rowBytes, f32x4.splat(f32x4.extract_lane(mu4, 1)), f32x4.splat(f32x4.extract_lane(rs4, 1)), gamma, beta, yr + rowBytes, d);
      normRow(src + 2 * rowBytes, f32x4.splat(f32x4.extract_lane(mu4, 2)), f32x4.splat(f32x4.extract_lane(rs4, 2)), gamma, beta, yr + 2 * rowBytes, d);
      normRow(src + 3 * rowBytes, f32x4.splat(f32x4.extract_lane(mu4, 3)), f32x4.splat(f32x4.extract_lane(rs4, 3)), gamma, beta, yr + 3 * rowBytes, d);
    }
  }
  const vec = d & ~3;
  for (; row < rows; row++) {
    const off = <usize>row * rowBytes;
    let sr = x + off;
    let whole: v128;
    if (res) {
      sr = sum + off;
      const rr = res + <usize>resRow * rowBytes;
      if (++resRow == resRows) resRow = 0;
      whole = addRowSum(x + off, rr, sr, d);
      for (let i = vec; i < d; i++) store<f32>(sr + <usize>i * 4, load<f32>(x + off + <usize>i * 4) + load<f32>(rr + <usize>i * 4));
    } else {
      whole = rowSum(sr, d);
    }
    let total = sum4(whole);
    for (let k = vec; k < d; k++) total += load<f32>(sr + <usize>k * 4);
    const mu = total * inv;
    const m4 = f32x4.splat(mu);
    let ss = sum4(rowSquares(sr, m4, d));
    for (let k = vec; k < d; k++) {
      const c = load<f32>(sr + <usize>k * 4) - mu;
      ss += c * c;
    }
    const rs = <f32>1 / Mathf.sqrt(ss * inv + eps);
    store<f32>(mean + <usize>row * 4, mu);
    store<f32>(rstd + <usize>row * 4, rs);
    const yr = y + off;
    normRow(sr, m4, f32x4.splat(rs), gamma, beta, yr, d);
    for (let k = vec; k < d; k++) {
      const p = <usize>k * 4;
      store<f32>(yr + p, (load<f32>(sr + p) - mu) * rs * load<f32>(gamma + p) + load<f32>(beta + p));
    }
  }
}

// s = x + res over a row's whole vectors, stored, and summed as rowSum does (the
// same values added in the same order) while in registers: a pass over s fewer.
// @ts-ignore: decorator
@inline
function addRowSum(xr: usize, rr: usize, sr: usize, d: i32): v128 {
  const vec = d & ~3;
  const vec16 = d & ~15;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let i = 0;
  for (; i < vec16; i += 16) {
    const p = <usize>i * 4;
    const s0 = f32x4.add(v128.load(xr + p), v128.load(rr + p));
    const s1 = f32x4.add(v128.load(xr + p, 16), v128.load(rr + p, 16));
    const s2 = f32x4.add(v128.load(xr + p, 32), v128.load(rr + p, 32));
    const s3 = f32x4.add(v128.load(xr + p, 48), v128.load(rr + p, 48));
    v128.store(sr + p, s0);
    v128.store(sr + p, s1, 16);
    v128.store(sr + p, s2, 32);
    v128.store(sr + p, s3, 48);
    a0 = f32x4.add(a0, s0);
    a1 = f32x4.add(a1, s1);
    a2 = f32x4.add(a2, s2);
    a3 = f32x4.add(a3, s3);
  }
  for (; i < vec; i += 4) {
    const p = <usize>i * 4;
    const s0 = f32x4.add(v128.load(xr + p), v128.load(rr + p));
    v128.store(sr + p, s0);
    a0 = f32x4.add(a0, s0);
  }
  return f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
}

// The whole vectors of a row summed in four lanes of four accumulators
// (chains of d/16 adds, not d/4), the accumulators added pairwise; sum4
// finishes it.
// @ts-ignore: decorator
@inline
function rowSum(sr: usize, d: i32): v128 {
  const vec = d & ~3;
  const vec16 = d & ~15;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let i = 0;
  for (; i < vec16; i += 16) {
    const p = sr + <usize>i * 4;
    a0 = f32x4.add(a0, v128.load(p));
    a1 = f32x4.add(a1, v128.load(p, 16));
    a2 = f32x4.add(a2, v128.load(p, 32));
    a3 = f32x4.add(a3, v128.load(p, 48));
  }
  for (; i < vec; i += 4) a0 = f32x4.add(a0, v128.load(sr + <usize>i * 4));
  return f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
}

// Σ (s − μ)² over a row's whole vectors, as rowSum.
// @ts-ignore: decorator
@inline
function rowSquares(sr: usize, m4: v128, d: i32): v128 {
  const vec = d & ~3;
  const vec16 = d & ~15;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let i = 0;
  for (; i < vec16; i += 16) {
    const p = sr + <usize>i * 4;
    const c0 = f32x4.sub(v128.load(p), m4), c1 = f32x4.sub(v128.load(p, 16), m4);
    const c2 = f32x4.sub(v128.load(p, 32), m4), c3 = f32x4.sub(v128.load(p, 48), m4);
    a0 = madd(c0, c0, a0);
    a1 = madd(c1, c1, a1);
    a2 = madd(c2, c2, a2);
    a3 = madd(c3, c3, a3);
  }
  for (; i < vec; i += 4) {
    const c = f32x4.sub(v128.load(sr + <usize>i * 4), m4);
    a0 = madd(c, c, a0);
  }
  return f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
}

// y = (s − μ)·r·γ + β over a row's whole vectors.
// @ts-ignore: decorator
@inline
function normRow(sr: usize, m4: v128, r4: v128, gamma: usize, beta: usize, yr: usize, d: i32): void {
  const vec = d & ~3;
  for (let k = 0; k < vec; k += 4) {
    const p = <usize>k * 4;
    const h = f32x4.mul(f32x4.sub(v128.load(sr + p), m4), r4);
    v128.store(yr + p, madd(h, v128.load(gamma + p), v128.load(beta + p)));
  }
}

// sum4 of four vectors at once: lane r is sum4(v_r), (v.0 + v.1) + (v.2 + v.3).
// @ts-ignore: decorator
@inline
function sum4x4(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  const p01 = f32x4.add(v128.shuffle<f32>(v0, v1, 0, 2, 4, 6), v128.shuffle<f32>(v0, v1, 1, 3, 5, 7));
  const p23 = f32x4.add(v128.shuffle<f32>(v2, v3, 0, 2, 4, 6), v128.shuffle<f32>(v2, v3, 1, 3, 5, 7));
  return f32x4.add(v128.shuffle<f32>(p01, p23, 0, 2, 4, 6), v128.shuffle<f32>(p01, p23, 1, 3, 5, 7));
}

// Its gradient, per row with x̂ = (s − μ)·r and g = dy·γ:
//   dx = r·(g − mean(g) − x̂·mean(g·x̂)) (+ dres: the residual stream's own
//   gradient, summed here instead of in an Add),  dγ = Σ_rows dy·x̂,  dβ = Σ_rows dy
// (dγ, dβ summed row 0, 1, 2, … in every column).
export function layerNormResidualGrad(
  dy: usize, s: usize, mean: usize, rstd: usize, gamma: usize, dres: usize, dx: usize, dgamma: usize, dbeta: usize, rows: i32, d: i32,
): void {
  const vec = d & ~3;
  const inv = <f32>1 / <f32>d;
  const rowBytes = <usize>d * 4;
  memory.fill(dgamma, 0, rowBytes);
  memory.fill(dbeta, 0, rowBytes);
  for (let row = 0; row < rows; row++) {
    const off = <usize>row * rowBytes;
    const dyr = dy + off;
    const sr = s + off;
    const mu = load<f32>(mean + <usize>row * 4);
    const rs = load<f32>(rstd + <usize>row * 4);
    const m4 = f32x4.splat(mu);
    const rs4 = f32x4.splat(rs);
    // two accumulators a sum (even and odd vectors): half-length chains
    let g0 = f32x4.splat(0), g1 = g0, h0 = g0, h1 = g0;
    let i = 0;
    for (; i + 8 <= vec; i += 8) {
      const p = <usize>i * 4;
      const dv0 = v128.load(dyr + p), dv1 = v128.load(dyr + p, 16);
      const x0 = f32x4.mul(f32x4.sub(v128.load(sr + p), m4), rs4);
      const x1 = f32x4.mul(f32x4.sub(v128.load(sr + p, 16), m4), rs4);
      const gg0 = f32x4.mul(dv0, v128.load(gamma + p)), gg1 = f32x4.mul(dv1, v128.load(gamma + p, 16));
      g0 = f32x4.add(g0, gg0);
      g1 = f32x4.add(g1, gg1);
      h0 = madd(gg0, x0, h0);
      h1 = madd(gg1, x1, h1);
      v128.store(dgamma + p, madd(dv0, x0, v128.load(dgamma + p)));
      v128.store(dgamma + p, madd(dv1, x1, v128.load(dgamma + p, 16)), 16);
      v128.store(dbeta + p, f32x4.add(v128.load(dbeta + p), dv0));
      v128.store(dbeta + p, f32x4.add(v128.load(dbeta + p, 16), dv1), 16);
    }
    for (; i < vec; i += 4) {
      const p = <usize>i * 4;
      const dv = v128.load(dyr + p);
      const xh = f32x4.mul(f32x4.sub(v128.load(sr + p), m4), rs4);
      const gg = f32x4.mul(dv, v128.load(gamma + p));
      g0 = f32x4.add(g0, gg);
      h0 = madd(gg, xh, h0);
      v128.store(dgamma + p, madd(dv, xh, v128.load(dgamma + p)));
      v128.store(dbeta + p, f32x4.add(v128.load(dbeta + p), dv));
    }
    let sg = sum4(f32x4.add(g0, g1));
    let sgh = sum4(f32x4.add(h0, h1));
    for (let k = vec; k < d; k++) {
      const p = <usize>k * 4;
      const dv = load<f32>(dyr + p);
      const xh = (load<f32>(sr + p) - mu) * rs;
      const gg = dv * load<f32>(gamma + p);
      sg += gg;
      sgh += gg * xh;
      store<f32>(dgamma + p, load<f32>(dgamma + p) + dv * xh);
      store<f32>(dbeta + p, load<f32>(dbeta + p) + dv);
    }
    const mg4 = f32x4.splat(sg * inv);
    const mgh4 = f32x4.splat(sgh * inv);
    const mg = sg * inv;
    const mgh = sgh * inv;
    const dxr = dx + off;
    const drr = dres + off;
    for (let k = 0; k < vec; k += 4) {
      const p = <usize>k * 4;
      const xh = f32x4.mul(f32x4.sub(v128.load(sr + p), m4), rs4);
      const gg = f32x4.mul(v128.load(dyr + p), v128.load(gamma + p));
      let v = f32x4.mul(f32x4.sub(f32x4.sub(gg, mg4), f32x4.mul(xh, mgh4)), rs4);
      if (dres) v = f32x4.add(v128.load(drr + p), v);
      v128.store(dxr + p, v);
    }
    for (let k = vec; k < d; k++) {
      const p = <usize>k * 4;
      const xh = (load<f32>(sr + p) - mu) * rs;
      const gg = load<f32>(dyr + p) * load<f32>(gamma + p);
      let v = (gg - mg - xh * mgh) * rs;
      if (dres) v = load<f32>(drr + p) + v;
      store<f32>(dxr + p, v);
    }
  }
}
// [xfast] end of Transformer passes, second round

// [txgemm] GEMM, second round

// The packing buffers start on a cache line: tfjs's malloc aligns the scratch
// to 8 bytes only, and then a quarter of the micro-kernels' 16-byte loads of
// packed B (and of the packers' stores) straddle two lines.
const SCRATCH_ALIGN: usize = 64;

// @ts-ignore: decorator
@inline
function alignScratch(p: usize): usize {
  return (p + SCRATCH_ALIGN - 1) & ~(SCRATCH_ALIGN - 1);
}

// A weight gradient's product dW = xᵀ·dy (transposed A, untransposed B)
// followed, in tfjs's gradient of a fused matMul, by the bias gradient
// Σ_rows dy: here its column sums are added up while B's depth block is in
// cache for packing, instead of a separate pass over dy (6 MB for the
// Transformer's Q/K/V projection). The block's rows are added to the sums
// by reduceMiddle's own loop (addColumns), block after block, so each column
// is summed from +0, row 0, 1, 2, … in order: the Sum kernel's bits.
let colSums: usize = 0;

export function gemmColumnSums(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, scratch: usize, sums: usize): void {
  colSums = sums;
  gemm(a, b, c, m, n, k, 1, 0, 0, 0, scratch, 1, 0, 0, m * n, 0, 0);
  colSums = 0;
}

// ---------------------------------------------------------------------------
// [convleft] Batch normalisation + LeakyReLU (src/ml/kernels/conv1d-passes.ts)
// from the activation x and its mean: d = x − mean[ch] and the LeakyReLU's
// input v = d·s[ch] + beta[ch] are recomputed where needed, the same IEEE
// operations as when d was written out and y = leaky(v) read back (so the
// same bits), so neither is kept for the backward pass: one store pass
// fewer forward and one input stream fewer in each backward pass. The
// gradient's mask is v > 0, which is y > 0 for α ≥ 0.

// Each pass runs strips of channels (16, 8 or 4 wide, then single
// ones) down blocks of rows (bnBlockRows: a block of every stream stays in
// L1 while its strips re-read it), the per-channel vectors and the sums in
// registers rather than loaded and stored again for every row: the passes
// were bound by those loads and by the store-to-load chains of the sums,
// not by memory. Every element sees the same operations as before, and
// every channel's sum still adds its rows in order, so the bits are those
// of the row-at-a-time loops they replace.

// Rows per block: about 4 KiB of each stream, even (pooling takes pairs).
// @ts-ignore: decorator
@inline
function bnBlockRows(c: i32): i32 {
  return max(2, (4096 / (c * 4)) & ~1);
}

// leaky's choice per lane: a where the mask is all ones, b where all zeros
// (masks from a comparison are one or the other, so the relaxed build's
// blend is exact).
// @ts-ignore: decorator
@inline
function laneSelect(a: v128, b: v128, mask: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_laneselect(a, b, mask);
  return v128.bitselect(a, b, mask);
}

// variance[ch] = scale · Σ_rows (x − mean[ch])² (bnCenter without writing d).
export function bnVariance(x: usize, mean: usize, variance: usize, rows: i32, c: i32, scale: f32): void {
  memory.fill(variance, 0, <usize>c * 4);
  const rowBytes = <usize>c * 4;
  const block = bnBlockRows(c);
  for (let j0 = 0; j0 < rows; j0 += block) {
    const n = min(block, rows - j0);
    const xb = x + <usize>j0 * rowBytes;
    let i = 0;
    for (; i + 16 <= c; i += 16) {
      const q = <usize>i * 4;
      const m0 = v128.load(mean + q), m1 = v128.load(mean + q, 16), m2 = v128.load(mean + q, 32), m3 = v128.load(mean + q, 48);
      let a0 = v128.load(variance + q), a1 = v128.load(variance + q, 16), a2 = v128.load(variance + q, 32), a3 = v128.load(variance + q, 48);
      let p = xb + q;
      for (let r = 0; r < n; r++) {
        const d0 = f32x4.sub(v128.load(p), m0);
        const d1 = f32x4.sub(v128.load(p, 16), m1);
        const d2 = f32x4.sub(v128.load(p, 32), m2);
        const d3 = f32x4.sub(v128.load(p, 48), m3);
        a0 = f32x4.add(a0, f32x4.mul(d0, d0));
        a1 = f32x4.add(a1, f32x4.mul(d1, d1));
        a2 = f32x4.add(a2, f32x4.mul(d2, d2));
        a3 = f32x4.add(a3, f32x4.mul(d3, d3));
        p += rowBytes;
      }
      v128.store(variance + q, a0);
      v128.store(variance + q, a1, 16);
      v128.store(variance + q, a2, 32);
      v128.store(variance + q, a3, 48);
    }
    for (; i + 4 <= c; i += 4) {
      const q = <usize>i * 4;
      const m0 = v128.load(mean + q);
      let a0 = v128.load(variance + q);
      let p = xb + q;
      for (let r = 0; r < n; r++) {
        const d0 = f32x4.sub(v128.load(p), m0);
        a0 = f32x4.add(a0, f32x4.mul(d0, d0));
        p += rowBytes;
      }
      v128.store(variance + q, a0);
    }
    for (; i < c; i++) {
      const q = <usize>i * 4;
      const m0 = load<f32>(mean + q);
      let a0 = load<f32>(variance + q);
      let p = xb + q;
      for (let r = 0; r < n; r++) {
        const d0: f32 = load<f32>(p) - m0;
        a0 += d0 * d0;
        p += rowBytes;
      }
      store<f32>(variance + q, a0);
    }
  }
  if (scale != 1) for (let i = 0; i < c; i++) store<f32>(variance + <usize>i * 4, load<f32>(variance + <usize>i * 4) * scale);
}

// y = leaky((x − mean[ch])·s[ch] + beta[ch]), leaky(v) = v > 0 ? v : α·v.
export function bnAffineLeaky(x: usize, mean: usize, s: usize, beta: usize, y: usize, rows: i32, c: i32, alpha: f32): void {
  const vec = c & ~3;
  const a4 = f32x4.splat(alpha);
  const zero = f32x4.splat(0);
  let p: usize = 0;
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < vec; i += 4) {
      const q = <usize>i * 4;
      const d = f32x4.sub(v128.load(x + p + q), v128.load(mean + q));
      const v = f32x4.add(f32x4.mul(d, v128.load(s + q)), v128.load(beta + q));
      v128.store(y + p + q, v128.bitselect(v, f32x4.mul(v, a4), f32x4.gt(v, zero)));
    }
    for (let i = vec; i < c; i++) {
      const q = <usize>i * 4;
      const d: f32 = load<f32>(x + p + q) - load<f32>(mean + q);
      const v: f32 = d * load<f32>(s + q) + load<f32>(beta + q);
      store<f32>(y + p + q, v > 0 ? v : v * alpha);
    }
    p += <usize>c * 4;
  }
}

// out[o] = ((0 + y[2o]) + y[2o+1])·0.5 with y as bnAffineLeaky writes it (rows
// of c floats; pairSum's order and rounding): the LeakyReLU's output average-
// pooled by 2 along the length in the same pass, y itself never written.
export function bnAffineLeakyPool(x: usize, mean: usize, s: usize, beta: usize, out: usize, pairs: i32, c: i32, alpha: f32): void {
  const vec = c & ~3;
  const a4 = f32x4.splat(alpha);
  const zero = f32x4.splat(0);
  const half = f32x4.splat(0.5);
  const rowBytes = <usize>c * 4;
  for (let o = 0; o < pairs; o++) {
    const x0 = x + <usize>o * 2 * rowBytes;
    const x1 = x0 + rowBytes;
    const dst = out + <usize>o * rowBytes;
    for (let i = 0; i < vec; i += 4) {
      const q = <usize>i * 4;
      const m = v128.load(mean + q);
      const sv = v128.load(s + q);
      const bv = v128.load(beta + q);
      const v0 = f32x4.add(f32x4.mul(f32x4.sub(v128.load(x0 + q), m), sv), bv);
      const v1 = f32x4.add(f32x4.mul(f32x4.sub(v128.load(x1 + q), m), sv), bv);
      const y0 = v128.bitselect(v0, f32x4.mul(v0, a4), f32x4.gt(v0, zero));
      const y1 = v128.bitselect(v1, f32x4.mul(v1, a4), f32x4.gt(v1, zero));
      v128.store(dst + q, f32x4.mul(f32x4.add(f32x4.add(zero, y0), y1), half));
    }
    for (let i = vec; i < c; i++) {
      const q = <usize>i * 4;
      const m = load<f32>(mean + q);
      const v0: f32 = (load<f32>(x0 + q) - m) * load<f32>(s + q) + load<f32>(beta + q);
      const v1: f32 = (load<f32>(x1 + q) - m) * load<f32>(s + q) + load<f32>(beta + q);
      const y0: f32 = v0 > 0 ? v0 : v0 * alpha;
      const y1: f32 = v1 > 0 ? v1 : v1 * alpha;
      store<f32>(dst + q, ((<f32>0 + y0) + y1) * 0.5);
    }
  }
}

// dz of one element (the scalar tails): dy's element h (halved when pooled,
// as pairDup(·, 0.5) spreads it) through the LeakyReLU whose input is v.
// @ts-ignore: decorator
@inline
function bnLeakyDz(h: f32, v: f32, alpha: f32, pool: i32): f32 {
  const g0: f32 = pool ? h * 0.5 : h;
  return v > 0 ? g0 : g0 * alpha;
}

// Without pooling and with 32 channels or more a row at a time, as before
// the strips: rows of whole cache lines, and the sums' store-to-load chains
// many enough to overlap (bench/bn-passes-ab.mjs, both builds on the same
// buffers: the strips 1.14–1.19× this at 128 × 64 channels, 0.86–1.12× at
// 256 × 32, 0.6–0.9× on 16 channels or a pooled dy).
function bnLeakyGradSumsRows(dy: usize, x: usize, mean: usize, s: usize, beta: usize, sumDz: usize, sumDzD: usize, rows: i32, c: i32, alpha: f32): void {
  const vec = c & ~3;
  const a4 = f32x4.splat(alpha);
  const zero = f32x4.splat(0);
  let p: usize = 0;
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < vec; i += 4) {
      const q = <usize>i * 4;
      const d = f32x4.sub(v128.load(x + p + q), v128.load(mean + q));
      const v = f32x4.add(f32x4.mul(d, v128.load(s + q)), v128.load(beta + q));
      const g0 = v128.load(dy + p + q);
      const g = laneSelect(g0, f32x4.mul(g0, a4), f32x4.gt(v, zero));
      v128.store(sumDz + q, f32x4.add(v128.load(sumDz + q), g));
      v128.store(sumDzD + q, f32x4.add(v128.load(sumDzD + q), f32x4.mul(g, d)));
    }
    for (let i = vec; i < c; i++) {
      const q = <usize>i * 4;
      const d: f32 = load<f32>(x + p + q) - load<f32>(mean + q);
      const v: f32 = d * load<f32>(s + q) + load<f32>(beta + q);
      const g = bnLeakyDz(load<f32>(dy + p + q), v, alpha, 0);
      store<f32>(sumDz + q, load<f32>(sumDz + q) + g);
      store<f32>(sumDzD + q, load<f32>(sumDzD + q) + g * d);
    }
    p += <usize>c * 4;
  }
}

// The gradient through the LeakyReLU, dz = v > 0 ? dy : α·dy, folded into
// batch norm's gradient sums: sumDz[ch] = Σ_rows dz, sumDzD[ch] = Σ_rows dz·d.
// With `pool`, dy is the gradient of the output's average pooling by 2 (rows/2
// rows): row j's dy is dy[j/2]·0.5, as pairDup with scale 0.5 would write it.
export function bnLeakyGradSums(
  dy: usize, x: usize, mean: usize, s: usize, beta: usize, sumDz: usize, sumDzD: usize, rows: i32, c: i32, alpha: f32, pool: i32,
): void {
  const a4 = f32x4.splat(alpha);
  const zero = f32x4.splat(0);
  const half = f32x4.splat(0.5);
  memory.fill(sumDz, 0, <usize>c * 4);
  memory.fill(sumDzD, 0, <usize>c * 4);
  if (!pool && c >= 32) {
    bnLeakyGradSumsRows(dy, x, mean, s, beta, sumDz, sumDzD, rows, c, alpha);
    return;
  }
  const rowBytes = <usize>c * 4;
  const block = bnBlockRows(c);
  // with pooling, rows come in pairs that share one row of dy
  const step = pool ? 2 : 1;
  for (let j0 = 0; j0 < rows; j0 += block) {
    const n = min(block, rows - j0);
    const xb = x + <usize>j0 * rowBytes;
    const gb = dy + <usize>(j0 / step) * rowBytes;
    let i = 0;
    for (; i + 8 <= c; i += 8) {
      const q = <usize>i * 4;
      const m0 = v128.load(mean + q), m1 = v128.load(mean + q, 16);
      const s0 = v128.load(s + q), s1 = v128.load(s + q, 16);
      const b0 = v128.load(beta + q), b1 = v128.load(beta + q, 16);
      let z0 = v128.load(sumDz + q), z1 = v128.load(sumDz + q, 16);
      let e0 = v128.load(sumDzD + q), e1 = v128.load(sumDzD + q, 16);
      let p = xb + q;
      let gp = gb + q;
      for (let r = 0; r < n; r += step) {
        let h0 = v128.load(gp), h1 = v128.load(gp, 16);
        if (pool) {
          h0 = f32x4.mul(h0, half);
          h1 = f32x4.mul(h1, half);
        }
        for (let t = 0; t < step; t++) {
          const d0 = f32x4.sub(v128.load(p), m0);
          const d1 = f32x4.sub(v128.load(p, 16), m1);
          const g0 = laneSelect(h0, f32x4.mul(h0, a4), f32x4.gt(f32x4.add(f32x4.mul(d0, s0), b0), zero));
          const g1 = laneSelect(h1, f32x4.mul(h1, a4), f32x4.gt(f32x4.add(f32x4.mul(d1, s1), b1), zero));
          z0 = f32x4.add(z0, g0);
          z1 = f32x4.add(z1, g1);
          e0 = f32x4.add(e0, f32x4.mul(g0, d0));
          e1 = f32x4.add(e1, f32x4.mul(g1, d1));
          p += rowBytes;
        }
        gp += rowBytes;
      }
      v128.store(sumDz + q, z0);
      v128.store(sumDz + q, z1, 16);
      v128.store(sumDzD + q, e0);
      v128.store(sumDzD + q, e1, 16);
    }
    for (; i + 4 <= c; i += 4) {
      const q = <usize>i * 4;
      const m0 = v128.load(mean + q), s0 = v128.load(s + q), b0 = v128.load(beta + q);
      let z0 = v128.load(sumDz + q), e0 = v128.load(sumDzD + q);
      let p = xb + q;
      let gp = gb + q;
      for (let r = 0; r < n; r += step) {
        let h0 = v128.load(gp);
        if (pool) h0 = f32x4.mul(h0, half);
        for (let t = 0; t < step; t++) {
          const d0 = f32x4.sub(v128.load(p), m0);
          const g0 = laneSelect(h0, f32x4.mul(h0, a4), f32x4.gt(f32x4.add(f32x4.mul(d0, s0), b0), zero));
          z0 = f32x4.add(z0, g0);
          e0 = f32x4.add(e0, f32x4.mul(g0, d0));
          p += rowBytes;
        }
        gp += rowBytes;
      }
      v128.store(sumDz + q, z0);
      v128.store(sumDzD + q, e0);
    }
    for (; i < c; i++) {
      const q = <usize>i * 4;
      const m0 = load<f32>(mean + q), s0 = load<f32>(s + q), b0 = load<f32>(beta + q);
      let z0 = load<f32>(sumDz + q), e0 = load<f32>(sumDzD + q);
      let p = xb + q;
      for (let r = 0; r < n; r++) {
        const d: f32 = load<f32>(p) - m0;
        const v: f32 = d * s0 + b0;
        const g = bnLeakyDz(load<f32>(gb + q + <usize>(r / step) * rowBytes), v, alpha, pool);
        z0 += g;
        e0 += g * d;
        p += rowBytes;
      }
      store<f32>(sumDz + q, z0);
      store<f32>(sumDzD + q, e0);
    }
  }
}

// dz·s + d·k + cc for one vector of a row: dz as above from the row's x and dy (h).
// @ts-ignore: decorator
@inline
function bnLeakyDx(xv: v128, h: v128, m: v128, s: v128, b: v128, k: v128, cc: v128, a4: v128): v128 {
  const d = f32x4.sub(xv, m);
  const v = f32x4.add(f32x4.mul(d, s), b);
  const g = laneSelect(h, f32x4.mul(h, a4), f32x4.gt(v, f32x4.splat(0)));
  return f32x4.add(f32x4.add(f32x4.mul(g, s), f32x4.mul(d, k)), cc);
}

// dx = (dz·s[ch] + d·k[ch]) + cc[ch] with dz as above (never written out; `pool` as above).
export function bnLeakyGradInput(
  dy: usize, x: usize, mean: usize, s: usize, beta: usize, k: usize, cc: usize, dx: usize, rows: i32, c: i32, alpha: f32, pool: i32,
): void {
  const a4 = f32x4.splat(alpha);
  const half = f32x4.splat(0.5);
  const rowBytes = <usize>c * 4;
  const block = bnBlockRows(c);
  const out = dx - x;
  // with pooling, rows come in pairs that share one row of dy
  const step = pool ? 2 : 1;
  for (let j0 = 0; j0 < rows; j0 += block) {
    const n = min(block, rows - j0);
    const xb = x + <usize>j0 * rowBytes;
    const gb = dy + <usize>(j0 / step) * rowBytes;
    let i = 0;
    for (; i + 8 <= c; i += 8) {
      const q = <usize>i * 4;
      const m0 = v128.load(mean + q), s0 = v128.load(s + q), b0 = v128.load(beta + q), k0 = v128.load(k + q), c0 = v128.load(cc + q);
      const m1 = v128.load(mean + q, 16), s1 = v128.load(s + q, 16), b1 = v128.load(beta + q, 16), k1 = v128.load(k + q, 16), c1 = v128.load(cc + q, 16);
      let p = xb + q;
      let gp = gb + q;
      for (let r = 0; r < n; r += step) {
        let h0 = v128.load(gp), h1 = v128.load(gp, 16);
        if (pool) {
          h0 = f32x4.mul(h0, half);
          h1 = f32x4.mul(h1, half);
          v128.store(p + out + rowBytes, bnLeakyDx(v128.load(p + rowBytes), h0, m0, s0, b0, k0, c0, a4));
          v128.store(p + out + rowBytes, bnLeakyDx(v128.load(p + rowBytes, 16), h1, m1, s1, b1, k1, c1, a4), 16);
        }
        v128.store(p + out, bnLeakyDx(v128.load(p), h0, m0, s0, b0, k0, c0, a4));
        v128.store(p + out, bnLeakyDx(v128.load(p, 16), h1, m1, s1, b1, k1, c1, a4), 16);
        p += <usize>step * rowBytes;
        gp += rowBytes;
      }
    }
    for (; i + 4 <= c; i += 4) {
      const q = <usize>i * 4;
      const m0 = v128.load(mean + q), s0 = v128.load(s + q), b0 = v128.load(beta + q), k0 = v128.load(k + q), c0 = v128.load(cc + q);
      let p = xb + q;
      let gp = gb + q;
      for (let r = 0; r < n; r += step) {
        let h0 = v128.load(gp);
        if (pool) {
          h0 = f32x4.mul(h0, half);
          v128.store(p + out + rowBytes, bnLeakyDx(v128.load(p + rowBytes), h0, m0, s0, b0, k0, c0, a4));
        }
        v128.store(p + out, bnLeakyDx(v128.load(p), h0, m0, s0, b0, k0, c0, a4));
        p += <usize>step * rowBytes;
        gp += rowBytes;
      }
    }
    for (; i < c; i++) {
      const q = <usize>i * 4;
      const m0 = load<f32>(mean + q), s0 = load<f32>(s + q), b0 = load<f32>(beta + q);
      const k0 = load<f32>(k + q), c0 = load<f32>(cc + q);
      let p = xb + q;
      for (let r = 0; r < n; r++) {
        const d: f32 = load<f32>(p) - m0;
        const v: f32 = d * s0 + b0;
        const g = bnLeakyDz(load<f32>(gb + q + <usize>(r / step) * rowBytes), v, alpha, pool);
        store<f32>(p + out, (g * s0 + d * k0) + c0);
        p += rowBytes;
      }
    }
  }
}
// Per channel, from the sums above (sumDz = dβ, sumDzD = Σ dz·d), r = 1/σ,
// s = γ·r and m = −1/N: dγ = sumDzD·r, k = (s·(r·r))·(sumDzD·m), cc = s·(sumDz·m),
// the coefficients of dx = dz·s + d·k + cc, each product rounded as tfjs's
// Multiply and Square round them (so the same bits as those kernels).
export function bnGradCoefficients(sumDz: usize, sumDzD: usize, r: usize, s: usize, dGamma: usize, k: usize, cc: usize, c: i32, m: f32): void {
  for (let i = 0; i < c; i++) {
    const q = <usize>i * 4;
    const rv = load<f32>(r + q);
    const sv = load<f32>(s + q);
    const dd = load<f32>(sumDzD + q);
    store<f32>(dGamma + q, dd * rv);
    const s2: f32 = sv * (rv * rv);
    const dm: f32 = dd * m;
    store<f32>(k + q, s2 * dm);
    const bm: f32 = load<f32>(sumDz + q) * m;
    store<f32>(cc + q, sv * bm);
  }
}
// [convleft] end of batch normalisation + LeakyReLU from x

// [txattn] Attention, third round: the forward's softmax in fewer
// operations. The probabilities are still kept transposed, Pᵀ [t × tp] per
// (sample, head), row j holding P[0..t][j] (lanes past t exactly 0), so each
// softmax runs down columns with four queries in a vector's lanes; the
// gradient is [xfast]'s. What changed: the scores' product keeps each
// column's running maximum in its epilogue (no max pass), and the softmax's
// exponential is 2^u with u = s·(scale·log2 e) − max·(scale·log2 e) in one
// multiply-add and Cephes exp2f's polynomial (13 vector operations where e^x
// took 20).

// 2^u for u ≤ 0 (a little above 0 is fine too), u clamped to −125 (so 2^n
// and the result stay normal floats: 2^−125 is nothing a softmax can tell
// from 0). n = round(u) by adding 1.5·2^23 + 127, whose low bits are then
// n + 127: shifted into the exponent field they are 2^n. 2^r, |r| ≤ 1/2,
// by Cephes exp2f's polynomial (relative error 1.7e-7). NaN propagates.
// @ts-ignore: decorator
@inline
function exp2NonPositive4(u: v128): v128 {
  const uc = f32x4.pmax(u, f32x4.splat(-125));
  const fn = f32x4.add(uc, f32x4.splat(12583039.0));
  const r = f32x4.sub(uc, f32x4.sub(fn, f32x4.splat(12583039.0)));
  let p = f32x4.splat(1.535336188319500e-4);
  p = madd(p, r, f32x4.splat(1.339887440266574e-3));
  p = madd(p, r, f32x4.splat(9.618437357674640e-3));
  p = madd(p, r, f32x4.splat(5.550332471162809e-2));
  p = madd(p, r, f32x4.splat(2.402264791363012e-1));
  p = madd(p, r, f32x4.splat(6.931472028550421e-1));
  p = madd(p, r, f32x4.splat(1));
  return f32x4.mul(p, i32x4.shl(fn, 23));
}

// One 4×8 tile of the scores Sᵀ = K·Qᵀ (K packed by packA: the tile's 4
// rows' values at a depth contiguous, aStep bytes to the next depth; Qᵀ a
// packed panel of depth kc), stored, and its columns' maxima folded into mx
// (8 floats; 4 when nr is 4: C's rows are padded to whole vectors only).
// Rows ≥ mr (packA's zeros) are neither stored nor folded.
// @ts-ignore: decorator
@inline
function scoresTile(pa: usize, aStep: usize, bp: usize, kc: i32, c: usize, ldc: usize, mr: i32, nr: i32, mx: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let pb = bp;
  const end = bp + <usize>(kc * NR) * 4;
  while (pb < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let x = v128.load32_splat(pa);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(pa, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(pa, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(pa, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    pa += aStep;
    pb += NR * 4;
  }
  if (mr == MR) {
    v128.store(mx, f32x4.pmax(v128.load(mx), f32x4.pmax(f32x4.pmax(c00, c10), f32x4.pmax(c20, c30))));
    if (nr > 4) v128.store(mx, f32x4.pmax(v128.load(mx, 16), f32x4.pmax(f32x4.pmax(c01, c11), f32x4.pmax(c21, c31))), 16);
  } else {
    // the last rows: fold row 0 in place of those past t
    const r1 = mr > 1 ? c10 : c00, r2 = mr > 2 ? c20 : c00;
    v128.store(mx, f32x4.pmax(v128.load(mx), f32x4.pmax(f32x4.pmax(c00, r1), r2)));
    if (nr > 4) {
      const s1 = mr > 1 ? c11 : c01, s2 = mr > 2 ? c21 : c01;
      v128.store(mx, f32x4.pmax(v128.load(mx, 16), f32x4.pmax(f32x4.pmax(c01, s1), s2)), 16);
    }
  }
  tileRowStore(c, c00, c01, nr);
  if (mr > 1) tileRowStore(c + ldc, c10, c11, nr);
  if (mr > 2) tileRowStore(c + 2 * ldc, c20, c21, nr);
  if (mr > 3) tileRowStore(c + 3 * ldc, c30, c31, nr);
}

// @ts-ignore: decorator
@inline
function tileRowStore(c: usize, v0: v128, v1: v128, nr: i32): void {
  v128.store(c, v0);
  if (nr > 4) v128.store(c, v1, 16);
}

// Sᵀ [t × tp] (rows tp floats apart) = K·Qᵀ, K packed by packA (tiles of
// 4 rows, tileBytes apart, depth dh here at aStep bytes per depth) and Qᵀ
// packed (t columns, zero past t; panels of panelDepth), and the maxima of
// its columns into mx [tp] (which holds −∞ before).
function scoresWithMax(ka: usize, tileBytes: usize, aStep: usize, bp: usize, dh: i32, c: usize, t: i32, tp: i32, mx: usize, panelDepth: i32): void {
  const ldc = <usize>tp * 4;
  for (let j0 = 0; j0 < tp; j0 += NR) {
    const nr = tp - j0 < NR ? tp - j0 : NR;
    const panel = bp + <usize>(j0 * panelDepth) * 4;
    const col = <usize>j0 * 4;
    for (let i = 0; i < t; i += MR) {
      const mr = t - i < MR ? t - i : MR;
      scoresTile(ka + <usize>(i >> 2) * tileBytes, aStep, panel, dh, c + <usize>i * ldc + col, ldc, mr, nr, mx + col);
    }
  }
}

// Pᵀ in place from the scores Sᵀ [t × tp] and their columns' maxima mx [tp]:
// exp(scale·(s − max)) / Σ, four columns a vector, four groups at a time
// (four independent exponentials per row keep the FMA pipes busy; see GELU),
// then the rest one group at a time. The lanes past t of the last group become 0.
function softmaxColumnsFrom(p: usize, mx: usize, t: i32, tp: i32, scale: f32): void {
  const rowBytes = <usize>tp * 4;
  const groups = tp >> 2;
  const c = scale * <f32>1.4426950408889634;
  const c4 = f32x4.splat(c);
  const nc4 = f32x4.splat(-c);
  let g = 0;
  for (; g + 4 <= groups; g += 4) {
    const o = <usize>g * 16;
    const n0 = f32x4.mul(v128.load(mx + o), nc4), n1 = f32x4.mul(v128.load(mx + o, 16), nc4);
    const n2 = f32x4.mul(v128.load(mx + o, 32), nc4), n3 = f32x4.mul(v128.load(mx + o, 48), nc4);
    let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    let q = p + o;
    for (let j = 0; j < t; j++) {
      const e0 = exp2NonPositive4(madd(v128.load(q), c4, n0));
      const e1 = exp2NonPositive4(madd(v128.load(q, 16), c4, n1));
      const e2 = exp2NonPositive4(madd(v128.load(q, 32), c4, n2));
      const e3 = exp2NonPositive4(madd(v128.load(q, 48), c4, n3));
      v128.store(q, e0);
      v128.store(q, e1, 16);
      v128.store(q, e2, 32);
      v128.store(q, e3, 48);
      s0 = f32x4.add(s0, e0);
      s1 = f32x4.add(s1, e1);
      s2 = f32x4.add(s2, e2);
      s3 = f32x4.add(s3, e3);
      q += rowBytes;
    }
    const one = f32x4.splat(1);
    const r0 = f32x4.div(one, s0), r1 = f32x4.div(one, s1), r2 = f32x4.div(one, s2);
    const r3 = v128.and(f32x4.div(one, s3), lanesBelow(t - 4 * g - 12));
    q = p + o;
    for (let j = 0; j < t; j++) {
      v128.store(q, f32x4.mul(v128.load(q), r0));
      v128.store(q, f32x4.mul(v128.load(q, 16), r1), 16);
      v128.store(q, f32x4.mul(v128.load(q, 32), r2), 32);
      v128.store(q, f32x4.mul(v128.load(q, 48), r3), 48);
      q += rowBytes;
    }
  }
  for (; g < groups; g++) {
    const o = <usize>g * 16;
    const n0 = f32x4.mul(v128.load(mx + o), nc4);
    let s0 = f32x4.splat(0);
    let q = p + o;
    for (let j = 0; j < t; j++) {
      const e0 = exp2NonPositive4(madd(v128.load(q), c4, n0));
      v128.store(q, e0);
      s0 = f32x4.add(s0, e0);
      q += rowBytes;
    }
    const r0 = v128.and(f32x4.div(f32x4.splat(1), s0), lanesBelow(t - 4 * g));
    q = p + o;
    for (let j = 0; j < t; j++) {
      v128.store(q, f32x4.mul(v128.load(q), r0));
      q += rowBytes;
    }
  }
}

// Multi-head self-attention on qkv [b·t, 3·d] (Q, K, V side by side, head h
// at columns h·dh of each; d = heads·dh) into out [b·t, d] (heads merged in
// place) and probs [b·heads, t, tp] (Pᵀ, see above). scratch:
// attentionScratchFloats(t, dh).
export function attention(
  qkv: usize, out: usize, probs: usize, b: i32, t: i32, heads: i32, dh: i32, scale: f32, scratch: usize,
): void {
  const d = heads * dh;
  const ld = 3 * d;
  const tp = (t + 3) & ~3;
  // heads start on panel boundaries: V is packed once per sample for all heads
  const whole = dh % NR == 0;
  const qT = alignScratch(scratch);
  const vp = qT + <usize>(panelsOf(t) * d) * 4;
  const ka = vp + <usize>(panelsOf(d) * t) * 4;
  const mx = ka + <usize>(rowTiles(t) * d) * 4;
  for (let bi = 0; bi < b; bi++) {
    const rows = qkv + <usize>(bi * t) * <usize>ld * 4;
    const orows = out + <usize>(bi * t) * <usize>d * 4;
    // Qᵀ of every head (depths h·dh.. of each panel), V of every head (panels h·dh/8..), the sample's rows read once in order
    packB(rows, qT, t, ld, 0, d, true);
    packA(rows + <usize>d * 4, ka, t, ld, 0, d, false);
    if (whole) packB(rows + <usize>(2 * d) * 4, vp, d, ld, 0, t, false);
    for (let h = 0; h < heads; h++) {
      const v = rows + <usize>(2 * d + h * dh) * 4;
      const pT = probs + <usize>((bi * heads + h) * t) * <usize>tp * 4;
      // Sᵀ = K_h·Q_hᵀ [t × tp] and its columns' maxima, then Pᵀ in place
      for (let g = 0; g < tp; g += 4) v128.store(mx + <usize>g * 4, f32x4.splat(-Infinity));
      scoresWithMax(ka + <usize>(h * dh * MR) * 4, <usize>(d * MR) * 4, MR * 4, qT + <usize>(h * dh * NR) * 4, dh, pT, t, tp, mx, d);
      softmaxColumnsFrom(pT, mx, t, tp, scale);
      // out_h = P·V_h: Pᵀ as transposed A
      let vh = vp + <usize>(h * dh * t) * 4;
      if (!whole) {
        packB(v, vp, dh, ld, 0, t, false);
        vh = vp;
      }
      smallProduct(pT, tp, vh, t, orows + <usize>(h * dh) * 4, d, t, dh, true);
    }
  }
}

// [txattn] end of attention, third round


// [attn2] dSᵀ = Pᵀ ⊙ (dPᵀ − colsum(Pᵀ ⊙ dPᵀ))·scale in place of dPᵀ [t × tp]
// (Pᵀ laid out alike), four column groups (16 columns) at a time: their
// sums stay in registers (four independent chains down the rows, each
// column's terms added in row order), then the same rows are formed while
// still in L1; a last block of fewer groups the same way one group at a time.
function scoreGradColumns(pT: usize, ds: usize, t: i32, tp: i32, scale: f32): void {
  const rowBytes = <usize>tp * 4;
  const groups = tp >> 2;
  const sc4 = f32x4.splat(scale);
  let g = 0;
  for (; g + 4 <= groups; g += 4) {
    const o = <usize>g * 16;
    let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    let p = pT + o, q = ds + o;
    for (let j = 0; j < t; j++) {
      s0 = madd(v128.load(p), v128.load(q), s0);
      s1 = madd(v128.load(p, 16), v128.load(q, 16), s1);
      s2 = madd(v128.load(p, 32), v128.load(q, 32), s2);
      s3 = madd(v128.load(p, 48), v128.load(q, 48), s3);
      p += rowBytes;
      q += rowBytes;
    }
    // Pᵀ is 0 past t, and the mask keeps garbage in dPᵀ's padding out
    const m3 = groupMask(g + 3, t);
    p = pT + o;
    q = ds + o;
    for (let j = 0; j < t; j++) {
      v128.store(q, f32x4.mul(f32x4.mul(v128.load(p), f32x4.sub(v128.load(q), s0)), sc4));
      v128.store(q, f32x4.mul(f32x4.mul(v128.load(p, 16), f32x4.sub(v128.load(q, 16), s1)), sc4), 16);
      v128.store(q, f32x4.mul(f32x4.mul(v128.load(p, 32), f32x4.sub(v128.load(q, 32), s2)), sc4), 32);
      v128.store(q, f32x4.mul(f32x4.mul(v128.load(p, 48), v128.and(f32x4.sub(v128.load(q, 48), s3), m3)), sc4), 48);
      p += rowBytes;
      q += rowBytes;
    }
  }
  for (; g < groups; g++) {
    const o = <usize>g * 16;
    let s0 = f32x4.splat(0);
    let p = pT + o, q = ds + o;
    for (let j = 0; j < t; j++) {
      s0 = madd(v128.load(p), v128.load(q), s0);
      p += rowBytes;
      q += rowBytes;
    }
    const m0 = groupMask(g, t);
    p = pT + o;
    q = ds + o;
    for (let j = 0; j < t; j++) {
      v128.store(q, f32x4.mul(f32x4.mul(v128.load(p), v128.and(f32x4.sub(v128.load(q), s0), m0)), sc4));
      p += rowBytes;
      q += rowBytes;
    }
  }
}
