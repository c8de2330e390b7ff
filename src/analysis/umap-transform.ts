/**
 * Placing points a UMAP model was not fitted on (umap-js 1.4 `transform`), the
 * way umap-learn's `transform` does it, without umap-js's two traps.
 */

/** The slice of umap-js's UMAP that placing new points uses. */
export interface FittedUmap {
  nEpochs: number;
  transform(points: number[][]): number[][];
  getEmbedding(): number[][];
}

/**
 * Optimisation epochs for the new points, as umap-learn chooses them for one
 * `transform` of all of them: a third of the fit's epochs when the user set
 * them, else 100 for up to 10,000 new points and 30 beyond (the fitted
 * neighbours hold them in place; more epochs barely move them).
 */
export function transformEpochs(fitEpochs: number | undefined, newPoints: number): number {
  if (fitEpochs !== undefined) return Math.max(1, Math.round(fitEpochs / 3));
  return newPoints <= 10_000 ? 100 : 30;
}

/**
 * Sets the epochs every later `transform` call runs. umap-js runs nEpochs / 3
 * epochs and only stops on reaching that count exactly, so nEpochs must be a
 * multiple of 3; set explicitly, the count no longer depends on how the new
 * points are cut into calls (umap-js picks 100 or 30 from each call's size).
 */
export function setTransformEpochs(umap: FittedUmap, epochs: number): void {
  umap.nEpochs = 3 * epochs;
}

/**
 * Places `points` with the fitted model. umap-js tells a fit from a transform
 * by comparing the two embeddings' lengths, and when a batch has exactly as
 * many points as the fit it also moves the fitted points, corrupting the model
 * for every later batch: such a batch is placed in two halves.
 */
export function transformPoints(umap: FittedUmap, points: number[][]): number[][] {
  if (points.length === 0) return [];
  if (points.length !== umap.getEmbedding().length) return umap.transform(points);
  const half = Math.ceil(points.length / 2);
  return [...umap.transform(points.slice(0, half)), ...umap.transform(points.slice(half))];
}
