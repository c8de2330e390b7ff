/**
 * The training loop's mini-batches: each epoch's seeded shuffle of the
 * training rows, read a batch at a time, with the seeds of every row's noise
 * for a denoising autoencoder. Everything an epoch draws derives from (seed,
 * epoch) alone, so an epoch's batches are the same whenever they are prepared:
 * data-parallel training prepares the next epoch's first batch while the
 * workers compute the last step of this one.
 *
 * Two sets of buffers are used in turn: a step reads one batch while the next
 * is read into the other (a fresh megabyte or two a step cost more to allocate
 * and collect than to fill). So a batch is valid until the second batch
 * prepared after it.
 */
import { deriveSeed, Rng } from '../util/random.js';
import { addRowNoise, type NoiseSpec } from './metrics.js';
import type { Batch } from './parallel/protocol.js';
import type { RowSource } from './rows.js';

export interface MiniBatchOptions {
  seed: number;
  /** The training rows (row numbers in the sources). */
  trainIdx: ArrayLike<number>;
  batchSize: number;
  /** Target rows; also the input unless `x` is given or noise is added. */
  target: RowSource;
  /** Separate input rows (a denoising pair), used as they are when there is no noise. */
  x?: RowSource;
  /** Noise added to the target to make the input; its seeds per row are drawn in the epoch's order. */
  noise?: { spec: NoiseSpec; stats: { sd: number; mean: number } };
  /** Leave the noise to the caller (a batch then carries its rows' seeds, not x): a training team draws
   * each shard's noise in the thread that trains on it. */
  seedsOnly?: boolean;
}

export class MiniBatches {
  private readonly buffers: { y: Float32Array; x: Float32Array | undefined; seeds: Uint32Array }[];
  private turn = 0;

  constructor(private readonly options: MiniBatchOptions) {
    const { batchSize, target, x, noise } = options;
    this.buffers = [0, 1].map(() => ({
      y: new Float32Array(batchSize * target.d),
      x: noise || x ? new Float32Array(batchSize * target.d) : undefined,
      seeds: new Uint32Array(batchSize),
    }));
  }

  /** Training rows per epoch. */
  get rows(): number {
    return this.options.trainIdx.length;
  }

  /**
   * The batches of `epoch` (from 1): the rows in the epoch's shuffled order, each row's noise from
   * its own generator, seeded from the epoch's noise generator in that order (metrics.ts addRowNoise),
   * so a row's draws are the same whichever thread draws them. Ask for them in order.
   */
  epoch(epoch: number): EpochBatches {
    const { seed, noise } = this.options;
    const order = new Rng(deriveSeed(seed, 'shuffle', epoch)).permutation(this.rows);
    const seeds = noise ? new Rng(deriveSeed(seed, 'noise', epoch)) : undefined;
    return { epoch, at: (start) => this.batch(order, seeds, start) };
  }

  private batch(order: number[], noiseSeeds: Rng | undefined, start: number): Batch {
    const { trainIdx, batchSize, target, x: xRows, noise, seedsOnly } = this.options;
    const d = target.d;
    const b = Math.min(batchSize, this.rows - start);
    const batchRows = new Array<number>(b);
    for (let i = 0; i < b; i++) batchRows[i] = trainIdx[order[start + i]!]!;
    const buffer = this.buffers[this.turn]!;
    this.turn = 1 - this.turn;
    const y = buffer.y.subarray(0, b * d);
    target.read(batchRows, y);
    if (noise && noiseSeeds) {
      const seeds = buffer.seeds.subarray(0, b);
      for (let i = 0; i < b; i++) seeds[i] = noiseSeeds.nextUint32();
      if (seedsOnly) return { y, seeds, b };
      const x = buffer.x!.subarray(0, b * d);
      addRowNoise(y, d, seeds, noise.spec, noise.stats, x);
      return { x, y, b };
    }
    if (!xRows) return { x: y, y, b };
    const x = buffer.x!.subarray(0, b * d);
    xRows.read(batchRows, x);
    return { x, y, b };
  }
}

export interface EpochBatches {
  readonly epoch: number;
  /** The batch from row `start` of the epoch's order (starts 0, batchSize, 2·batchSize, … in turn). */
  at(start: number): Batch;
}
