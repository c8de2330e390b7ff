/**
 * The report reads spectra tables record batch by record batch (a spectrum image
 * of 10⁶ spectra is gigabytes): group means and sds, example rows and scalar
 * columns from a table cut into 2-row batches, checked against hand-worked values.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readFieldsAndMetadata, readScalarColumns, writeSpectra, type SpectraTable } from '../../src/data/arrow-io.js';
import { groupRows, pickExamples, streamSpectra } from '../../src/report/spectra-stream.js';
import { buildSections, classify } from '../../src/report/sections.js';
import type { InputArtifact } from '../../src/core/stage-api.js';
import { tempDir } from '../runner/helpers.js';

const saved = process.env.SPECFLOW_BATCH_ROWS;
afterEach(() => {
  if (saved === undefined) delete process.env.SPECFLOW_BATCH_ROWS;
  else process.env.SPECFLOW_BATCH_ROWS = saved;
});

/** 6 spectra × 2 channels in three record batches of 2 rows. */
async function sixRows(): Promise<string> {
  process.env.SPECFLOW_BATCH_ROWS = '2';
  const t: SpectraTable = {
    n: 6, d: 2, ids: ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'], labels: ['b', 'a', 'b', 'a', 'b', null],
    spectra: Float32Array.from([1, 2, 3, 5, 5, 6, 7, 13, 9, 10, 0, 0]),
    clean: Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4]),
    axis: Float64Array.from([700, 701]), axisUnit: 'eV', axisName: 'energy loss',
    columns: { error: [0.5, 1, 1.5, 2, 2.5, 3] }, columnTypes: { error: 'float64' }, metadata: { 'specflow.map': '{"width":3,"height":2}' },
  };
  const path = join(tempDir(), 'six.arrow');
  await writeSpectra(path, t);
  return path;
}

describe('reading a spectra table for the report, batch by batch', () => {
  it('group means and sds over batches are the hand-worked ones, examples round-robin over labels', async () => {
    const path = await sixRows();
    const { n, columns } = await readScalarColumns(path, ['label']);
    expect(n).toBe(6);
    const groups = groupRows(columns.label, n);
    // labels in natural order, a missing label as "(none)"
    expect([...groups]).toEqual([['(none)', [5]], ['a', [1, 3]], ['b', [0, 2, 4]]]);
    expect(pickExamples(groups, 4)).toEqual([5, 1, 0, 3]);
    const wanted = new Set([5, 1, 0, 3]);
    const r = await streamSpectra(path, (row) => wanted.has(row), { groups, labels: columns.label });
    expect(r.head).toMatchObject({ n: 6, d: 2, axisUnit: 'eV', axisName: 'energy loss', ragged: false, hasClean: true });
    expect(Array.from(r.head!.axis)).toEqual([700, 701]);
    // a: rows (3,5), (7,13): mean (5, 9), sd √((2²+2²)/1) = √8, √((4²+4²)/1) = √32
    // b: rows (1,2), (5,6), (9,10): mean (5, 6), sd √((4²+0+4²)/2) = 4 in both channels
    // (none): one row (0,0): mean (0,0), sd 0 (n − 1 = 0 divides as 1)
    expect(r.groups.map((g) => [g.label, g.count, Array.from(g.values), Array.from(g.sd)])).toEqual([
      ['(none)', 1, [0, 0], [0, 0]],
      ['a', 2, [5, 9], [Math.sqrt(8), Math.sqrt(32)]],
      ['b', 3, [5, 6], [4, 4]],
    ]);
    // the example rows, in table order, with their clean spectra
    expect(r.rows.map((x) => [x.row, x.id, x.label, Array.from(x.spectrum), Array.from(x.clean!)])).toEqual([
      [0, 'p0', 'b', [1, 2], [0, 0]],
      [1, 'p1', 'a', [3, 5], [0, 0]],
      [3, 'p3', 'a', [7, 13], [0, 0]],
      [5, 'p5', null, [0, 0], [4, 4]],
    ]);
  });

  it('sums only the groups asked for (the first 12 labels of a table with a label per row)', async () => {
    const path = await sixRows();
    const { columns } = await readScalarColumns(path, ['label']);
    const groups = new Map([...groupRows(columns.label, 6)].slice(0, 2));
    const r = await streamSpectra(path, (_, id) => id === 'p4', { groups, labels: columns.label });
    expect(r.groups.map((g) => g.label)).toEqual(['(none)', 'a']);
    expect(r.rows.map((x) => x.id)).toEqual(['p4']);
  });

  it('scalar columns come from every batch, without the spectra; the schema without any batch', async () => {
    const path = await sixRows();
    const { n, columns } = await readScalarColumns(path, ['id', 'error', 'spectrum', 'nope']);
    expect(n).toBe(6);
    // `spectrum` is a list column and `nope` does not exist: neither is returned
    expect(Object.keys(columns).sort()).toEqual(['error', 'id']);
    expect(columns.id).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
    expect(columns.error).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);
    const { fields, metadata } = await readFieldsAndMetadata(path);
    expect(fields).toEqual(['id', 'label', 'error', 'spectrum', 'clean']);
    expect(metadata['specflow.map']).toBe('{"width":3,"height":2}');
  });

  it('a table of more labels than the chart draws says so in the title of the means', async () => {
    const dir = tempDir();
    const titles = async (labels: number): Promise<string> => {
      const path = join(dir, `l${labels}.arrow`);
      await writeSpectra(path, {
        n: labels, d: 2, ids: Array.from({ length: labels }, (_, i) => `s${i}`), labels: Array.from({ length: labels }, (_, i) => `c${i}`),
        spectra: new Float32Array(2 * labels), axis: Float64Array.from([1, 2]), axisUnit: '', axisName: '', columns: {}, metadata: {},
      });
      const item = await classify({ path, kind: 'table', from: 'spectra.spectra', key: `k${labels}`, stage: 'spectra' } as InputArtifact);
      const data = (await buildSections([item], { examples: 2, reconstructions: 0 })).find((x) => x.id === 'data')!;
      const means = data.figures.find((f) => f.title === 'spectra: mean ± sd per label')!;
      return JSON.stringify((means.spec as { title: unknown }).title);
    };
    expect(await titles(13)).toContain('spectra: mean ± 1 sd per label (first 12 of 13 labels)');
    expect(await titles(12)).not.toContain('first');
  });
});
