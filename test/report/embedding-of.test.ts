/**
 * Two code tables of the same spectra (PCA and an autoencoder) share every id: an
 * embedding of one must not be drawn as the picture of the other.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeColumns, writeLatent } from '../../src/data/arrow-io.js';
import { buildSections, classify } from '../../src/report/sections.js';
import type { InputArtifact } from '../../src/core/stage-api.js';
import { tempDir } from '../runner/helpers.js';

describe('an embedding belongs to the codes it maps', () => {
  it('codes whose ids an embedding of other codes shares keep their own scatter; the embedding is drawn on its own', async () => {
    const dir = tempDir();
    const ids = ['p0', 'p1', 'p2', 'p3'];
    const z3 = Float32Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
    await writeLatent(join(dir, 'pca.arrow'), { n: 4, k: 3, ids, z: z3, columns: {}, metadata: { 'specflow.kind': 'latent' } });
    await writeLatent(join(dir, 'ae.arrow'), { n: 4, k: 3, ids, z: z3, columns: {}, metadata: { 'specflow.kind': 'latent' } });
    // an embedding of the autoencoder's codes (its producer's key is "key-ae")
    await writeColumns(join(dir, 'emb.arrow'), { id: ids, x: [9, 8, 7, 6], y: [1, 2, 3, 4] },
      { 'specflow.kind': 'embedding', 'specflow.embed_method': 'pca', 'specflow.embed_column': 'z', 'specflow.embed_of': 'key-ae' },
      { types: { id: 'utf8', x: 'float64', y: 'float64' } });
    const art = (name: string, stage: string, port: string): InputArtifact => ({ path: join(dir, `${name}.arrow`), kind: 'table', from: `${stage}.${port}`, key: `key-${name}`, stage } as InputArtifact);
    // only the PCA codes and the embedding of the AE codes feed the report
    const items = await Promise.all([art('pca', 'codes', 'codes'), art('emb', 'pcaemb', 'embedding')].map(classify));
    const latent = (await buildSections(items, { examples: 6, reconstructions: 3 })).find((x) => x.id === 'latent')!;
    // the PCA codes are drawn by their first two dimensions, not through the AE codes' embedding
    expect(latent.notes.join(' ')).toContain('codes: 3-dimensional codes; the scatter shows the first two dimensions');
    expect(latent.notes.join(' ')).not.toContain('shown through');
    expect(latent.figures.map((f) => f.title)).toEqual(['codes: latent codes', 'pcaemb: 2-D pca embedding']);
    const xs = (i: number): number[] => (latent.figures[i]!.spec as { data: { values: { x: number }[] } }).data.values.map((v) => v.x);
    expect(xs(0)).toEqual([0, 1, 2, 3]);
    expect(xs(1)).toEqual([9, 8, 7, 6]);

    // fed the AE codes it maps, the embedding is their picture
    const mine = await Promise.all([art('ae', 'aecodes', 'codes'), art('emb', 'pcaemb', 'embedding')].map(classify));
    const drawn = (await buildSections(mine, { examples: 6, reconstructions: 3 })).find((x) => x.id === 'latent')!;
    expect(drawn.notes.join(' ')).toContain('aecodes: 3-dimensional codes shown through the 2-D pca embedding of pcaemb');
    expect(drawn.figures.map((f) => f.title)).toEqual(['aecodes: latent codes']);
  });
});
