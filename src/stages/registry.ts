/**
 * Every built-in stage type. Adding a stage type: write its module under
 * src/stages/, add one line here, add its tests. Modules listed here must be
 * cheap to import (heavy libraries are imported inside `run`).
 */
import type { StageDef } from '../core/stage-api.js';

export async function builtinStages(): Promise<StageDef[]> {
  const modules = await Promise.all([
    // one line per stage module, e.g.: import('./load-csv.js'),
    import('./load.js'),
    import('./load-instrument.js'),
    import('./synthetic.js'),
    import('./preprocess.js'),
    import('./split.js'),
    import('./cluster.js'),
    import('./embed.js'),
    import('./pseudospectrum.js'),
    import('./anomaly.js'),
    import('./train-spectral.js'),
    import('./train-autoencoder.js'),
    import('./train-pca.js'),
    import('./encode.js'),
    import('./rank-features.js'),
    import('./report.js'),
  ]);
  return modules.flatMap((m) => Object.values(m as Record<string, unknown>).filter(isStageDef));
}

function isStageDef(value: unknown): value is StageDef {
  return typeof value === 'object' && value !== null && typeof (value as StageDef).run === 'function'
    && typeof (value as StageDef).type === 'string';
}
