/**
 * Divergence checks shared by the training loops. A fit whose losses or weights
 * are no longer finite — or whose loss has exploded — must never be published:
 * downstream stages would report NaN or meaningless numbers as results.
 *
 * The rule (README, "Training that diverges"): after every epoch, the training
 * loss, the validation loss and every weight must be finite, and the loss must
 * not exceed ABSURD_LOSS_FACTOR × max(1, the first epoch's loss). Losses are in
 * scaled units where predicting the mean scores about 1, so 1e10 is far beyond
 * any fit that is still learning.
 */

export const ABSURD_LOSS_FACTOR = 1e10;

export class TrainingDivergedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

export function isTrainingDiverged(e: unknown): e is TrainingDivergedError {
  return e instanceof TrainingDivergedError || (e as Error | undefined)?.name === 'TrainingDivergedError';
}

function advice(learningRate: number | undefined): string {
  return learningRate !== undefined
    ? `; lower learning_rate (now ${learningRate}), e.g. to ${Number((learningRate / 10).toPrecision(3))}`
    : '; lower learning_rate';
}

/** Throws when an epoch's losses show divergence. `firstLoss` is the first epoch's training loss (undefined in the first epoch). */
export function checkEpochLosses(
  epoch: number, losses: Record<string, number | null | undefined>, firstLoss: number | undefined, learningRate?: number,
): void {
  const limit = ABSURD_LOSS_FACTOR * Math.max(1, firstLoss ?? 1);
  for (const [name, value] of Object.entries(losses)) {
    if (value === null || value === undefined) continue;
    if (!Number.isFinite(value)) {
      throw new TrainingDivergedError(`training diverged at epoch ${epoch}: ${name} is ${value}${advice(learningRate)}`);
    }
    if (value > limit) {
      throw new TrainingDivergedError(
        `training diverged at epoch ${epoch}: ${name} ${value.toExponential(3)} exceeds ${ABSURD_LOSS_FACTOR.toExponential(0)} × max(1, first epoch's loss)${advice(learningRate)}`,
      );
    }
  }
}

/** Name of the first weight tensor holding a NaN or ±Infinity, if any. */
export function firstNonFiniteWeight(weights: Iterable<[string, ArrayLike<number>]>): string | undefined {
  for (const [name, values] of weights) {
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return name;
  }
  return undefined;
}

/** Throws when a weight is no longer finite after `epoch`. */
export function checkWeights(epoch: number, weights: Iterable<[string, ArrayLike<number>]>, learningRate?: number): void {
  const bad = firstNonFiniteWeight(weights);
  if (bad !== undefined) {
    throw new TrainingDivergedError(`training diverged at epoch ${epoch}: weights "${bad}" are no longer finite${advice(learningRate)}`);
  }
}

/**
 * A loss that stayed put — the same to 6 digits from the first epoch to the last, over at
 * least 2 epochs and above 1e-3 (in scaled units, where predicting the mean scores about 1) —
 * is a fit that did not happen (learning rate far too small): the message to fail with, else undefined.
 */
export function stuckLossMessage(losses: readonly number[], learningRate: number): string | undefined {
  const first = losses[0];
  if (losses.length < 2 || first === undefined || !(first > 1e-3)) return undefined;
  if (!losses.every((l) => Math.abs(l - first) <= 1e-6 * first)) return undefined;
  return `the training loss did not move in ${losses.length} epochs (it stayed at ${first.toPrecision(4)} to 6 digits); raise learning_rate (now ${learningRate})`;
}
