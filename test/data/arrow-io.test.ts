import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC, tableFromArrays, tableToIPC, FixedSizeList, Type } from 'apache-arrow';
import {
  readLatent, readRecords, readSpectra, requireCommonGrid, writeLatent, writeRecords, writeSpectra, type Cell, type SpectraTable,
} from '../../src/data/arrow-io.js';
import { StageError } from '../../src/core/stage-api.js';

const dir = mkdtempSync(join(tmpdir(), 'specflow-arrow-io-'));

function sample(): SpectraTable {
  return {
    n: 3, d: 4,
    ids: ['a', 'b', 'c'],
    labels: ['x', null, 'y'],
    spectra: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9.5, 10, 11, 12]),
    clean: Float32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]),
    axis: Float64Array.from([900, 902, 904, 906]),
    axisUnit: 'nm', axisName: 'wavelength',
    columns: { octane: [85.3, 88.1, null], batch: [1, 2, 3], ok: [true, false, true], site: ['n', 's', null] },
    metadata: { delta_mu: JSON.stringify([0.5, 0]) },
  };
}

describe('arrow-io', () => {
  it('round-trips a spectra table with clean, labels, metadata columns and schema metadata', async () => {
    const path = join(dir, 'spectra.arrow');
    const t = sample();
    await writeSpectra(path, t);
    const back = await readSpectra(path);
    expect(back.n).toBe(3);
    expect(back.d).toBe(4);
    expect(back.ids).toEqual(['a', 'b', 'c']);
    expect(back.labels).toEqual(['x', null, 'y']);
    expect(Array.from(back.spectra)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9.5, 10, 11, 12]);
    expect(Array.from(back.clean!)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(Array.from(back.axis)).toEqual([900, 902, 904, 906]);
    expect(back.axisUnit).toBe('nm');
    expect(back.axisName).toBe('wavelength');
    expect(back.columns).toEqual(t.columns);
    expect(back.metadata).toEqual(t.metadata);
    expect(back.ragged).toBeUndefined();
  });

  it('writes the standard IPC file format with a FixedSizeList<Float32> spectrum column', async () => {
    const path = join(dir, 'format.arrow');
    await writeSpectra(path, sample());
    const bytes = readFileSync(path);
    // IPC file format: "ARROW1" magic at both ends (what pyarrow.feather expects)
    expect(bytes.subarray(0, 6).toString('latin1')).toBe('ARROW1');
    expect(bytes.subarray(bytes.length - 6).toString('latin1')).toBe('ARROW1');
    const table = tableFromIPC(bytes);
    const spectrum = table.schema.fields.find((f) => f.name === 'spectrum')!;
    expect(spectrum.type.typeId).toBe(Type.FixedSizeList);
    expect((spectrum.type as FixedSizeList).listSize).toBe(4);
    expect((spectrum.type as FixedSizeList).children[0]!.type.typeId).toBe(Type.Float);
    expect(table.schema.fields.find((f) => f.name === 'batch')!.type.typeId).toBe(Type.Int);
  });

  it('round-trips ragged (long-layout) spectra and refuses them where a common grid is needed', async () => {
    const path = join(dir, 'ragged.arrow');
    const t: SpectraTable = {
      n: 2, d: 0, ids: ['p', 'q'], spectra: new Float32Array(0), axis: new Float64Array(0),
      axisUnit: 'm/z', axisName: 'mass-to-charge', columns: {}, metadata: {},
      ragged: { x: [Float64Array.from([1, 2, 3]), Float64Array.from([1.5, 2.5])], y: [Float32Array.from([4, 5, 6]), Float32Array.from([7, 8])] },
    };
    await writeSpectra(path, t);
    const back = await readSpectra(path);
    expect(back.d).toBe(0);
    expect(back.ragged!.x.map((a) => Array.from(a))).toEqual([[1, 2, 3], [1.5, 2.5]]);
    expect(back.ragged!.y.map((a) => Array.from(a))).toEqual([[4, 5, 6], [7, 8]]);
    expect(() => requireCommonGrid(back, 'preprocess')).toThrow(/different grids; add a `resample` step/);
    expect(() => requireCommonGrid(sample(), 'preprocess')).not.toThrow();
  });

  it('round-trips latent tables', async () => {
    const path = join(dir, 'latent.arrow');
    await writeLatent(path, { n: 2, k: 3, ids: ['a', 'b'], labels: ['0', '1'], z: Float32Array.from([1, 2, 3, 4, 5, 6]), columns: { err: [0.25, 0.5] }, metadata: { arch: 'dense' } });
    const back = await readLatent(path);
    expect(back.k).toBe(3);
    expect(Array.from(back.z)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.labels).toEqual(['0', '1']);
    expect(back.columns).toEqual({ err: [0.25, 0.5] });
    expect(back.metadata).toEqual({ arch: 'dense' });
  });

  it('round-trips plain records with forced types and metadata', async () => {
    const path = join(dir, 'records.arrow');
    const rows: Record<string, Cell>[] = [{ epoch: 1, loss: 0.5, note: 'a' }, { epoch: 2, loss: 0.25, note: null }, { epoch: 3, loss: 1, flag: true }];
    await writeRecords(path, rows, { run: 'x' }, { types: { loss: 'float64' } });
    const back = await readRecords(path);
    expect(back.rows).toEqual([
      { epoch: 1, loss: 0.5, note: 'a', flag: null },
      { epoch: 2, loss: 0.25, note: null, flag: null },
      { epoch: 3, loss: 1, note: null, flag: true },
    ]);
    expect(back.metadata).toEqual({ run: 'x' });
    const table = tableFromIPC(readFileSync(path));
    expect(table.schema.fields.find((f) => f.name === 'loss')!.type.typeId).toBe(Type.Float);
    expect(table.schema.fields.find((f) => f.name === 'epoch')!.type.typeId).toBe(Type.Int);
  });

  it('writes and reads an empty record table and an empty spectra table', async () => {
    const path = join(dir, 'empty-records.arrow');
    await writeRecords(path, [], { note: 'none' });
    expect(await readRecords(path)).toEqual({ rows: [], metadata: { note: 'none' } });
    const sp = join(dir, 'empty-spectra.arrow');
    await writeSpectra(sp, { ...sample(), n: 0, ids: [], labels: [], spectra: new Float32Array(0), clean: new Float32Array(0), columns: {} });
    const back = await readSpectra(sp);
    expect(back.n).toBe(0);
    expect(back.d).toBe(4);
    expect(Array.from(back.axis)).toEqual([900, 902, 904, 906]);
  });

  it('gives a StageError naming the file when it is not a spectra table', async () => {
    const path = join(dir, 'plain.arrow');
    writeFileSync(path, tableToIPC(tableFromArrays({ a: Float64Array.from([1, 2]) }), 'file'));
    await expect(readSpectra(path)).rejects.toThrow(StageError);
    await expect(readSpectra(path)).rejects.toThrow(/plain\.arrow: not a spectra table/);
    const junk = join(dir, 'junk.arrow');
    writeFileSync(junk, 'id,x\n1,2\n');
    await expect(readSpectra(junk)).rejects.toThrow(/junk\.arrow: not an Arrow IPC/);
    // a CSV given as Arrow is named by its first bytes, not by apache-arrow's "Expected to read 1865180265 metadata bytes"
    writeFileSync(junk, 'id,octane,900,902,904,906\na,1,2,3,4,5\n');
    await expect(readSpectra(junk)).rejects.toThrow(/^junk\.arrow: not an Arrow IPC \/ Feather v2 file: it starts with "id,octane,900,902,904,90" \(text\), not ARROW1$/);
    writeFileSync(junk, Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    await expect(readSpectra(junk)).rejects.toThrow(/^junk\.arrow: not an Arrow IPC \/ Feather v2 file: it starts with 89 48 44 46 0d 0a 1a 0a, not ARROW1$/);
  });
});

describe('spectrum images', () => {
  it('keeps x/y navigation columns and the map shape through a write and a read', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { setSpectrumMap, spectrumMapOf, readSpectra: read, writeSpectra: write } = await import('../../src/data/arrow-io.js');
    const dir = await mkdtemp(join(tmpdir(), 'specflow-map-'));
    const metadata: Record<string, string> = {};
    setSpectrumMap(metadata, { width: 3, height: 2, xUnit: 'µm', yUnit: 'µm' });
    const n = 6;
    await write(join(dir, 'm.arrow'), {
      n, d: 2, ids: ['a', 'b', 'c', 'd', 'e', 'f'], spectra: new Float32Array(12).fill(1), axis: Float64Array.from([1, 2]),
      axisUnit: 'eV', axisName: 'energy', metadata,
      columns: { x: [0, 0.5, 1, 0, 0.5, 1], y: [0, 0, 0, 2, 2, 2] },
    });
    const back = await read(join(dir, 'm.arrow'));
    expect(back.columns.x).toEqual([0, 0.5, 1, 0, 0.5, 1]);
    expect(back.columns.y).toEqual([0, 0, 0, 2, 2, 2]);
    expect(spectrumMapOf(back.metadata, back.n)).toEqual({ width: 3, height: 2, xUnit: 'µm', yUnit: 'µm' });
    // A subset of the pixels is no longer an image.
    expect(spectrumMapOf(back.metadata, 5)).toBeUndefined();
  });
});
