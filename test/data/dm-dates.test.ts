/**
 * DM acquisition date and time: the DataBar tags, else the acquisition's own under
 * SI / EELS / EDS / CL (`<kind>.Acquisition.Date`, `Start time`), where rosettasciio
 * finds them too (its EELS_SI.dm4 has only the SI ones: "14/05/2019", "20:50:13").
 * The files are written here with the tag-tree layout of test/golden/dump_hyperspy.py's
 * minimal DM writer (DM3, little-endian data, a 4-channel float32 spectrum).
 */
import { describe, expect, it } from 'vitest';
import { readInstrumentBytes } from '../../src/data/formats/detect.js';

const be32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const tag = (kind: number, name: string, body: Buffer) => {
  const head = Buffer.alloc(3);
  head[0] = kind;
  head.writeUInt16BE(name.length, 1);
  return Buffer.concat([head, Buffer.from(name, 'latin1'), body]);
};
const group = (name: string, children: Buffer[]) => tag(20, name, Buffer.concat([Buffer.from([0, 0]), be32(children.length), ...children]));
const typed = (name: string, code: number, data: Buffer) => tag(21, name, Buffer.concat([Buffer.from('%%%%'), be32(1), be32(code), data]));
const f32 = (name: string, v: number) => { const b = Buffer.alloc(4); b.writeFloatLE(v); return typed(name, 6, b); };
const i32 = (name: string, v: number) => { const b = Buffer.alloc(4); b.writeInt32LE(v); return typed(name, 3, b); };
const u32 = (name: string, v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return typed(name, 5, b); };
const array = (name: string, code: number, count: number, data: Buffer) =>
  tag(21, name, Buffer.concat([Buffer.from('%%%%'), be32(3), be32(20), be32(code), be32(count), data]));
const text = (name: string, s: string) => array(name, 4, s.length, Buffer.from(s, 'utf16le'));

function dm3(imageTags: Buffer[]): Uint8Array {
  const values = Buffer.alloc(16);
  [1, 2, 3, 4].forEach((v, i) => values.writeFloatLE(v, 4 * i));
  const image = group('', [
    group('ImageData', [
      group('Calibrations', [group('Dimension', [group('', [f32('Origin', 0), f32('Scale', 1), text('Units', 'eV')])])]),
      array('Data', 6, 4, values),
      i32('DataType', 2),
      group('Dimensions', [u32('', 4)]),
    ]),
    group('ImageTags', imageTags),
    text('Name', 'dates'),
  ]);
  const body = Buffer.concat([Buffer.from([1, 0]), be32(1), group('ImageList', [image]), Buffer.alloc(8)]);
  return Buffer.concat([be32(3), be32(body.length - 4), be32(1), body]);
}

const acquisition = (kind: string) => group(kind, [group('Acquisition', [text('Date', '14/05/2019'), text('Start time', '20:50:13')])]);

describe('DM acquisition date and time', () => {
  for (const kind of ['SI', 'EELS', 'EDS', 'CL']) {
    it(`come from ${kind}.Acquisition when there is no DataBar`, async () => {
      const s = await readInstrumentBytes(dm3([acquisition(kind)]), 'a.dm3');
      expect(Array.from(s.spectra)).toEqual([1, 2, 3, 4]);
      expect([s.metadata.acquisition_date, s.metadata.acquisition_time]).toEqual(['14/05/2019', '20:50:13']);
    });
  }

  it('the DataBar\'s come first', async () => {
    const bar = group('DataBar', [text('Acquisition Date', '1/2/2020'), text('Acquisition Time', '08:00:00')]);
    const s = await readInstrumentBytes(dm3([bar, acquisition('SI')]), 'b.dm3');
    expect([s.metadata.acquisition_date, s.metadata.acquisition_time]).toEqual(['1/2/2020', '08:00:00']);
  });
});
