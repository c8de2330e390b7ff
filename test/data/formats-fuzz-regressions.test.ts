/**
 * One test per distinct failure scripts/fuzz-readers.mjs found (seed 1): each mutant is rebuilt here
 * from a small file, not read from the fuzzer's output.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { readInstrumentBytes } from '../../src/data/formats/detect.js';
import { hdf5Deadline, readHdf5Bounded } from '../../src/data/formats/hdf5-thread.js';
import { loadArrowFile } from '../../src/data/load/arrow-source.js';
import { parseCsv } from '../../src/data/load/csv-parse.js';
import { ROOT, tempDir } from '../runner/helpers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'formats');

/** A 2-row Arrow file (IPC file format) and where its footer is: before the last 10 bytes (length, ARROW1). */
function arrowFile(): { bytes: Uint8Array; footer: number; end: number } {
  const bytes = new Uint8Array(tableToIPC(tableFromArrays({ id: ['a', 'b'], '400': Float64Array.from([1, 2]) }), 'file'));
  const end = bytes.length - 10;
  return { bytes, footer: end - new DataView(bytes.buffer).getInt32(end, true), end };
}

/** Every mutant `set(view, at)` over the footer (4-byte steps): none may hang, each is a read or one located line. */
async function overFooter(set: (v: DataView, at: number) => void): Promise<string[]> {
  const { bytes, footer, end } = arrowFile();
  const messages: string[] = [];
  for (let at = footer; at + 8 <= end; at += 4) {
    const bad = bytes.slice();
    set(new DataView(bad.buffer), at);
    const m = await arrowError(bad);
    expect(m, `at ${at}`).toMatch(/^(read \d+ × \d+|m\.arrow[ :][^\n]+)$/);
    messages.push(m);
  }
  return messages;
}

async function arrowError(bytes: Uint8Array): Promise<string> {
  const path = join(tempDir(), 'm.arrow');
  writeFileSync(path, bytes);
  try {
    const r = await loadArrowFile(path, { onNan: 'error', layout: 'wide' });
    return `read ${r.table.n} × ${r.table.d}`;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('mutants the reader fuzzer found', () => {
  it('Arrow: a footer block that points back at the schema message is refused (apache-arrow re-read it forever)', async () => {
    expect(await arrowError(arrowFile().bytes)).toBe('read 2 × 1');
    // one of these is the record batch's block offset: 8 is where the schema message starts
    const messages = await overFooter((v, at) => v.setBigInt64(at, 8n, true));
    expect(messages).toContain('m.arrow: the Arrow file is damaged: record batches block 1 does not hold a record batch');
  });

  it('Arrow: a footer listing 2^31 record batches is refused, not walked batch by batch', async () => {
    const messages = await overFooter((v, at) => v.setUint32(at, 2 ** 31, true));
    expect(messages).toContain('m.arrow: the Arrow file is damaged: the footer lists 2147483648 record batches, more than it can hold');
  });

  it('HDF5: a file the HDF5 library loops on ends at the deadline with one line, not a hang', async () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'hyperspy_si.nxs')));
    const bad = bytes.slice();
    // fuzzer case (seed 1): two bytes of a B-tree node of this fixture
    expect([bad[2121], bad[2128]]).toEqual([0, 3]);
    bad[2121] = 200;
    bad[2128] = 0;
    await expect(readHdf5Bounded(bad, 'si.nxs', 'nexus', 1500)).rejects.toThrow(/^si\.nxs: the file is corrupt: HDF5 did not finish reading it in 1\.5 s \(HDF5 gives no offset; on a very busy machine SPECFLOW_HDF5_TIMEOUT=SECONDS waits longer\)$/);
  }, 15_000);

  it('HDF5 deadline: 30 s plus 1 s a started 5 MB, or SPECFLOW_HDF5_TIMEOUT seconds', () => {
    expect(hdf5Deadline(0, undefined)).toBe(30_000);
    expect(hdf5Deadline(5e6 + 1, undefined)).toBe(32_000); // two started 5 MB blocks
    expect(hdf5Deadline(1e9, '600')).toBe(600_000);
    expect(hdf5Deadline(1e6, 'soon')).toBe(31_000); // not a number: the default
  });

  it('CSV: a header name that swallowed a line break (a lost closing quote) is refused at the header line', () => {
    expect(() => parseCsv('id,"a\nb",400\nx,1,2\n', 'f.csv')).toThrow(/^f\.csv line 1: column 2's name holds a line break \(a quote not closed\?\)$/);
  });

  it('DM: a NaN in the data block is said in a note with its place, not passed on silently', async () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'dm_si_float32.dm3')));
    const good = await readInstrumentBytes(bytes, 'si.dm3');
    expect(good.notes.join('\n')).not.toContain('NaN');
    // the first value's float32 bytes (little-endian in this file), set to a quiet NaN
    const first = new Uint8Array(Float32Array.of(good.spectra[0]!).buffer);
    const at = Buffer.from(bytes).indexOf(Buffer.from(first));
    expect(at).toBeGreaterThan(0);
    const bad = bytes.slice();
    new DataView(bad.buffer).setUint32(at, 0x7fc00000, true);
    const s = await readInstrumentBytes(bad, 'si.dm3');
    expect(s.notes).toContain('si.dm3: 1 value is NaN or ±Infinity (the first: spectrum 0, channel 0, NaN); the file may be damaged');
  });
});
