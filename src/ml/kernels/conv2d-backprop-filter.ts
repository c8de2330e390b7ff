/**
 * Conv2DBackpropFilter for wasm, which tfjs-backend-wasm 4.22 lacks; without it
 * no convolution (and so no Conv-1D layer: tfjs's conv1d is a conv2d of
 * height 1) can be trained on wasm.
 *
 * dW[a,b,ci,co] = Σ_{n,oy,ox} x[n, oy·sh + a·dh − top, ox·sw + b·dw − left, ci] · dy[n,oy,ox,co]
 *
 * computed as one GEMM, dW[R × Cout] = Pᵀ[R × NP] · dy[NP × Cout] with
 * R = fh·fw·Cin and NP = N·outH·outW, where Pᵀ (im2col, transposed) is written
 * straight into wasm memory as the GEMM's (./simd.ts) left operand.
 *
 * A Conv-1D (height 1, no dilation) needs no im2col: see filterGrad1d.
 */
import { matMulPlain } from './batch-matmul.js';
import type { BackendWasm, KernelArgs, TensorInfo } from './common.js';
import { dispose, f32, run } from './common.js';
import { filterGradDirect, filterGradFir, fir2Pays, type Fir2Dims } from './conv1d-fir2.js';
import { reduceInto } from './reduce.js';
import { simdKernels } from './simd.js';
import { conv2DInfo } from './conv-info.js';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | 'explicit' | number[][];
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
  dilations?: number | [number, number];
}

/** Keeps one im2col buffer below this many floats (64 MB) by splitting the batch. */
const MAX_PATCH_FLOATS = 16 * 1024 * 1024;

export function conv2DBackpropFilter(args: KernelArgs<Attrs>): TensorInfo {
  const { backend, attrs } = args;
  let x = args.inputs.x as TensorInfo;
  let dy = args.inputs.dy as TensorInfo;
  const owned: TensorInfo[] = [];
  if (attrs.dataFormat === 'NCHW') {
    x = run('Transpose', backend, { x }, { perm: [0, 2, 3, 1] });
    dy = run('Transpose', backend, { x: dy }, { perm: [0, 2, 3, 1] });
    owned.push(x, dy);
  }
  if (x.dtype !== 'float32') {
    x = run('Cast', backend, { x }, { dtype: 'float32' });
    owned.push(x);
  }
  if (dy.dtype !== 'float32') {
    dy = run('Cast', backend, { x: dy }, { dtype: 'float32' });
    owned.push(dy);
  }
  const [fh, fw, cin, cout] = attrs.filterShape;
  const info = conv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode);
  const [n, h, w] = x.shape as [number, number, number, number];
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== cout || x.shape[3] !== cin) {
    throw new Error(
      `Conv2DBackpropFilter: dy shape ${dy.shape} does not match x ${x.shape}, filter ${attrs.filterShape}`,
    );
  }

  if (fh === 1 && h === 1 && oh === 1 && top === 0 && dw === 1 && n * ow * cin * cout > 0) {
    const result = filterGrad1d(backend, x, dy, { n, w, cin, cout, fw, sw, ow, left });
    dispose(backend, ...owned);
    return result;
  }

  const rows = fh * fw * cin;
  const perSample = oh * ow;
  const chunk = Math.max(1, Math.min(n, Math.floor(MAX_PATCH_FLOATS / Math.max(1, rows * perSample))));
  const patches = (n0: number, nc: number): TensorInfo => {
    const np = nc * perSample;
    const pt = backend.makeOutput([rows, np], 'float32');
    // Views fetched after the allocation: it may have grown (and detached) the heap.
    const dst = f32(backend, pt);
    const src = f32(backend, x);
    const step = sw * cin;
    for (let a = 0; a < fh; a++) {
      for (let b = 0; b < fw; b++) {
        // The ox whose input column ix = ox·sw + b·dw − left lies inside [0, w).
        const off = b * dw - left;
        const oxLo = Math.min(ow, Math.max(0, Math.ceil(-off / sw)));
        const oxHi = Math.max(oxLo, Math.min(ow, Math.floor((w - 1 - off) / sw) + 1));
        for (let ci = 0; ci < cin; ci++) {
          const rowBase = ((a * fw + b) * cin + ci) * np;
          for (let s = 0; s < nc; s++) {
            const xs = (n0 + s) * h * w * cin;
            for (let oy = 0; oy < oh; oy++) {
              const d0 = rowBase + (s * oh + oy) * ow;
              const iy = oy * sh + a * dh - top;
              if (iy < 0 || iy >= h) {
                dst.fill(0, d0, d0 + ow);
                continue;
              }
              if (oxLo > 0) dst.fill(0, d0, d0 + oxLo);
              if (oxHi < ow) dst.fill(0, d0 + oxHi, d0 + ow);
              let si = xs + (iy * w + oxLo * sw + off) * cin + ci;
              for (let ox = oxLo; ox < oxHi; ox++, si += step) dst[d0 + ox] = src[si]!;
            }
          }
        }
      }
    }
    return pt;
  };

  let result: TensorInfo;
  if (rows * cout === 0 || n * perSample === 0) {
    result = backend.makeOutput([fh, fw, cin, cout], 'float32');
    f32(backend, result).fill(0);
  } else if (chunk >= n) {
    const pt = patches(0, n);
    result = matMulPlain(backend, pt, dy, rows, n * perSample, cout);
    dispose(backend, pt);
    result.shape = [fh, fw, cin, cout];
  } else {
    result = backend.makeOutput([fh, fw, cin, cout], 'float32');
    f32(backend, result).fill(0);
    for (let n0 = 0; n0 < n; n0 += chunk) {
      const nc = Math.min(chunk, n - n0);
      const pt = patches(n0, nc);
      const dyc = run('Slice', backend, { x: dy }, { begin: [n0, 0, 0, 0], size: [nc, oh, ow, cout] });
      const part = matMulPlain(backend, pt, dyc, rows, nc * perSample, cout);
      dispose(backend, pt, dyc);
      const acc = f32(backend, result);
      const p = f32(backend, part);
      for (let i = 0; i < acc.length; i++) acc[i]! += p[i]!;
      dispose(backend, part);
    }
  }
  dispose(backend, ...owned);
  return result;
}

export interface Conv1dDims {
  n: number;
  w: number;
  cin: number;
  cout: number;
  fw: number;
  sw: number;
  ow: number;
  left: number;
}

/**
 * The filter gradient of a Conv-1D without im2col (and with `db` [cout] the
 * bias gradient Σ dy over samples and positions, the bits of tfjs's Sum). With each sample's input
 * padded (xp), the window of output position ox is the fw·cin floats from
 * xp[ox·sw·cin]: a matrix of ow rows whose rows overlap (row distance sw·cin).
 * So dW[fw·cin × cout] = Σ_n windows(xp_n)ᵀ · dy_n, summed over a block of
 * samples in registers (filterGradDirect), reading the padded input in place;
 * stride 1 with enough channels as a fast FIR (filterGradFir).
 */
export function filterGrad1d(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, d: Conv1dDims, db?: TensorInfo): TensorInfo {
  const fir: Fir2Dims = { n: d.n, w: d.w, cin: d.cin, cout: d.cout, fw: d.fw, left: d.left, ow: d.ow };
  // the fast FIR, 2- or 4-parallel (filterGradLevels)
  if (d.sw === 1 && fir2Pays(fir)) return filterGradFir(backend, x, dy, fir, db);
  // padded width: the last window must fit; zeros past the input on the right
  const wp = Math.max(d.left + d.w, (d.ow - 1) * d.sw + d.fw);
  const right = wp - d.left - d.w;
  const simd = simdKernels(backend);
  if (d.cout === 1) {
    // one output channel: axpys of the windows (the GEMM's 8-wide tiles would waste 7/8); the bias gradient its own pass
    if (db) reduceInto(simd, dy, db, 1, d.n * d.ow, d.cout);
    const xp = backend.makeOutput([d.n, wp, d.cin], 'float32');
    // a window may start before the input (left > 0 pads) but never after its end
    simd.exports.padRows(simd.ptr(x), simd.ptr(xp), d.n, d.w, d.cin, d.left, right);
    const dw = backend.makeOutput([1, d.fw, d.cin, 1], 'float32');
    simd.exports.conv1dOneOutFilterGrad(simd.ptr(xp), simd.ptr(dy), simd.ptr(dw), d.n, d.ow, d.sw * d.cin, d.fw * d.cin, wp * d.cin);
    dispose(backend, xp);
    return dw;
  }
  // 3 floats past the rows: filterGradDirect's GEMM may read them
  const xp = backend.makeOutput([d.n * wp * d.cin + 3], 'float32');
  simd.exports.padRows(simd.ptr(x), simd.ptr(xp), d.n, d.w, d.cin, d.left, right);
  const result = filterGradDirect(backend, xp, wp, dy, { ...fir, sw: d.sw }, db);
  dispose(backend, xp);
  return result;
}
