/**
 * The training loop's mini-batches (src/ml/batches.ts): every training row
 * once per epoch in a seeded order, noise from each row's own seed, a batch
 * intact while the next is prepared, and an epoch's batches the same whether
 * its first batch is prepared before or after the previous epoch's last one
 * (data-parallel training prefetches it).
 */
import { describe, expect, it } from 'vitest';
import { MiniBatches, type MiniBatchOptions } from '../../src/ml/batches.js';
import { addRowNoise } from '../../src/ml/metrics.js';
import type { Batch } from '../../src/ml/parallel/protocol.js';
import { memoryRows } from '../../src/ml/rows.js';

const n = 23;
const d = 5;
/** Row r holds r + j/10 in channel j: a batch's rows can be read back from its values. */
const data = Float32Array.from({ length: n * d }, (_, i) => Math.floor(i / d) + (i % d) / 10);
const trainIdx = [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 21, 22]; // 19 rows: batches of 8, 8, 3
const base: MiniBatchOptions = { seed: 5, trainIdx, batchSize: 8, target: memoryRows(data, n, d) };
const noise = { spec: { noise: 'poisson' as const, level: 40 }, stats: { sd: 1, mean: 10 } };

const rowsOf = (y: Float32Array): number[] => Array.from({ length: y.length / d }, (_, i) => Math.round(y[i * d]!));
const copy = (b: Batch) => ({ b: b.b, y: b.y.slice(), x: b.x?.slice(), seeds: b.seeds?.slice() });
const starts = [0, 8, 16];

describe('mini-batches', () => {
  it('cover every training row once an epoch, in an order that changes with the epoch', () => {
    const batches = new MiniBatches(base);
    const orders = [1, 2].map((e) => {
      const plan = batches.epoch(e);
      return starts.flatMap((s) => {
        const batch = plan.at(s);
        expect(batch.x).toBe(batch.y); // an autoencoder of its own input
        return rowsOf(batch.y);
      });
    });
    for (const order of orders) expect([...order].sort((a, b) => a - b)).toEqual(trainIdx);
    expect(orders[0]).not.toEqual(orders[1]);
    expect(orders[0]).not.toEqual(trainIdx);
  });

  it('stay intact while the next batch is prepared (two buffers in turn), the last one shorter', () => {
    const plan = new MiniBatches(base).epoch(1);
    const first = plan.at(0);
    const kept = first.y.slice();
    const second = plan.at(8);
    expect(first.y).toEqual(kept);
    expect(second.y.buffer).not.toBe(first.y.buffer);
    const third = plan.at(16);
    expect(third.b).toBe(3);
    expect(third.y.length).toBe(3 * d);
  });

  it('draw each row\'s noise from its own seed: with seeds only, the caller gets the same seeds and draws', () => {
    const drawn = new MiniBatches({ ...base, noise }).epoch(3);
    const seeded = new MiniBatches({ ...base, noise, seedsOnly: true }).epoch(3);
    for (const s of starts) {
      const a = copy(drawn.at(s));
      const b = copy(seeded.at(s));
      expect(b.x).toBeUndefined();
      expect(b.y).toEqual(a.y);
      expect(b.seeds!.length).toBe(b.b);
      const x = new Float32Array(b.y.length);
      addRowNoise(b.y, d, b.seeds!, noise.spec, noise.stats, x);
      expect(a.x).toEqual(x);
      expect(a.x).not.toEqual(a.y);
    }
  });

  it('of an epoch are the same whether its first batch is prepared before or after the last epoch\'s last batch', () => {
    for (const options of [base, { ...base, noise }, { ...base, noise, seedsOnly: true }]) {
      // one epoch after the other
      const inTurn = new MiniBatches(options);
      const want: ReturnType<typeof copy>[] = [];
      for (const e of [1, 2]) {
        const plan = inTurn.epoch(e);
        for (const s of starts) want.push(copy(plan.at(s)));
      }
      // epoch 2 planned and its first batch drawn before epoch 1's last batch, as training prefetches it
      const ahead = new MiniBatches(options);
      const one = ahead.epoch(1);
      const got = [copy(one.at(0)), copy(one.at(8))];
      const two = ahead.epoch(2);
      const early = copy(two.at(0));
      got.push(copy(one.at(16)), early, copy(two.at(8)), copy(two.at(16)));
      expect(got).toEqual(want);
    }
  });
});
