/**
 * Figures of large tables: an SVG with 10⁶ marks (and a spec with 10⁶ rows)
 * helps nobody, so above a threshold a figure draws a seeded subsample and
 * says so in its title.
 */
import { sampleIndices } from '../analysis/clustering-metrics.js';
import { Rng } from '../util/random.js';

/** Most marks one scatter or histogram draws. */
export const MAX_MARKS = 5000;

/** The report is seedless; a fixed seed keeps its samples (and bytes) reproducible. */
const SAMPLE_SEED = 0x5eed;

/**
 * At most `max` of `rows`, a seeded uniform sample in table order; `note` is
 * the text a figure's title carries when a sample is drawn (empty otherwise).
 */
export function subsample<T>(rows: T[], max = MAX_MARKS): { rows: T[]; note: string } {
  if (rows.length <= max) return { rows, note: '' };
  const picked = Array.from(sampleIndices(rows.length, max, new Rng(SAMPLE_SEED)), (i) => rows[i]!);
  return { rows: picked, note: ` (random ${max} of ${rows.length} shown)` };
}
