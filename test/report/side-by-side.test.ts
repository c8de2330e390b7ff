import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InputArtifact } from '../../src/core/stage-api.js';
import { writeRecords } from '../../src/data/arrow-io.js';
import { groupRowNames } from '../../src/report/side-by-side.js';
import { tempDir } from '../runner/helpers.js';

const art = (path: string, variant: string): InputArtifact => ({ path, kind: 'table', from: 'x', key: path, variant, axes: {}, usedBy: [{ variant, axes: {} }] });

describe('pseudospectrum rows of cluster groups', () => {
  it('are named after the label each cluster overlaps most, so two models\' rows line up', async () => {
    const dir = tempDir();
    const labels = ['FeO', 'FeO', 'FeO', 'Fe2O3', 'Fe2O3', 'Fe2O3'];
    // the two models number the same phases differently
    const a = join(dir, 'a.arrow');
    const b = join(dir, 'b.arrow');
    await writeRecords(a, labels.map((label, i) => ({ id: `s${i}`, label, cluster: i < 3 ? 0 : 1 })), {}, { types: { cluster: 'int32' } });
    await writeRecords(b, labels.map((label, i) => ({ id: `s${i}`, label, cluster: i < 2 ? 1 : i === 2 ? 2 : 0 })), {}, { types: { cluster: 'int32' } });
    const clusters = [art(a, 'arch=dense'), art(b, 'arch=conv1d')];
    const namesA = await groupRowNames(art('/p/a', 'arch=dense'), ['0', '1'], clusters);
    const namesB = await groupRowNames(art('/p/b', 'arch=conv1d'), ['0', '1', '2'], clusters);
    expect(['0', '1'].map(namesA)).toEqual(['cluster ≈ FeO', 'cluster ≈ Fe2O3']);
    // cluster 1 holds 2 of the 3 FeO spectra, cluster 2 the third: it is left without a label
    expect(['0', '1', '2'].map(namesB)).toEqual(['cluster ≈ Fe2O3', 'cluster ≈ FeO', 'cluster 2 (no label)']);
  });

  it('label groups, or clusters without labels, keep their own names', async () => {
    const dir = tempDir();
    const withLabels = join(dir, 'l.arrow');
    await writeRecords(withLabels, [{ id: 'a', label: 'FeO', cluster: 0 }, { id: 'b', label: 'Fe2O3', cluster: 1 }], {}, { types: { cluster: 'int32' } });
    const noLabels = join(dir, 'n.arrow');
    await writeRecords(noLabels, [{ id: 'a', cluster: 0 }, { id: 'b', cluster: 1 }], {}, { types: { cluster: 'int32' } });
    expect((await groupRowNames(art('/p', 'v'), ['FeO', 'Fe2O3'], [art(withLabels, 'v')]))('FeO')).toBe('group FeO');
    expect((await groupRowNames(art('/p', 'v'), ['0', '1'], [art(noLabels, 'v')]))('0')).toBe('group 0');
    expect((await groupRowNames(art('/p', 'v'), ['0', '1'], []))('1')).toBe('group 1');
  });
});

describe('latent codes of every variant', () => {
  it('says how many dimensions each model has when a latent_dim sweep makes them differ', async () => {
    const { latentRow } = await import('../../src/report/side-by-side.js');
    const { writeLatent } = await import('../../src/data/arrow-io.js');
    const { sweepDesign } = await import('../../src/report/sweep-design.js');
    const dir = tempDir();
    const latents = await Promise.all([2, 8].map(async (k) => {
      const path = join(dir, `z${k}.arrow`);
      await writeLatent(path, { n: 3, k, ids: ['a', 'b', 'c'], labels: ['x', 'y', 'x'], z: Float32Array.from({ length: 3 * k }, (_, i) => i), columns: {}, metadata: {} });
      const variant = `latent_dim=${k}`;
      return { art: { path, kind: 'table.latent', from: 'codes', key: path, variant, axes: { latent_dim: k }, usedBy: [{ variant, axes: { latent_dim: k } }] } as InputArtifact, role: 'latent' as const, fields: [], metadata: {} };
    }));
    const design = sweepDesign([{ variant: 'latent_dim=2', axes: { latent_dim: 2 } }, { variant: 'latent_dim=8', axes: { latent_dim: 8 } }], []);
    const fig = await latentRow(latents, design);
    // not "of 8": the first model has 2
    expect(fig!.caption).toMatch(/^The first two latent dimensions of every variant \(models of 2 and 8 dimensions\), each model/);
  });
});
