/**
 * The one shape every instrument-file reader returns. Readers know nothing of
 * pipelines or Arrow; `to-table.ts` turns this into a spectra table.
 */

/** Formats with a reader under src/data/formats/. */
export const FORMATS = ['dm', 'msa', 'wdf', 'jobinyvon', 'hspy', 'nexus'] as const;
export type FormatName = (typeof FORMATS)[number];

/** A calibrated axis: values, unit and name (offset/scale when the file gives it as linear). */
export interface SpectralAxis {
  values: Float64Array;
  unit: string;
  name: string;
  /** Linear calibration as the file states it (value_i = offset + i × scale), when it has one. */
  offset?: number;
  scale?: number;
}

/** A navigation (scan) axis, listed fastest first: x, then y. */
export interface NavigationAxis {
  name: string;
  unit: string;
  size: number;
  offset: number;
  scale: number;
}

export type MetaValue = string | number | boolean;

export interface InstrumentSpectra {
  format: FormatName;
  /** File name used in messages and ids. */
  file: string;
  /** Number of spectra (product of the navigation sizes, 1 for a single spectrum). */
  n: number;
  /** Channels per spectrum. */
  d: number;
  /** n × d row-major; rows in scan order, x fastest. */
  spectra: Float32Array;
  axis: SpectralAxis;
  /** Empty for a single spectrum; [x] for a line scan; [x, y] for a spectrum image. */
  navigation: NavigationAxis[];
  /** Per-row navigation coordinates (x and, for images, y), in the navigation axes' units. */
  coords?: { x: Float64Array; y?: Float64Array };
  /** Other per-row numbers the file records (stage positions, times), one value per spectrum. */
  columns?: Record<string, Float64Array>;
  /** Useful acquisition metadata (beam energy, exposure, date, …), flat keys. */
  metadata: Record<string, MetaValue>;
  /** Things the reader decided that a user should know (logged by the load stage). */
  notes: string[];
}

/** A reader: bytes in, spectra out; throws StageError(`<what> at byte N`, file) on a bad file. */
export type Reader = (bytes: Uint8Array, file: string) => InstrumentSpectra | Promise<InstrumentSpectra>;

/** Coordinates of each row of a regular scan, x fastest (value_i = offset + i × scale). */
export function gridCoords(navigation: NavigationAxis[]): { x: Float64Array; y?: Float64Array } | undefined {
  if (navigation.length === 0) return undefined;
  const [ax, ay] = navigation;
  const w = ax!.size;
  const h = ay?.size ?? 1;
  const x = new Float64Array(w * h);
  const y = ay ? new Float64Array(w * h) : undefined;
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      x[j * w + i] = ax!.offset + i * ax!.scale;
      if (y) y[j * w + i] = ay!.offset + j * ay!.scale;
    }
  }
  return y ? { x, y } : { x };
}

/** value_i = offset + i × scale for i < size. */
export function linearAxis(offset: number, scale: number, size: number): Float64Array {
  return Float64Array.from({ length: size }, (_, i) => offset + i * scale);
}
