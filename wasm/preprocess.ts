// specflow's SIMD kernels for preprocessing rows of spectra, in AssemblyScript.
//
// A module of its own, with its own memory (unlike kernels.ts, which works in
// tfjs-wasm's heap): src/data/preprocess/simd.ts lays the rows, weights and
// axis out in it and calls these functions on byte offsets. Nothing here
// allocates. Built by `npm run build:wasm` into
// dist/data/preprocess/specflow-preprocess.wasm.
//
// Every function computes the same bits as the JavaScript it replaces
// (smooth.ts, normalize.ts): each output is the same float64 operations in the
// same order. SIMD runs ACROSS outputs (two per f64x2 lane pair), never along
// one output's sum, and multiplies and adds stay separate (no fused
// multiply-add: it rounds once where JavaScript rounds twice).

/** The first byte the JavaScript side may use (past this module's static data). */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

// ---------------------------------------------------------------------------
// Savitzky–Golay: out[0..d) from y[0..d) with the weight table `w` (window ×
// window, row-major: row t weighs the output at position t of a full window,
// so the centre row `half` is the interior's convolution and the others the
// edges'), as smooth.ts's savitzkyGolayInto. `hs` is 0 when smoothing, else
// the d divisors (mean spacing ^ derivative) each output is divided by.

export function savgol(y: usize, out: usize, d: i32, w: usize, window: i32, hs: usize): void {
  const half = window >> 1;
  const tail = y + (<usize>(d - window) << 3);
  for (let i = 0; i < half; i++) {
    const a = half - i - 1;
    const b = d - half + i;
    const wg1 = w + (<usize>(a * window) << 3);
    const wg2 = w + (<usize>((half + i + 1) * window) << 3);
    let d1: f64 = 0;
    let d2: f64 = 0;
    for (let l = 0; l < window; l++) {
      const o = <usize>l << 3;
      d1 += load<f64>(wg1 + o) * load<f64>(y + o);
      d2 += load<f64>(wg2 + o) * load<f64>(tail + o);
    }
    store<f64>(out + (<usize>a << 3), hs ? d1 / load<f64>(hs + (<usize>a << 3)) : d1);
    store<f64>(out + (<usize>b << 3), hs ? d2 / load<f64>(hs + (<usize>b << 3)) : d2);
  }
  const c = w + (<usize>(half * window) << 3);
  const m = d - window + 1; // interior outputs, at half .. half + m − 1
  let i = 0;
  // eight outputs a step: four f64x2 accumulators, one weight splat per four products pairs
  for (; i + 8 <= m; i += 8) {
    let s0 = f64x2.splat(0);
    let s1 = f64x2.splat(0);
    let s2 = f64x2.splat(0);
    let s3 = f64x2.splat(0);
    let p = y + (<usize>i << 3);
    for (let l = 0; l < window; l++) {
      const wv = v128.load64_splat(c + (<usize>l << 3));
      s0 = f64x2.add(s0, f64x2.mul(wv, v128.load(p)));
      s1 = f64x2.add(s1, f64x2.mul(wv, v128.load(p, 16)));
      s2 = f64x2.add(s2, f64x2.mul(wv, v128.load(p, 32)));
      s3 = f64x2.add(s3, f64x2.mul(wv, v128.load(p, 48)));
      p += 8;
    }
    const at = <usize>(half + i) << 3;
    if (hs) {
      const h = hs + at;
      s0 = f64x2.div(s0, v128.load(h));
      s1 = f64x2.div(s1, v128.load(h, 16));
      s2 = f64x2.div(s2, v128.load(h, 32));
      s3 = f64x2.div(s3, v128.load(h, 48));
    }
    const o = out + at;
    v128.store(o, s0);
    v128.store(o, s1, 16);
    v128.store(o, s2, 32);
    v128.store(o, s3, 48);
  }
  for (; i + 2 <= m; i += 2) {
    let s = f64x2.splat(0);
    const p = y + (<usize>i << 3);
    for (let l = 0; l < window; l++) s = f64x2.add(s, f64x2.mul(v128.load64_splat(c + (<usize>l << 3)), v128.load(p + (<usize>l << 3))));
    const at = <usize>(half + i) << 3;
    if (hs) s = f64x2.div(s, v128.load(hs + at));
    v128.store(out + at, s);
  }
  for (; i < m; i++) {
    let s: f64 = 0;
    const p = y + (<usize>i << 3);
    for (let l = 0; l < window; l++) s += load<f64>(c + (<usize>l << 3)) * load<f64>(p + (<usize>l << 3));
    const at = <usize>(half + i) << 3;
    store<f64>(out + at, hs ? s / load<f64>(hs + at) : s);
  }
}

// ---------------------------------------------------------------------------
// Area: the trapezoidal integral of y over x, summed in index order as
// normalize.ts's trapezoidOf (the terms two at a time, the running sum one
// term at a time, so the sum rounds exactly as there), and the division of a
// row by a scale.

export function trapezoid(x: usize, y: usize, d: i32): f64 {
  let s: f64 = 0;
  let i = 1;
  const half = f64x2.splat(0.5); // ·0.5 rounds exactly as /2 (both are the exact half, rounded once)
  for (; i + 2 <= d; i += 2) {
    const o = <usize>i << 3;
    // terms i and i+1: ((y[k] + y[k−1]) / 2) · (x[k] − x[k−1])
    const t = f64x2.mul(f64x2.mul(f64x2.add(v128.load(y + o), v128.load(y + o - 8)), half), f64x2.sub(v128.load(x + o), v128.load(x + o - 8)));
    s += f64x2.extract_lane(t, 0);
    s += f64x2.extract_lane(t, 1);
  }
  for (; i < d; i++) {
    const o = <usize>i << 3;
    s += ((load<f64>(y + o) + load<f64>(y + o - 8)) / 2) * (load<f64>(x + o) - load<f64>(x + o - 8));
  }
  return s;
}

export function divide(y: usize, out: usize, d: i32, scale: f64): void {
  const v = f64x2.splat(scale);
  let i = 0;
  for (; i + 2 <= d; i += 2) {
    const o = <usize>i << 3;
    v128.store(out + o, f64x2.div(v128.load(y + o), v));
  }
  for (; i < d; i++) {
    const o = <usize>i << 3;
    store<f64>(out + o, load<f64>(y + o) / scale);
  }
}

// ---------------------------------------------------------------------------
// float64 → float32, rounding to nearest even as JavaScript's Float32Array does
// (IEEE 754 conversion), four values a step.

export function toFloat32(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i;
    const lo = f32x4.demote_f64x2_zero(v128.load(src + (o << 3)));
    const hi = f32x4.demote_f64x2_zero(v128.load(src + (o << 3), 16));
    v128.store(dst + (o << 2), i8x16.shuffle(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), <f32>load<f64>(src + (<usize>i << 3)));
}
