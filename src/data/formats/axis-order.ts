/**
 * Every reader's spectra leave with an ascending spectral axis, as `load.csv` and
 * `load.jcamp` give theirs: steps such as `crop` and `resample` take the axis as
 * ascending, and a descending one (a negative scale, an axis dataset written high to
 * low) would be cropped to nothing or everything without a word.
 */
import { FormatError } from './bytes.js';
import type { InstrumentSpectra } from './types.js';

export function withAscendingAxis(s: InstrumentSpectra): InstrumentSpectra {
  const v = s.axis.values;
  const d = v.length;
  if (d < 2) return s;
  const descending = v[1]! < v[0]!;
  for (let k = 1; k < d; k++) {
    if (!(descending ? v[k]! < v[k - 1]! : v[k]! > v[k - 1]!)) {
      throw new FormatError(s.file, `the spectral axis is not monotonic: value ${k} is ${v[k]} after ${v[k - 1]}${s.axis.scale === 0 ? ' (its scale is 0)' : ''}`);
    }
  }
  if (!descending) return s;
  const spectra = new Float32Array(s.spectra.length);
  for (let i = 0; i < s.n; i++) {
    for (let k = 0; k < d; k++) spectra[i * d + k] = s.spectra[i * d + d - 1 - k]!;
  }
  const values = v.slice().reverse();
  const linear = s.axis.scale !== undefined ? { offset: values[0]!, scale: -s.axis.scale } : {};
  return {
    ...s,
    spectra,
    axis: { ...s.axis, values, ...linear },
    notes: [...s.notes, `${s.file}: the spectral axis descends in the file (${v[0]} to ${v[d - 1]}); axis and spectra reversed to ascend`],
  };
}
