/**
 * The corruption corpus: every format truncated at several offsets and with flipped
 * header bytes must give one line `FILE: <what is wrong> at byte N` — never values.
 * Through the CLI: exit 1, that line, no stack trace, nothing in the artifact store.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInstrumentBytes } from '../../src/data/formats/detect.js';
import { StageError } from '../../src/core/stage-api.js';
import { cli, ROOT, tempDir } from '../runner/helpers.js';

const INSTRUMENTS = join(ROOT, '..', 'shared', 'data', 'instruments');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'formats');
const HAVE = existsSync(INSTRUMENTS);
if (!HAVE) console.warn(`!!! ${INSTRUMENTS} is absent: the corruption corpus runs on the HDF5 fixtures only; DM/MSA/WDF/XML are SKIPPED !!!`);

/** `tail`: the last cut leaves off this many bytes — past the end of the data, DM3 has only zero padding
 * and a text file only its closing marker, so the last cut goes into what matters. */
interface Case { path: string; shared: boolean; tail?: number; flips: (bytes: Uint8Array) => number[] }

const at = (bytes: Uint8Array, text: string, plus = 0): number => {
  const i = Buffer.from(bytes).indexOf(text, 0, 'latin1');
  if (i < 0) throw new Error(`test setup: "${text}" not found`);
  return i + plus;
};

const CASES: Case[] = [
  // DM3: version byte, file-size high byte, byte-order flag, root tag count (bytes 14–17) high byte, first tag's kind byte
  { path: join(INSTRUMENTS, 'digitalmicrograph', '1D', 'test-EELS_spectrum.dm3'), shared: true, tail: 9, flips: () => [3, 4, 11, 14, 18] },
  // DM4: version, size, byte order (bytes 12–15), root tag count (8 bytes from 18), first tag kind
  { path: join(INSTRUMENTS, 'digitalmicrograph', '1D', 'test-1.dm4'), shared: true, tail: 9, flips: () => [3, 5, 15, 18, 26] },
  // MSA: the F of #FORMAT, the #SPECTRUM keyword, the #ENDOFDATA keyword, a digit of the first data value
  { path: join(INSTRUMENTS, 'msa', 'example1.msa'), shared: true, tail: 12, flips: (b) => [1, at(b, '#SPECTRUM', 2), at(b, '#ENDOFDATA', 2), at(b, '520.13, 4066', 9)] },
  // WDF: the W of WDF1, the header block's size (high byte), points per spectrum, the DATA block's name
  { path: join(INSTRUMENTS, 'renishaw', 'renishaw_test_linescan.wdf'), shared: true, flips: (b) => [0, 13, 60, at(b, 'DATA')] },
  // LabSpec XML: the root element's name, an axis value, a spectrum value, the matrix element's name
  { path: join(INSTRUMENTS, 'jobinyvon', 'jobinyvon_test_map_x3-y2.xml'), shared: true, tail: 12, flips: (b) => [at(b, '<LSX_Data', 2), at(b, '771.797', 1), at(b, '<LSX_Row', 40), at(b, '<LSX_Matrix', 5)] },
  // HDF5 (.hspy, NeXus): signature, superblock version, end-of-file address (high byte)
  { path: join(FIXTURES, 'hyperspy_si.hspy'), shared: false, flips: () => [1, 8, eofHighByte] },
  { path: join(FIXTURES, 'hyperspy_si.nxs'), shared: false, flips: () => [1, 8, eofHighByte] },
];
/** HyperSpy's h5py writes superblock version 0: the end-of-file address starts at byte 40. */
const eofHighByte = 40 + 5;

const LINE = (file: string) => new RegExp(`^${file.replace(/[.]/g, '\\.')}: [^\\n]+ at byte \\d+$`);

async function refusal(bytes: Uint8Array, file: string): Promise<string> {
  try {
    const s = await readInstrumentBytes(bytes, file);
    return `read without error: ${s.n} × ${s.d}`;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('corruption corpus: truncated files and flipped header bytes are refused with FILE: … at byte N', () => {
  for (const c of CASES) {
    const file = basename(c.path);
    it.skipIf(c.shared && !HAVE)(`${file}: truncated at 8 offsets and 3–5 flipped header bytes`, async () => {
      const bytes = new Uint8Array(readFileSync(c.path));
      const n = bytes.length;
      const cuts = [1, 9, 30, 100, Math.floor(n / 3), Math.floor(n / 2), Math.floor(0.9 * n), n - (c.tail ?? 1)];
      for (const cut of cuts) expect(await refusal(bytes.subarray(0, cut), file), `cut at ${cut} of ${n}`).toMatch(LINE(file));
      for (const flip of c.flips(bytes)) {
        const bad = bytes.slice();
        bad[flip] = bad[flip]! ^ 0xff;
        expect(await refusal(bad, file), `byte ${flip} flipped`).toMatch(LINE(file));
      }
    });
  }

  it('a flipped byte anywhere: a read or one StageError line, never a crash (DM fixtures; MSA, WDF, XML when shared data is here)', async () => {
    const paths = [join(FIXTURES, 'dm_si_float32.dm3'), join(FIXTURES, 'dm_linescan_int16_be.dm4')];
    if (HAVE) paths.push(...['msa/example1.msa', 'renishaw/renishaw_test_linescan.wdf', 'jobinyvon/jobinyvon_test_map_x3-y2.xml'].map((p) => join(INSTRUMENTS, p)));
    for (const path of paths) {
      const bytes = new Uint8Array(readFileSync(path));
      const step = Math.max(1, Math.floor(bytes.length / 120));
      for (let flip = 0; flip < bytes.length; flip += step) {
        const bad = bytes.slice();
        bad[flip] = bad[flip]! ^ 0xff;
        try {
          await readInstrumentBytes(bad, basename(path));
        } catch (e) {
          // Flips in the data themselves cannot be seen (these formats carry no checksums); the rest must be a clean refusal.
          expect(e, `${basename(path)} byte ${flip}: ${(e as Error).message}`).toBeInstanceOf(StageError);
          expect((e as Error).message, `${basename(path)} byte ${flip}`).not.toContain('\n');
        }
      }
    }
  });

  it.skipIf(!HAVE)('LabSpec XML whose <?xml?> prolog loses a quote (which the validator lets through): one line at the prolog, not the parser\'s stack', async () => {
    const bytes = new Uint8Array(readFileSync(join(INSTRUMENTS, 'jobinyvon', 'jobinyvon_test_map_x3-y2.xml')));
    const bad = bytes.slice();
    bad[at(bytes, 'version="', 8)] = 0xff; // the opening quote of version="1.0"
    const message = await refusal(bad, 'map.xml');
    expect(message).toBe('map.xml: not well-formed XML (Pi Tag is not closed) at byte 0');
  });

  it.skipIf(!HAVE)('LabSpec XML with two <LSX_Row>s of the same Index is refused, not read with a spectrum left at zero', async () => {
    const xml = readFileSync(join(INSTRUMENTS, 'jobinyvon', 'jobinyvon_test_map_x3-y2.xml'), 'utf8').replace('Index="1"', 'Index="0"');
    const message = await refusal(new TextEncoder().encode(xml), 'map.xml');
    expect(message).toMatch(/^map\.xml: two <LSX_Row>s have Index="0" at byte \d+$/);
  });

  it.skipIf(!HAVE)('MSA header values that are not numbers (or not a known #DATATYPE) are located at their own line, not at byte 0', async () => {
    const text = readFileSync(join(INSTRUMENTS, 'msa', 'example1.msa'), 'latin1');
    const bad = (from: string, to: string) => new Uint8Array(Buffer.from(text.replace(from, to), 'latin1'));
    const line = (key: string) => text.split('\n').findIndex((l) => l.startsWith(`#${key}`)) + 1;
    const byte = (key: string) => text.indexOf(`#${key}`);
    expect(await refusal(bad('#XPERCHAN    : 3.1', '#XPERCHAN    : 3,1.'), 'e.msa')).toBe(`e.msa: line ${line('XPERCHAN')}: #XPERCHAN is "3,1.", not a number at byte ${byte('XPERCHAN')}`);
    expect(await refusal(bad('#OFFSET      : 520.13', '#OFFSET      : x'), 'e.msa')).toBe(`e.msa: line ${line('OFFSET')}: #OFFSET is "x", not a number at byte ${byte('OFFSET')}`);
    // another file read as MSA (format: msa forced on a CSV) says so
    expect(await refusal(new TextEncoder().encode('id,label,400\na,x,1\n'), 'data.msa')).toBe('data.msa: not an EMSA/MSA file: line 1 is not a #KEYWORD line, expected #FORMAT at byte 0');
    expect(await refusal(bad('#DATATYPE    : XY', '#DATATYPE    : XYZ'), 'e.msa')).toBe(`e.msa: line ${line('DATATYPE')}: #DATATYPE is "XYZ", expected Y or XY at byte ${byte('DATATYPE')}`);
  });

  it.skipIf(!HAVE)('LabSpec XML: a bad row is located at its own <LSX_Row> (in bytes, after the µ of the tree), and hexadecimal is not a number', async () => {
    const xml = readFileSync(join(INSTRUMENTS, 'jobinyvon', 'jobinyvon_test_map_x3-y2.xml'), 'utf8');
    const fourth = Buffer.byteLength(xml.slice(0, xml.indexOf('<LSX_Row Format="6" Index="3"')), 'utf8');
    expect(fourth).toBeGreaterThan(xml.indexOf('<LSX_Row Format="6" Index="3"')); // the file has multi-byte characters before it
    // drop row 3's last value
    const rowStart = xml.indexOf('>', xml.indexOf('Index="3"')) + 1;
    const rowEnd = xml.indexOf('</LSX_Row>', rowStart);
    const cut = xml.slice(0, rowStart) + xml.slice(rowStart, rowEnd).trim().replace(/\s+\S+$/, '') + xml.slice(rowEnd);
    expect(await refusal(new TextEncoder().encode(cut), 'map.xml')).toBe(`map.xml: row 3 has 33 values, the axis has 34 at byte ${fourth}`);
    const hex = xml.slice(0, rowStart) + xml.slice(rowStart, rowEnd).replace(/\d+(\.\d+)?/, '0x10') + xml.slice(rowEnd);
    expect(await refusal(new TextEncoder().encode(hex), 'map.xml')).toBe(`map.xml: row 3: "0x10" is not a number at byte ${fourth}`);
  });

  it('HDF5 damage past the superblock: one line naming what HDF5 found (HDF5 gives no offset), never its error stack', async () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'hyperspy_si.hspy')));
    // bytes 682 (a local heap's signature), 1070 (an object address), 9024 (a B-tree node) of this fixture
    for (const flip of [682, 1070, 9024]) {
      const bad = bytes.slice();
      bad[flip] = bad[flip]! ^ 0xff;
      const message = await refusal(bad, 'hyperspy_si.hspy');
      expect(message, `byte ${flip}`).toMatch(/^hyperspy_si\.hspy: the file is corrupt: HDF5 cannot read it \([^\n]+\)$/);
    }
    // an object address made huge (bytes 1620–1625): the signal group is listed but cannot be opened — said so, not a JavaScript TypeError's text
    const bad = bytes.slice();
    new DataView(bad.buffer).setBigUint64(1620, 0x0000ffffffffffffn, true);
    expect(await refusal(bad, 'hyperspy_si.hspy')).toMatch(/^hyperspy_si\.hspy: the file is corrupt: Experiments\/synt\S* is listed but HDF5 cannot open it$/);
  });

  it.skipIf(!HAVE)('through the CLI: `show` and `run` of a corrupt file print the one line, exit 1, and store nothing', () => {
    const dir = tempDir();
    const store = join(dir, 'store');
    CASES.filter((x) => x.shared).forEach((c, i) => {
      const file = basename(c.path);
      const bytes = readFileSync(c.path);
      writeFileSync(join(dir, file), bytes.subarray(0, Math.floor(bytes.length / 2)));
      const shown = cli(['show', join(dir, file)]);
      expect(shown.status, shown.stderr).toBe(1);
      expect(shown.stderr.trim(), file).toMatch(LINE(file));
      if (i % 2 === 1) return; // `run` on three of the five formats keeps the test short
      writeFileSync(join(dir, 'p.yaml'), `name: bad\nstages:\n  s:\n    type: load\n    with: {path: ${file}}\n`);
      const ran = cli(['run', join(dir, 'p.yaml'), '--store', store], { plugins: '' });
      expect(ran.status, ran.stderr).toBe(1);
      expect(ran.stderr.split('\n').some((l) => LINE(file).test(l.trim())), ran.stderr).toBe(true);
      expect(ran.stderr).not.toMatch(/\n\s+at /);
    });
    expect(readdirSync(join(store, 'objects'))).toEqual([]);
  });
});
