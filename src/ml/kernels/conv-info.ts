/**
 * tfjs's computeConv2DInfo, kept per distinct arguments. The convolution
 * kernels (./conv1d.ts, ./conv2d-backprop-filter.ts, ./conv2d-backprop-input.ts)
 * ask it at every call, with the few shapes a training has; computed once per
 * shape, tfjs's function (a large one) never becomes hot, so V8 no longer
 * compiles it on its helper threads in the middle of a training (--trace-opt:
 * 160–170 ms a thread on a loaded machine, in epoch 5 of a 2-thread Conv-1D
 * training at batch 64), and each call skips its JavaScript.
 */
import { boundTf } from './common.js';

type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | 'explicit' | number | number[][];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
export type Conv2DInfo = ReturnType<ReturnType<typeof boundTf>['backend_util']['computeConv2DInfo']>;

/** Distinct argument sets kept; past it the cache starts again (a training meets a handful). */
const MAX_KEPT = 256;
const kept = new Map<string, Conv2DInfo>();

/** computeConv2DInfo(x, filter, strides, dilations, pad, rounding, depthwise = false, 'channelsLast'); the result is shared: read it only. */
export function conv2DInfo(xShape: Shape4, filterShape: Shape4, strides: number | [number, number], dilations: number | [number, number], pad: Pad, rounding: Rounding): Readonly<Conv2DInfo> {
  const key = `${xShape}|${filterShape}|${strides}|${dilations}|${typeof pad === 'object' ? JSON.stringify(pad) : pad}|${rounding}`;
  let info = kept.get(key);
  if (info === undefined) {
    info = boundTf().backend_util.computeConv2DInfo(xShape, filterShape, strides, dilations, pad as 'same', rounding, false, 'channelsLast');
    if (kept.size >= MAX_KEPT) kept.clear();
    kept.set(key, info);
  }
  return info;
}
