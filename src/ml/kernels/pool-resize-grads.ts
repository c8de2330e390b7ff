/**
 * Gradients of max pooling and of image resizing for wasm. tfjs-backend-wasm
 * 4.22 registers all three, but they are wrong (measured against the cpu
 * backend: MaxPoolGrad off by up to 100 % of the gradient scale on every
 * layout, ResizeNearestNeighborGrad on every shape, ResizeBilinearGrad
 * returns its result with height and width swapped). MaxPooling1D and
 * UpSampling (nearest or bilinear) layers, the Conv-1D autoencoder's
 * down- and upsampling, go through them.
 *
 * Each is written here as the exact adjoint of the forward kernel (the same
 * index arithmetic as the forward, scattered back), in JS on wasm memory.
 */
import type { KernelArgs, TensorInfo } from './common.js';
import { boundTf, dispose, f32, run } from './common.js';

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function asF32(args: KernelArgs<unknown>, t: TensorInfo, owned: TensorInfo[]): TensorInfo {
  if (t.dtype === 'float32') return t;
  const c = run('Cast', args.backend, { x: t }, { dtype: 'float32' });
  owned.push(c);
  return c;
}

/** dx: each output's dy goes to the first maximum of its window (the cpu backend's choice). */
export function maxPoolGrad(args: KernelArgs<PoolAttrs>): TensorInfo {
  const { backend, attrs } = args;
  const tf = boundTf();
  const owned: TensorInfo[] = [];
  const x = asF32(args, args.inputs.input as TensorInfo, owned);
  const dy = asF32(args, args.inputs.dy as TensorInfo, owned);
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { effectiveFilterHeight: efh, effectiveFilterWidth: efw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dx = backend.makeOutput(x.shape, 'float32');
  const out = f32(backend, dx);
  const xv = f32(backend, x);
  const dv = f32(backend, dy);
  out.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * inWidth * c;
    for (let yr = 0; yr < outHeight; yr++) {
      const r0 = yr * strideHeight - top;
      let rMin = r0;
      while (rMin < 0) rMin += dilationHeight;
      const rMax = Math.min(inHeight, r0 + efh);
      for (let yc = 0; yc < outWidth; yc++) {
        const c0 = yc * strideWidth - left;
        let cMin = c0;
        while (cMin < 0) cMin += dilationWidth;
        const cMax = Math.min(inWidth, c0 + efw);
        best.fill(-Infinity);
        where.fill(-1);
        for (let r = rMin; r < rMax; r += dilationHeight) {
          for (let col = cMin; col < cMax; col += dilationWidth) {
            const base = xb + (r * inWidth + col) * c;
            for (let d = 0; d < c; d++) {
              const v = xv[base + d]!;
              if (v > best[d]!) {
                best[d] = v;
                where[d] = base + d;
              }
            }
          }
        }
        const dBase = ((b * outHeight + yr) * outWidth + yc) * c;
        for (let d = 0; d < c; d++) {
          const p = where[d]!;
          if (p >= 0) out[p]! += dv[dBase + d]!;
        }
      }
    }
  }
  dispose(backend, ...owned);
  return dx;
}

interface ResizeAttrs {
  alignCorners: boolean;
  halfPixelCenters?: boolean;
}

function ratios(inH: number, inW: number, outH: number, outW: number, alignCorners: boolean): [number, number] {
  const effIn = [alignCorners && outH > 1 ? inH - 1 : inH, alignCorners && outW > 1 ? inW - 1 : inW];
  const effOut = [alignCorners && outH > 1 ? outH - 1 : outH, alignCorners && outW > 1 ? outW - 1 : outW];
  return [effIn[0]! / effOut[0]!, effIn[1]! / effOut[1]!];
}

type Shape4 = [number, number, number, number];

/** The adjoint of the nearest-neighbour resize: dy[b,r,col,:] goes back to its source pixel. */
function nearestAdjoint(dv: ArrayLike<number>, out: Float32Array, inShape: Shape4, dyShape: Shape4, attrs: ResizeAttrs): void {
  const [batch, inH, inW, c] = inShape;
  const [, outH, outW] = dyShape;
  const align = attrs.alignCorners;
  const half = attrs.halfPixelCenters ?? false;
  const [rh, rw] = ratios(inH, inW, outH, outW, align);
  const src = (ratio: number, i: number, size: number): number => {
    const frac = half ? ratio * (i + 0.5) : ratio * i;
    const near = Math.min(size - 1, align ? Math.round(frac) : Math.floor(frac));
    return half ? Math.max(0, near) : near;
  };
  const colSrc = Int32Array.from({ length: outW }, (_, j) => src(rw, j, inW));
  out.fill(0);
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < outH; r++) {
      const rowBase = (b * inH + src(rh, r, inH)) * inW;
      for (let col = 0; col < outW; col++) {
        const base = (rowBase + colSrc[col]!) * c;
        for (let d = 0; d < c; d++) out[base + d]! += dv[o++]!;
      }
    }
  }
}

/** The adjoint of the bilinear resize: dy[b,r,col,:] split over its four source pixels. */
function bilinearAdjoint(dv: ArrayLike<number>, out: Float32Array, inShape: Shape4, dyShape: Shape4, attrs: ResizeAttrs): void {
  const [batch, inH, inW, c] = inShape;
  const [, outH, outW] = dyShape;
  const half = attrs.halfPixelCenters ?? false;
  const [rh, rw] = ratios(inH, inW, outH, outW, attrs.alignCorners);
  // Same source coordinates as the forward kernel: floor/ceil neighbours and the fraction.
  const coord = (ratio: number, i: number, size: number): [number, number, number] => {
    const frac = half ? ratio * (i + 0.5) - 0.5 : ratio * i;
    const lo = Math.max(0, Math.floor(frac));
    const hi = Math.min(size - 1, Math.ceil(frac));
    return [lo, hi, frac - lo];
  };
  const cols = Array.from({ length: outW }, (_, j) => coord(rw, j, inW));
  out.fill(0);
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < outH; r++) {
      const [top, bot, fr] = coord(rh, r, inH);
      const topBase = (b * inH + top) * inW;
      const botBase = (b * inH + bot) * inW;
      for (let col = 0; col < outW; col++) {
        const [l, rr, fc] = cols[col]!;
        const tl = (topBase + l) * c;
        const tr = (topBase + rr) * c;
        const bl = (botBase + l) * c;
        const br = (botBase + rr) * c;
        // forward: top = tl + (tr − tl)·fc; bottom likewise; value = top + (bottom − top)·fr
        const wtl = (1 - fc) * (1 - fr);
        const wtr = fc * (1 - fr);
        const wbl = (1 - fc) * fr;
        const wbr = fc * fr;
        for (let d = 0; d < c; d++) {
          const g = dv[o++]!;
          out[tl + d]! += g * wtl;
          out[tr + d]! += g * wtr;
          out[bl + d]! += g * wbl;
          out[br + d]! += g * wbr;
        }
      }
    }
  }
}

type Adjoint = typeof nearestAdjoint;

function resizeGradWasm(adjoint: Adjoint) {
  return (args: KernelArgs<ResizeAttrs>): TensorInfo => {
    const { backend, attrs } = args;
    const owned: TensorInfo[] = [];
    const images = args.inputs.images as TensorInfo;
    const dy = asF32(args, args.inputs.dy as TensorInfo, owned);
    const dx = backend.makeOutput(images.shape, 'float32');
    // Views after the allocation (the heap may have grown).
    adjoint(f32(backend, dy), f32(backend, dx), images.shape as Shape4, dy.shape as Shape4, attrs);
    dispose(backend, ...owned);
    return dx;
  };
}

export const resizeNearestNeighborGrad = resizeGradWasm(nearestAdjoint);
export const resizeBilinearGrad = resizeGradWasm(bilinearAdjoint);

/** The cpu backend's surface that the cpu variants use. */
interface CpuBackend {
  data: { get(dataId: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

function resizeGradCpu(adjoint: Adjoint) {
  return (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: ResizeAttrs }): TensorInfo => {
    const backend = args.backend as CpuBackend;
    const images = args.inputs.images!;
    const dy = args.inputs.dy!;
    const out = new Float32Array(images.shape.reduce((p, q) => p * q, 1));
    adjoint(backend.data.get(dy.dataId).values, out, images.shape as Shape4, dy.shape as Shape4, args.attrs);
    return backend.makeTensorInfo(images.shape, 'float32', out);
  };
}

/**
 * The cpu backend's versions are wrong too (tfjs-backend-cpu 4.22):
 * ResizeNearestNeighborGrad reads dy at the image's batch offset, so every
 * batch but the first gets another batch's gradient, and ignores
 * halfPixelCenters; ResizeBilinearGrad returns its result with height and
 * width swapped. Registered for 'cpu' by installCpuFixes.
 */
export const resizeNearestNeighborGradCpu = resizeGradCpu(nearestAdjoint);
export const resizeBilinearGradCpu = resizeGradCpu(bilinearAdjoint);
