/**
 * conv2DInfo (src/ml/kernels/conv-info.ts): tfjs's computeConv2DInfo kept per distinct
 * arguments — equal to tfjs's own result for each, the same object when asked again, and never
 * one argument set's answer for another's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type TF } from '../../src/ml/backend.js';
import { conv2DInfo } from '../../src/ml/kernels/conv-info.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

type Case = Parameters<typeof conv2DInfo>;
const CASES: Case[] = [
  [[8, 1, 64, 4], [1, 5, 4, 8], 1, 1, 'same', undefined],
  [[8, 1, 64, 4], [1, 5, 4, 8], 2, 1, 'same', undefined],
  [[8, 1, 64, 4], [1, 5, 4, 8], [1, 2], 1, 'same', undefined],
  [[8, 1, 64, 4], [1, 5, 4, 8], 1, 1, 'valid', undefined],
  [[8, 1, 64, 4], [1, 5, 4, 8], 1, [1, 2], 'valid', undefined],
  [[8, 1, 66, 4], [1, 5, 4, 8], 2, 1, 1, 'floor'],
  [[8, 1, 66, 4], [1, 5, 4, 8], 2, 1, 1, 'ceil'],
  [[8, 1, 64, 4], [1, 5, 4, 8], 1, 1, [[0, 0], [0, 0], [1, 2], [0, 0]], undefined],
  [[8, 1, 64, 4], [1, 5, 4, 8], 1, 1, [[0, 0], [0, 0], [2, 1], [0, 0]], undefined],
  [[4, 1, 64, 4], [1, 5, 4, 8], 1, 1, 'same', undefined],
  [[8, 1, 64, 4], [1, 3, 4, 8], 1, 1, 'same', undefined],
];

describe('conv2DInfo', () => {
  it('is computeConv2DInfo of its arguments, each set kept apart, the same object when asked again', () => {
    const first = CASES.map((c) => conv2DInfo(...c));
    CASES.forEach((c, i) => {
      const want = tf.backend_util.computeConv2DInfo(c[0], c[1], c[2], c[3], c[4] as 'same', c[5], false, 'channelsLast');
      expect(conv2DInfo(...c)).toEqual(want);
      expect(conv2DInfo(...c)).toBe(first[i]);
    });
    // the cases differ pairwise in what tfjs computes, so a shared cache entry would have failed above
    expect(new Set(first.map((f) => JSON.stringify(f))).size).toBe(CASES.length);
  });
});
