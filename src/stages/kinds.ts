/**
 * The artifact kinds spectral stages exchange. The runner only knows that
 * `table*` kinds are Arrow IPC files and that `a/b` fits a port expecting `a`.
 */
export const KIND = {
  /** Any Arrow table. */
  table: 'table',
  /** `id` (utf8), optional `label` and metadata columns, `spectrum` FixedSizeList<Float32>[D],
   * optional `clean` of the same type; axis values and unit in the schema metadata. */
  spectra: 'table/spectra',
  /** `id`, optional `label`, `z` FixedSizeList<Float32>[k]. */
  latent: 'table/latent',
  /** `id`, `cluster` (int32), optional responsibilities. */
  assignments: 'table/assignments',
  /** `feature`, `axis`, `lambda`, `phi_norm`, `score`, `rank`. */
  relevance: 'table/relevance',
  /** Per-epoch training history. */
  history: 'table/history',
  /** Any trained model directory (config.json + weights) with encode/decode or predict. */
  model: 'model',
  autoencoder: 'model/autoencoder',
  pca: 'model/autoencoder/pca',
  spectral: 'model/spectral',
  report: 'report',
} as const;
