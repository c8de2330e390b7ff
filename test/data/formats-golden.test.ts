/**
 * The instrument-file readers against HyperSpy 1.7.3: test/golden/hyperspy.json is
 * HyperSpy's own view of each file (shape, navigation shape, axes, values), written by
 * test/golden/dump_hyperspy.py (see the README to regenerate). No Python at test time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInstrumentFile } from '../../src/data/formats/detect.js';
import type { InstrumentSpectra } from '../../src/data/formats/types.js';
import { ROOT } from '../runner/helpers.js';

interface GoldenAxis { name: string; units: string; size: number; offset: number; scale: number; navigate: boolean }
interface Golden {
  class: string; dtype: string; shape: number[]; navigation_shape: number[]; signal_shape: number[]; axes: GoldenAxis[];
  values?: number[]; values_complete?: boolean; sum?: number; sum_squares?: number;
  metadata?: { title: string | null; beam_energy: number | null; convergence_angle: number | null; collection_angle: number | null; exposure: number | null };
}
const GOLDEN = JSON.parse(readFileSync(join(ROOT, 'test', 'golden', 'hyperspy.json'), 'utf8')) as { files: Record<string, Golden> };
export const INSTRUMENTS = join(ROOT, '..', 'shared', 'data', 'instruments');
const HAVE_SHARED = existsSync(INSTRUMENTS);
if (!HAVE_SHARED) console.warn(`!!! ${INSTRUMENTS} is absent: the golden comparisons on real instrument files are SKIPPED !!!`);

function pathOf(key: string): string {
  return key.startsWith('instruments/') ? join(INSTRUMENTS, key.slice('instruments/'.length)) : join(ROOT, 'test', 'fixtures', 'formats', key.slice('fixtures/'.length));
}

/** HyperSpy's placeholder names carry no meaning; meaningful names must match. */
function meaningful(name: string): boolean {
  return !['x', 'y', 'z', '<undefined>', ''].includes(name);
}

function expectClose(actual: number, expected: number, rel: number, what: string): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs HyperSpy ${expected}`).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));
}

/** Shape, axes and values of our reading against HyperSpy's. */
function compare(s: InstrumentSpectra, g: Golden, key: string): void {
  const nav = g.axes.filter((a) => a.navigate);
  const [sig] = g.axes.filter((a) => !a.navigate);
  expect(g.signal_shape, key).toHaveLength(1);
  expect(s.d, `${key} channels`).toBe(g.signal_shape[0]);
  expect(s.n, `${key} spectra`).toBe(g.navigation_shape.reduce((a, b) => a * b, 1));
  // HyperSpy lists navigation axes slowest first (array order); ours are fastest first.
  const navigation = s.navigation.filter((a) => a.size > 1);
  expect(navigation.map((a) => a.size), `${key} navigation shape`).toEqual([...g.navigation_shape]);
  nav.slice().reverse().forEach((a, i) => {
    const ours = navigation[i]!;
    expectClose(ours.offset, a.offset, 1e-9, `${key} navigation ${i} offset`);
    expectClose(ours.scale, a.scale, 1e-9, `${key} navigation ${i} scale`);
    expect(ours.unit, `${key} navigation ${i} units`).toBe(a.units);
  });
  expectClose(s.axis.offset!, sig!.offset, 1e-9, `${key} axis offset`);
  expectClose(s.axis.scale!, sig!.scale, 1e-9, `${key} axis scale`);
  expectClose(s.axis.values[s.d - 1]!, sig!.offset + (s.d - 1) * sig!.scale, 1e-9, `${key} last axis value`);
  if (meaningful(sig!.name)) expect(s.axis.name, `${key} axis name`).toBe(sig!.name);
  // HyperSpy keeps an MSA's "Energy Loss (eV)" whole; the reader keeps the unit in brackets.
  expect(s.axis.unit, `${key} axis units`).toBe(/\(([^)]+)\)$/.exec(sig!.units)?.[1] ?? sig!.units);
  const values = g.values!;
  // Spectra are Float32: HyperSpy's float64/int values agree to float32 rounding.
  values.forEach((v, i) => expectClose(s.spectra[i]!, v, 1e-6, `${key} value ${i}`));
  if (g.values_complete) expect(s.spectra.length).toBe(values.length);
  let sum = 0, sum2 = 0;
  for (const v of s.spectra) {
    sum += v;
    sum2 += v * v;
  }
  expectClose(sum, g.sum!, 1e-5, `${key} sum`);
  expectClose(sum2, g.sum_squares!, 1e-5, `${key} sum of squares`);
}

const spectraKeys = Object.keys(GOLDEN.files).filter((k) => GOLDEN.files[k]!.signal_shape.length === 1 && !GOLDEN.files[k]!.dtype.startsWith('complex')
  && !k.endsWith('_NCOLUMNS2.msa'));
const refusedKeys = Object.keys(GOLDEN.files).filter((k) => !spectraKeys.includes(k) && !k.endsWith('_NCOLUMNS2.msa'));

describe('instrument files read as HyperSpy 1.7.3 reads them', () => {
  it('the golden file covers every format HyperSpy reads, real files and HyperSpy-written fixtures', () => {
    const keys = Object.keys(GOLDEN.files);
    for (const ext of ['.dm3', '.dm4', '.msa', '.hspy', '.nxs']) expect(keys.some((k) => k.endsWith(ext)), ext).toBe(true);
    // HyperSpy-written .hspy/.nxs, and DM3/DM4 files of the script's writer: spectrum image, big-endian DM4 line scan, several types, RGB
    expect(keys.filter((k) => k.startsWith('fixtures/'))).toHaveLength(11);
    expect(GOLDEN.files['fixtures/dm_si_float32.dm3']!.navigation_shape).toEqual([4, 3]);
  });

  for (const key of spectraKeys) {
    const shared = key.startsWith('instruments/');
    it.skipIf(shared && !HAVE_SHARED)(`${key}: shape, navigation, axes and values equal HyperSpy's`, async () => {
      compare(await readInstrumentFile(pathOf(key)), GOLDEN.files[key]!, key);
    });
  }

  for (const key of refusedKeys) {
    it.skipIf(key.startsWith('instruments/') && !HAVE_SHARED)(`${key}: HyperSpy sees ${GOLDEN.files[key]!.class}, which the reader refuses by name`, async () => {
      const g = GOLDEN.files[key]!;
      const expected = g.dtype.startsWith('complex') ? /complex/ : g.dtype.includes("('R'") ? /RGB/ : /is (an image|a 3-D image stack).*not spectra/;
      // HyperSpy's own view confirms what the refusal says.
      if (!g.dtype.startsWith('complex')) expect(g.signal_shape).toHaveLength(2);
      await expect(readInstrumentFile(pathOf(key))).rejects.toThrow(expected);
    });
  }

  it.skipIf(!HAVE_SHARED)('MSA with two XY pairs a line (#NCOLUMNS 2): all 21 points; HyperSpy 1.7.3 takes only the first pair of each line', async () => {
    const key = 'instruments/msa/ISO_22029_2022_compliance_XY_NCOLUMNS2.msa';
    const g = GOLDEN.files[key]!;
    const s = await readInstrumentFile(pathOf(key));
    // The file declares #NPOINTS 21 and holds 21 pairs; its one-pair-a-line sibling reads the same 21 values.
    const single = await readInstrumentFile(join(INSTRUMENTS, 'msa', 'ISO_22029_2022_compliance.msa'));
    expect(s.d).toBe(21);
    expect(Array.from(s.spectra)).toEqual(Array.from(single.spectra));
    // HyperSpy 1.7.3 (a bug later fixed in rosettasciio) keeps values 0, 2, 4, …: those equal ours.
    expect(g.values).toEqual(Array.from(s.spectra).filter((_, i) => i % 2 === 0));
    expect(s.axis.offset).toBe(g.axes[0]!.offset);
    expect(s.axis.scale).toBe(g.axes[0]!.scale);
  });

  it.skipIf(!HAVE_SHARED)('metadata: beam energy, convergence and collection angles, exposure and title as HyperSpy maps them', async () => {
    for (const key of ['instruments/digitalmicrograph/1D/test-EELS_spectrum.dm3', 'instruments/digitalmicrograph/1D/test-EDS_spectrum.dm3',
      'instruments/msa/example1.msa', 'fixtures/hyperspy_si.hspy']) {
      const g = GOLDEN.files[key]!.metadata!;
      const m = (await readInstrumentFile(pathOf(key))).metadata;
      if (g.title) expect(m.title, key).toBe(g.title);
      if (g.beam_energy !== null) expect(m.beam_energy_keV, key).toBe(g.beam_energy);
      if (g.convergence_angle !== null) expect(m.convergence_angle_mrad, key).toBe(g.convergence_angle);
      if (g.collection_angle !== null) expect(m.collection_angle_mrad, key).toBe(g.collection_angle);
      if (g.exposure !== null) expectClose(m.exposure_s as number, g.exposure, 1e-6, `${key} exposure`);
    }
    const eels = (await readInstrumentFile(pathOf('instruments/digitalmicrograph/1D/test-EELS_spectrum.dm3'))).metadata;
    expect(eels.exposure_s).toBeGreaterThan(0);
    expect(eels.convergence_angle_mrad).toBe(21);
  });
});
