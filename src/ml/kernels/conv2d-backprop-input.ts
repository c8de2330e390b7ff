/**
 * Conv2DBackpropInput (the input gradient of every convolution, and the
 * forward of conv2dTranspose) for wasm. The original is a scalar direct loop:
 * for the Conv-1D AE's middle layers it measured 46–60 ms per call against
 * 5–7 ms for the forward convolution. Here it is one GEMM (specflow's, see
 * ./simd.ts) and a col2im scatter:
 *
 *   cols[NP × R] = dy[NP × Cout] · Wᵀ[Cout × R]      (R = fh·fw·Cin)
 *   dx[n, oy·sh + a·dh − top, ox·sw + b·dw − left, ci] += cols[(n,oy,ox), (a,b,ci)]
 */
import { matMulPlain } from './batch-matmul.js';
import type { KernelArgs, TensorInfo } from './common.js';
import { dispose, f32, reshape, run } from './common.js';
import { conv2DInfo } from './conv-info.js';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | 'explicit' | number[][];
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
  dilations?: number | [number, number];
}

/** Keeps the cols buffer below this many floats (64 MB) by splitting the batch. */
const MAX_COLS_FLOATS = 16 * 1024 * 1024;

export function conv2DBackpropInput(args: KernelArgs<Attrs>): TensorInfo {
  const { backend, attrs } = args;
  const owned: TensorInfo[] = [];
  let dy = args.inputs.dy as TensorInfo;
  let filter = args.inputs.filter as TensorInfo;
  const nchw = attrs.dataFormat === 'NCHW';
  const inShape = nchw
    ? ([attrs.inputShape[0], attrs.inputShape[2], attrs.inputShape[3], attrs.inputShape[1]] as [number, number, number, number])
    : attrs.inputShape;
  if (nchw) {
    dy = run('Transpose', backend, { x: dy }, { perm: [0, 2, 3, 1] });
    owned.push(dy);
  }
  if (dy.dtype !== 'float32') {
    dy = run('Cast', backend, { x: dy }, { dtype: 'float32' });
    owned.push(dy);
  }
  if (filter.dtype !== 'float32') {
    filter = run('Cast', backend, { x: filter }, { dtype: 'float32' });
    owned.push(filter);
  }
  const [fh, fw, cin, cout] = filter.shape as [number, number, number, number];
  const info = conv2DInfo(inShape, [fh, fw, cin, cout], attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode);
  const [n, h, w] = inShape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rows = fh * fw * cin;
  const perSample = oh * ow;

  // Wᵀ [Cout × R]: small, transposed once per call.
  const w2 = reshape(backend, filter, [rows, cout]);
  const wt = run('Transpose', backend, { x: w2 }, { perm: [1, 0] });
  owned.push(w2, wt);

  const dx = backend.makeOutput([n, h, w, cin], 'float32');
  f32(backend, dx).fill(0);
  const chunk = Math.max(1, Math.min(n, Math.floor(MAX_COLS_FLOATS / Math.max(1, rows * perSample))));
  if (rows > 0 && cout > 0 && perSample > 0) {
    for (let n0 = 0; n0 < n; n0 += chunk) {
      const nc = Math.min(chunk, n - n0);
      const dyc = nc === n ? dy : run('Slice', backend, { x: dy }, { begin: [n0, 0, 0, 0], size: [nc, oh, ow, cout] });
      const cols = matMulPlain(backend, dyc, wt, nc * perSample, cout, rows);
      if (dyc !== dy) dispose(backend, dyc);
      // Views after the allocations above.
      const out = f32(backend, dx);
      const cv = f32(backend, cols);
      for (let s = 0; s < nc; s++) {
        const xb = (n0 + s) * h * w * cin;
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            const p = (s * oh + oy) * ow + ox;
            for (let a = 0; a < fh; a++) {
              const iy = oy * sh + a * dh - top;
              if (iy < 0 || iy >= h) continue;
              for (let b = 0; b < fw; b++) {
                const ix = ox * sw + b * dw - left;
                if (ix < 0 || ix >= w) continue;
                const dst = xb + (iy * w + ix) * cin;
                const src = p * rows + (a * fw + b) * cin;
                for (let ci = 0; ci < cin; ci++) out[dst + ci]! += cv[src + ci]!;
              }
            }
          }
        }
      }
      dispose(backend, cols);
    }
  }
  dispose(backend, ...owned);
  if (!nchw) return dx;
  const back = run('Transpose', backend, { x: dx }, { perm: [0, 3, 1, 2] });
  dispose(backend, dx);
  return back;
}
