/** LZ4 decoding against blocks and frames worked out by hand from the format specification. */
import { describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { decodeLz4Block, decodeLz4Frame, newOutput } from '../../src/data/lz4.js';
import { runStageForTest } from '../../src/runner/testing.js';
import { readSpectra } from '../../src/data/arrow-io.js';
import { loadArrow } from '../../src/stages/load.js';
import { cli } from '../runner/helpers.js';

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const text = (b: Uint8Array) => String.fromCharCode(...b);

function block(bytes: number[]): string {
  const out = newOutput();
  decodeLz4Block(Uint8Array.from(bytes), 0, bytes.length, out);
  return text(out.buf.subarray(0, out.pos));
}

describe('LZ4 block format', () => {
  it('literals then a match: token 0x44, "abcd", offset 4 → "abcd" ×3, then 5 final literals', () => {
    expect(block([0x44, ...ascii('abcd'), 4, 0, 0x50, ...ascii('xyzzy')])).toBe('abcdabcdabcdxyzzy');
  });
  it('an overlapping match (offset 1) repeats a byte: "a" + 10 copies', () => {
    expect(block([0x16, ...ascii('a'), 1, 0, 0x10, ...ascii('b')])).toBe('a'.repeat(11) + 'b');
  });
  it('extended lengths: 20 literals (15 + 5), a match of 4 + 15 + 255 + 1 = 275', () => {
    const lits = 'ABCDEFGHIJKLMNOPQRST';
    expect(block([0xf0, 5, ...ascii(lits)])).toBe(lits);
    expect(block([0x1f, ...ascii('z'), 1, 0, 255, 1, 0x10, ...ascii('!')])).toBe('z'.repeat(276) + '!');
  });
  it('rejects an offset reaching before the start of the output', () => {
    expect(() => block([0x10, ...ascii('a'), 2, 0])).toThrow(/invalid match offset 2/);
  });
});

describe('LZ4 frame format', () => {
  it('decodes a frame with a stored block, a compressed block, an end mark and a content checksum', () => {
    const stored = ascii('hello ');
    const compressed = [0x44, ...ascii('abcd'), 4, 0, 0x50, ...ascii('world')];
    const frame = [
      0x04, 0x22, 0x4d, 0x18, // magic 0x184D2204, little-endian
      0x64, 0x40, 0x00, // FLG: version 01, independent blocks, content checksum; BD: 64 KB; header checksum
      stored.length, 0, 0, 0x80, ...stored, // high bit: stored (uncompressed) block
      compressed.length, 0, 0, 0, ...compressed,
      0, 0, 0, 0, // end mark
      1, 2, 3, 4, // content checksum (not verified)
    ];
    expect(text(decodeLz4Frame(Uint8Array.from(frame)))).toBe('hello abcdabcdabcdworld');
  });
  it('reads the optional content size, block checksums, and concatenated frames', () => {
    const one = [0x04, 0x22, 0x4d, 0x18, 0x78, 0x40, 3, 0, 0, 0, 0, 0, 0, 0, 0x00, 3, 0, 0, 0x80, ...ascii('abc'), 9, 9, 9, 9, 0, 0, 0, 0];
    const two = [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x00, 2, 0, 0, 0x80, ...ascii('de'), 0, 0, 0, 0];
    expect(text(decodeLz4Frame(Uint8Array.from([...one, ...two])))).toBe('abcde');
  });
  it('rejects a wrong magic number', () => {
    expect(() => decodeLz4Frame(Uint8Array.from([1, 2, 3, 4, 0x60, 0x40, 0]))).toThrow(/bad frame magic/);
  });
});

describe('load.arrow with compressed Feather files', () => {
  const FIX = resolve(import.meta.dirname, '../fixtures/data');
  it('reads an LZ4-compressed wide table (the pandas to_feather default)', async () => {
    const r = await runStageForTest(loadArrow, { params: { path: join(FIX, 'wide-lz4.arrow'), unit: 'nm' } });
    const t = await readSpectra(r.outputs.spectra!);
    expect(t.n).toBe(40);
    expect(Array.from(t.axis)).toEqual([600, 602, 604, 606, 608]);
    for (let i = 0; i < 40; i++) for (let j = 0; j < 5; j++) expect(t.spectra[i * 5 + j]).toBe(i / 8 + j);
    expect(t.ids[39]).toBe('c39');
  });
  it('says what to do with a ZSTD-compressed file', async () => {
    await expect(runStageForTest(loadArrow, { params: { path: join(FIX, 'wide-zstd.arrow') } })).rejects.toThrow(/wide-zstd\.arrow: the file is ZSTD-compressed/);
  });
  it('`specflow show` reads the LZ4 file too, and refuses the ZSTD one with the same remedy', () => {
    const lz4 = cli(['show', join(FIX, 'wide-lz4.arrow'), '--head', '1']);
    expect(lz4.status).toBe(0);
    expect(lz4.stdout).toMatch(/^40 rows × \d+ columns/);
    const zstd = cli(['show', join(FIX, 'wide-zstd.arrow')]);
    expect(zstd.status).toBe(1);
    expect(zstd.stderr.trim()).toBe(`${join(FIX, 'wide-zstd.arrow')}: the file is ZSTD-compressed, which this reader does not decode; write it uncompressed or with LZ4 (pandas: df.to_feather(path, compression="lz4"))`);
  });
});
