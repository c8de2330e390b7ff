/**
 * Moving weights between the shared buffers and a thread's variables (src/ml/parallel/copy.ts): a variable
 * whose memory is its own is overwritten in place; one sharing its memory (with the tensor it was made
 * from) gets new memory, and the other tensor keeps its values — on wasm and on the cpu backend.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import { initBackend, type TF } from '../../src/ml/backend.js';
import { rememberColumnSums, takeColumnSums } from '../../src/ml/kernels/column-sums.js';
import { assignFrom } from '../../src/ml/parallel/copy.js';

let tf: TF;

beforeAll(async () => {
  ({ tf } = await initBackend('wasm'));
});

const values = (n: number, from: number) => Float32Array.from({ length: n }, (_, i) => from + i / 8);

describe.each(['wasm', 'cpu'] as const)('assignFrom on %s', (backend) => {
  it('sets a variable to the values, in place where its memory is its own, leaving a tensor that shares it alone', async () => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const init = tf.tensor2d(values(6, 1), [2, 3]);
    const v = tf.variable(init, true, `assign_from_${backend}`); // shares init's memory
    const shared = new Float32Array(new SharedArrayBuffer(4 * 6));
    shared.set(values(6, 7));
    assignFrom(tf, v, shared);
    expect(Array.from(v.dataSync())).toEqual(Array.from(values(6, 7)));
    expect(Array.from(init.dataSync())).toEqual(Array.from(values(6, 1)));
    // now its memory is its own: a second load, then the shared buffer changing must not show through
    shared.set(values(6, 20));
    const own = v.dataId;
    assignFrom(tf, v, shared);
    // on wasm the same memory, overwritten (no new tensor)
    if (backend === 'wasm') expect(v.dataId).toBe(own);
    shared.fill(0);
    expect(Array.from(v.dataSync())).toEqual(Array.from(values(6, 20)));
    expect(() => assignFrom(tf, v, new Float32Array(5))).toThrow(/5 values for a variable of 6/);
    [init, v].forEach((t: Tensor) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('forgets the column sums a product kept of the values it overwrites', async () => {
    await tf.setBackend(backend);
    const v = tf.tidy(() => tf.variable(tf.tensor2d(values(6, 1), [2, 3]), true, `assign_sums_${backend}`));
    rememberColumnSums(v, 2, new Float32Array(3));
    assignFrom(tf, v, values(6, 3));
    expect(takeColumnSums(v, 2, 3)).toBeUndefined();
    v.dispose();
  });
});
