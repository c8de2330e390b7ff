/**
 * Renishaw WDF and Horiba LabSpec XML, which HyperSpy 1.7 cannot read: expected values
 * come from the reader tests of HyperSpy's rosettasciio (github.com/hyperspy/rosettasciio,
 * commit bc254db, rsciio/tests/test_renishaw.py and rsciio/tests/test_jobinyvon.py, which
 * load these same files); each number below names the test it comes from.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInstrumentFile } from '../../src/data/formats/detect.js';
import { ROOT } from '../runner/helpers.js';

const INSTRUMENTS = join(ROOT, '..', 'shared', 'data', 'instruments');
const HAVE = existsSync(INSTRUMENTS);
if (!HAVE) console.warn(`!!! ${INSTRUMENTS} is absent: the WDF and LabSpec XML reader checks on real files are SKIPPED !!!`);

function close(actual: ArrayLike<number>, expected: number[], rtol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(actual[i]! - e), `value ${i}: ${actual[i]} vs ${e}`).toBeLessThanOrEqual(rtol * Math.max(1, Math.abs(e))));
}

describe.skipIf(!HAVE)('Renishaw WDF (expected values: rosettasciio test_renishaw.py)', () => {
  it('single spectrum: 36 points, first and last six values, wavelength axis in nm, header metadata', async () => {
    const s = await readInstrumentFile(join(INSTRUMENTS, 'renishaw', 'renishaw_test_spectrum.wdf'));
    expect([s.n, s.d]).toEqual([1, 36]); // TestSpec.test_data: len(data) == 36
    // TestSpec.test_data: expected_data_start / expected_data_end
    close(s.spectra.subarray(0, 6), [65.36617, 67.51018, 60.00703, 62.75381, 64.59786, 61.309525]);
    close(s.spectra.subarray(30), [63.337173, 64.90067, 61.871353, 59.75822, 67.45442, 68.10285]);
    // TestSpec.test_axes: non-uniform axis values, and the uniform fit (offset 326.01 ± 0.01, scale 0.0847 rtol 3e-4), units nm
    close(s.axis.values.subarray(0, 6), [326.01633, 326.101, 326.18573, 326.27042, 326.35513, 326.43985]);
    expect(Math.abs(s.axis.offset! - 326.01)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(s.axis.scale! - 0.0847) / 0.0847).toBeLessThanOrEqual(3e-4);
    expect(s.axis.unit).toBe('nm');
    expect(s.navigation).toEqual([]);
    // TestSpec.test_original_metadata_WDF1 / test_metadata: title, user, accumulations, laser 325 nm (30769.2 cm-1), start 2022-02-16 13:01:31
    expect(s.metadata.title).toBe('Single scan measurement 7');
    expect(s.metadata.user).toBe('optik');
    expect(s.metadata.accumulations).toBe(4);
    expect(s.metadata.laser_wavelength_nm).toBeCloseTo(325, 3);
    expect(s.metadata.acquisition_start).toBe('2022-02-16T13:01:31.439Z');
    expect(s.metadata.measurement_type).toBe('Single');
  });

  it('line scan: 5 spectra × 40 points along a line 30 µm a step; first/last spectrum values; axis fit; stage positions kept', async () => {
    const s = await readInstrumentFile(join(INSTRUMENTS, 'renishaw', 'renishaw_test_linescan.wdf'));
    expect([s.n, s.d]).toEqual([5, 40]); // TestLinescan.test_data: shape (5, 40)
    // TestLinescan.test_data: expected_column0_start/end (first spectrum), expected_column4_start/end (last)
    close(s.spectra.subarray(0, 4), [0.0, 1.1029433, 1.1034185, 0.0]);
    close(s.spectra.subarray(34, 40), [1.4914633, 1.8651184, 0.74636304, 1.120018, -0.7469943, 0.0]);
    close(s.spectra.subarray(160, 164), [0.7349788, 1.4705911, 0.36780614, -0.73592895]);
    close(s.spectra.subarray(194, 200), [0.74573165, 1.4920948, 0.37318152, 1.4933574, 0.7469943, 1.1209648]);
    // TestLinescan.test_axes: navigation "Abs. Distance" offset 0 scale 30 µm; signal offset 361.3127556405415, scale 0.08534686462516697 nm
    expect(s.navigation).toHaveLength(1);
    expect(s.navigation[0]!.size).toBe(5);
    expect(s.navigation[0]!.offset).toBe(0);
    expect(s.navigation[0]!.scale).toBeCloseTo(30, 5);
    expect(s.navigation[0]!.unit).toBe('µm');
    close([s.axis.offset!, s.axis.scale!], [361.3127556405415, 0.08534686462516697], 1e-7);
    expect(s.axis.unit).toBe('nm');
    expect(Array.from(s.coords!.x)).toEqual([0, 1, 2, 3, 4].map((i) => i * s.navigation[0]!.scale));
    // the stage positions of each spectrum (ORGN block) travel as columns; a line of 5 points 30 µm apart
    const sx = s.columns!.stage_x!, sy = s.columns!.stage_y!;
    expect(Math.hypot(sx[4]! - sx[0]!, sy[4]! - sy[0]!)).toBeCloseTo(120, 3);
  });
});

describe.skipIf(!HAVE)('Horiba Jobin Yvon LabSpec XML (expected values: rosettasciio test_jobinyvon.py)', () => {
  it('single spectrum: 34 values reversed to an ascending wavelength axis (scale 0.4481, offset 522.6)', async () => {
    const s = await readInstrumentFile(join(INSTRUMENTS, 'jobinyvon', 'jobinyvon_test_spec.xml'));
    expect([s.n, s.d]).toEqual([1, 34]);
    // TestSpec.test_data (line 142): spec_data = [1496, 1242, 1094, …, 727, 764, 760]; spec_data[::-1] == s.data
    expect(Array.from(s.spectra.subarray(0, 3))).toEqual([760, 764, 727]);
    expect(Array.from(s.spectra.subarray(31))).toEqual([1094, 1242, 1496]);
    // TestSpec.test_axes: scale 0.4481 (atol 1e-4), offset 522.6 (atol 0.05), name Wavelength, units nm
    expect(Math.abs(s.axis.scale! - 0.4481)).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(s.axis.offset! - 522.6)).toBeLessThanOrEqual(0.05);
    expect([s.axis.unit, s.axis.name]).toEqual(['nm', 'wavelength']);
    // TestSpec metadata tests: exposure 1 s, 2 accumulations (frames), detector temperature -118.94, binning 30
    expect(s.metadata['Acq. time (s)']).toBe(1);
    expect(s.metadata.Accumulations).toBe(2);
    expect(s.metadata['Detector temperature (°C)']).toBe(-118.94);
    expect(s.metadata.Binning).toBe(30);
  });

  it('3 × 2 map: six spectra x fastest, X offset -2 scale 2 µm, Y offset -1 scale 2 µm; map rows as in the test', async () => {
    const s = await readInstrumentFile(join(INSTRUMENTS, 'jobinyvon', 'jobinyvon_test_map_x3-y2.xml'));
    expect([s.n, s.d]).toEqual([6, 34]);
    // TestMap.test_axes: axis-1 X size 3 offset -2 scale 2 µm; axis-0 Y size 2 offset -1 scale 2 µm
    expect(s.navigation).toEqual([
      { name: 'x', unit: 'µm', size: 3, offset: -2, scale: 2 },
      { name: 'y', unit: 'µm', size: 2, offset: -1, scale: 2 },
    ]);
    // TestMap.test_axes: signal scale 1.5416 (atol 1e-4), offset 720.967 (atol 0.05)
    expect(Math.abs(s.axis.scale! - 1.5416)).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(s.axis.offset! - 720.967)).toBeLessThanOrEqual(0.05);
    // TestMap.test_data (lines 716–897): map_row<i>[::-1] == s.inav[i % 3, i // 3]; first and last three of each row
    const rows: [number[], number[]][] = [
      [[275.5, 214.5, 206.5], [133.5, 141.5, 144]],
      [[295.5, 234, 206.5], [136.5, 128.5, 139.5]],
      [[257.5, 210, 198], [140.5, 133.5, 136]],
      [[257, 202, 176], [116.5, 112.5, 108.5]],
      [[262, 206.5, 183], [142.5, 135.5, 136.5]],
      [[254.5, 206.5, 178], [119.5, 108.5, 108.5]],
    ];
    rows.forEach(([head, tail], i) => {
      const ours = Array.from(s.spectra.subarray(i * 34, (i + 1) * 34)).reverse();
      expect(ours.slice(0, 3), `map row ${i}`).toEqual(head);
      expect(ours.slice(31), `map row ${i}`).toEqual(tail);
    });
    expect(Array.from(s.coords!.x)).toEqual([-2, 0, 2, -2, 0, 2]);
    expect(Array.from(s.coords!.y!)).toEqual([-1, -1, -1, 1, 1, 1]);
    // laser wavelength: the precise value LabSpec stores beside "633" (TestSpec metadata: 632.817)
    expect(s.metadata['Laser (nm)']).toBe(632.817);
  });
});
