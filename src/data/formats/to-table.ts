/**
 * Instrument spectra (one or many files) → one spectra table. A single file
 * keeps its geometry: `x`/`y` columns and `specflow.map`. Many files stack
 * into one table with a `source` column; on one grid when their axes agree,
 * else on their own grids (the ragged layout) until a `resample` step.
 */
import { StageError } from '../../core/stage-api.js';
import { setSpectrumMap, type Cell, type SpectraTable } from '../arrow-io.js';
import type { InstrumentSpectra } from './types.js';

/** Schema-metadata prefix of what the file says about the acquisition. */
export const INSTRUMENT_META = 'instrument.';

export function toSpectraTable(files: InstrumentSpectra[]): { table: SpectraTable; notes: string[] } {
  if (files.length === 0) throw new StageError('no files to load');
  const notes = files.flatMap((f) => f.notes);
  const first = files[0]!;
  const units = new Set(files.map((f) => f.axis.unit));
  if (units.size > 1) {
    throw new StageError(`the files' spectral axes are in different units (${files.map((f) => `${f.file}: "${f.axis.unit}"`).join(', ')}); load them separately`);
  }
  const sameGrid = files.every((f) => f.d === first.d && f.axis.values.every((v, i) => Math.abs(v - first.axis.values[i]!) <= 1e-6 * Math.max(1, Math.abs(v))));
  const n = files.reduce((s, f) => s + f.n, 0);
  const ids: string[] = [];
  const columns: Record<string, Cell[]> = {};
  const columnNames = new Set<string>();
  for (const f of files) {
    if (f.coords) columnNames.add('x');
    if (f.navigation.length >= 1) columnNames.add('y');
    for (const k of Object.keys(f.columns ?? {})) columnNames.add(k);
  }
  for (const name of columnNames) columns[name] = [];
  if (files.length > 1) columns.source = [];
  for (const f of files) {
    for (let i = 0; i < f.n; i++) ids.push(f.n === 1 ? f.file : `${f.file}:${i}`);
    for (const name of columnNames) {
      const col = columns[name]!;
      const values = name === 'x' ? f.coords?.x : name === 'y' ? f.coords?.y : f.columns?.[name];
      // A line scan is one row of an image: its y coordinate is 0.
      for (let i = 0; i < f.n; i++) col.push(values ? values[i]! : name === 'y' && f.navigation.length === 1 ? 0 : null);
    }
    if (columns.source) for (let i = 0; i < f.n; i++) columns.source.push(f.file);
  }
  const metadata: Record<string, string> = {};
  metadata[`${INSTRUMENT_META}format`] = [...new Set(files.map((f) => f.format))].join(',');
  for (const [k, v] of Object.entries(first.metadata)) {
    if (files.every((f) => f.metadata[k] === v)) metadata[`${INSTRUMENT_META}${k}`] = String(v);
  }
  if (files.length === 1 && first.navigation.length > 0) {
    const [ax, ay] = first.navigation;
    setSpectrumMap(metadata, { width: ax!.size, height: ay?.size ?? 1, xUnit: ax!.unit, yUnit: ay?.unit ?? ax!.unit });
  } else if (files.some((f) => f.navigation.length > 0)) {
    notes.push('several files: each row keeps its x/y coordinates, but the rows no longer form one image');
  }
  const table: SpectraTable = {
    n, d: sameGrid ? first.d : 0, ids, columns, metadata, axisUnit: first.axis.unit, axisName: first.axis.name,
    spectra: new Float32Array(0), axis: sameGrid ? Float64Array.from(first.axis.values) : new Float64Array(0),
  };
  if (sameGrid && files.length === 1) {
    // One file: its spectra are the table's (no second n × d copy of what may be a large spectrum image).
    table.spectra = first.spectra;
  } else if (sameGrid) {
    table.spectra = new Float32Array(n * first.d);
    let at = 0;
    for (const f of files) {
      table.spectra.set(f.spectra, at);
      at += f.spectra.length;
    }
  } else {
    const x: Float64Array[] = [];
    const y: Float32Array[] = [];
    for (const f of files) {
      for (let i = 0; i < f.n; i++) {
        x.push(Float64Array.from(f.axis.values));
        y.push(f.spectra.slice(i * f.d, (i + 1) * f.d));
      }
    }
    table.ragged = { x, y };
    notes.push(`the files' spectral axes differ (${[...new Set(files.map((f) => `${f.d} channels from ${f.axis.values[0]}`))].join('; ')}); spectra stay on their own grids until a resample step`);
  }
  return { table, notes };
}
