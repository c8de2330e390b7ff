/**
 * WDF maps stored column after column (WMAP flag 2, what WiRE's StreamLine writes: y fastest)
 * must come out as the same row-major image (x fastest) as the map stored row by row, with
 * each spectrum's stage position where the grid puts it; an order the reader does not know
 * is refused rather than drawn scrambled. The files are written here, block by block, in
 * the layout `src/data/formats/wdf.ts` documents (no shared WDF file is a column-major map;
 * rosettasciio's renishaw_test_streamline.wdf is one, and reads the same way).
 */
import { describe, expect, it } from 'vitest';
import { readInstrumentBytes } from '../../src/data/formats/detect.js';

const W = 3, H = 2, POINTS = 4;
const X0 = -10, Y0 = 50, STEP = 2.5;

function block(name: string, uid: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + body.length);
  const v = new DataView(out.buffer);
  out.set(Buffer.from(name, 'latin1'), 0);
  v.setUint32(4, uid, true);
  v.setBigUint64(8, BigInt(out.length), true);
  out.set(body, 16);
  return out;
}

/** A W × H map whose spectrum at grid (x, y) holds 100·y + 10·x + k, in file order `order` (grid cells, as [x, y]). */
function wdfMap(flags: number, order: [number, number][]): Uint8Array {
  const count = order.length;
  const head = new Uint8Array(512 - 16);
  const h = new DataView(head.buffer);
  const at = (offset: number) => offset - 16; // offsets in the block, header included
  h.setUint32(at(60), POINTS, true);
  h.setBigUint64(at(64), BigInt(W * H), true); // capacity
  h.setBigUint64(at(72), BigInt(count), true);
  h.setUint32(at(80), 1, true); // accumulations
  h.setUint32(at(88), POINTS, true); // XLST length
  h.setUint32(at(92), 2, true); // origins
  h.setUint32(at(132), 3, true); // measurement type: Mapping
  const xlst = new Uint8Array(8 + 4 * POINTS);
  const xv = new DataView(xlst.buffer);
  xv.setUint32(4, 1, true); // cm-1
  for (let k = 0; k < POINTS; k++) xv.setFloat32(8 + 4 * k, 100 + k, true);
  const data = new Uint8Array(4 * POINTS * count);
  const dv = new DataView(data.buffer);
  order.forEach(([x, y], s) => {
    for (let k = 0; k < POINTS; k++) dv.setFloat32(4 * (s * POINTS + k), 100 * y + 10 * x + k, true);
  });
  const orgn = new Uint8Array(4 + 2 * (24 + 8 * count));
  const ov = new DataView(orgn.buffer);
  ov.setUint32(0, 2, true);
  [[3, 0], [4, 1]].forEach(([type, axis], i) => {
    const base = 4 + i * (24 + 8 * count);
    ov.setUint32(base, type! | 0x80000000, true);
    ov.setUint32(base + 4, 5, true); // µm
    order.forEach((cell, s) => ov.setFloat64(base + 24 + 8 * s, (axis === 0 ? X0 : Y0) + cell[axis!]! * STEP, true));
  });
  const wmap = new Uint8Array(48);
  const wv = new DataView(wmap.buffer);
  wv.setUint32(0, flags, true);
  [X0, Y0, 0].forEach((o, i) => wv.setFloat32(8 + 4 * i, o, true));
  [STEP, STEP, 1].forEach((s, i) => wv.setFloat32(20 + 4 * i, s, true));
  [W, H, 1].forEach((n, i) => wv.setUint32(32 + 4 * i, n, true));
  return Buffer.concat([block('WDF1', 1, head), block('XLST', 0, xlst), block('DATA', 0, data), block('ORGN', 0, orgn), block('WMAP', 0, wmap)]);
}

const rowMajor: [number, number][] = [];
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) rowMajor.push([x, y]);
const columnMajor: [number, number][] = [];
for (let x = 0; x < W; x++) for (let y = 0; y < H; y++) columnMajor.push([x, y]);

describe('WDF map order', () => {
  it('a column-major map (WMAP flag 2) reads as the same row-major image, stage positions and all', async () => {
    const rows = await readInstrumentBytes(wdfMap(0, rowMajor), 'rows.wdf');
    const cols = await readInstrumentBytes(wdfMap(2, columnMajor), 'cols.wdf');
    // Row y·W + x holds the spectrum taken at (x, y): 100·y + 10·x + k.
    const expected = rowMajor.flatMap(([x, y]) => [0, 1, 2, 3].map((k) => 100 * y + 10 * x + k));
    expect(Array.from(rows.spectra)).toEqual(expected);
    expect(Array.from(cols.spectra)).toEqual(expected);
    expect(cols.navigation.map((a) => [a.name, a.size])).toEqual([['x', W], ['y', H]]);
    expect(Array.from(cols.coords!.x)).toEqual(rowMajor.map(([x]) => X0 + x * STEP));
    expect(Array.from(cols.coords!.y!)).toEqual(rowMajor.map(([, y]) => Y0 + y * STEP));
    expect(Array.from(cols.columns!.stage_x!)).toEqual(Array.from(cols.coords!.x));
    expect(Array.from(cols.columns!.stage_y!)).toEqual(Array.from(cols.coords!.y!));
  });

  it('an interrupted column-major map keeps its complete columns', async () => {
    const s = await readInstrumentBytes(wdfMap(2, columnMajor.slice(0, 2 * H)), 'cut.wdf');
    expect(s.navigation.map((a) => a.size)).toEqual([2, H]);
    expect(Array.from(s.spectra.filter((_, i) => i % POINTS === 0))).toEqual([0, 10, 100, 110]);
  });

  it('a map whose stage positions do not follow the grid (a snake scan, flag 4) is refused, not scrambled', async () => {
    const snake: [number, number][] = [[0, 0], [1, 0], [2, 0], [2, 1], [1, 1], [0, 1]];
    await expect(readInstrumentBytes(wdfMap(4, snake), 'snake.wdf')).rejects.toThrow(
      /^snake\.wdf: spectrum 3 was taken at stage x -5 but falls at x -10, y 52\.5 on the map grid: a map order this reader does not know \(WMAP flags 4\) at byte \d+$/);
  });
});
