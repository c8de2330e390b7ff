/**
 * Instrument files leave the readers with an ascending spectral axis (crop and resample
 * take it so): a descending calibration is reversed, axis and channels together; a
 * flat or zig-zag axis is refused. MSA files written here: a negative #XPERCHAN is
 * the simplest descending calibration any format can state.
 */
import { describe, expect, it } from 'vitest';
import { readInstrumentBytes } from '../../src/data/formats/detect.js';

const msa = (xperchan: string) => new TextEncoder().encode([
  '#FORMAT      : EMSA/MAS Spectral Data File', '#VERSION     : 1.0', '#TITLE       : t', '#NPOINTS     : 4', '#NCOLUMNS    : 1',
  '#XUNITS      : eV', '#DATATYPE    : Y', `#XPERCHAN    : ${xperchan}`, '#OFFSET      : 100', '#SPECTRUM    :',
  '1', '2', '3', '4', '#ENDOFDATA   :', ''].join('\n'));

describe('instrument spectra have an ascending axis', () => {
  it('a descending calibration (#XPERCHAN -2 from 100) is reversed: axis 94…100, channels 4, 3, 2, 1', async () => {
    const s = await readInstrumentBytes(msa('-2'), 'down.msa');
    expect(Array.from(s.axis.values)).toEqual([94, 96, 98, 100]);
    expect(Array.from(s.spectra)).toEqual([4, 3, 2, 1]);
    expect([s.axis.offset, s.axis.scale]).toEqual([94, 2]);
    expect(s.notes.join('\n')).toContain('down.msa: the spectral axis descends in the file (100 to 94); axis and spectra reversed to ascend');
  });

  it('an ascending one is left as it is', async () => {
    const s = await readInstrumentBytes(msa('2'), 'up.msa');
    expect(Array.from(s.axis.values)).toEqual([100, 102, 104, 106]);
    expect(Array.from(s.spectra)).toEqual([1, 2, 3, 4]);
    expect(s.notes).toEqual([]);
  });

  it('a scale of 0 (every channel at one position) is refused with one line', async () => {
    await expect(readInstrumentBytes(msa('0'), 'flat.msa')).rejects.toThrow(/^flat\.msa: the spectral axis is not monotonic: value 1 is 100 after 100 \(its scale is 0\)$/);
  });
});
