/** A report fed two clusterings of one set of codes draws each, named, instead of the last one under a generic title. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeLatent, writeRecords } from '../../src/data/arrow-io.js';
import { buildSections, classify } from '../../src/report/sections.js';
import type { InputArtifact } from '../../src/core/stage-api.js';
import { tempDir } from '../runner/helpers.js';

describe('several clusterings in one report', () => {
  it('a scatter per clustering, titled by its stage, each with its own clusters', async () => {
    const dir = tempDir();
    const ids = ['a0', 'a1', 'b0', 'b1'];
    await writeLatent(join(dir, 'codes.arrow'), { n: 4, k: 2, ids, labels: ['a', 'a', 'b', 'b'], z: Float32Array.from([0, 0, 0, 1, 5, 5, 5, 6]), columns: {}, metadata: { 'specflow.kind': 'latent' } });
    await writeRecords(join(dir, 'km.arrow'), ids.map((id, i) => ({ id, cluster: i < 2 ? 0 : 1 })), {}, { types: { cluster: 'int32' } });
    await writeRecords(join(dir, 'gmm.arrow'), ids.map((id, i) => ({ id, cluster: i })), {}, { types: { cluster: 'int32' } });
    const art = (name: string, stage: string, port: string): InputArtifact => ({ path: join(dir, `${name}.arrow`), kind: 'table', from: `${stage}.${port}`, key: name, stage } as InputArtifact);
    const items = await Promise.all([art('codes', 'codes', 'codes'), art('km', 'kmeans', 'assignments'), art('gmm', 'mixture', 'assignments')].map(classify));
    const latent = (await buildSections(items, { examples: 6, reconstructions: 3 })).find((x) => x.id === 'latent')!;
    const byCluster = latent.figures.filter((f) => f.title.includes('by cluster'));
    expect(byCluster.map((f) => f.title)).toEqual(['codes: latent codes by cluster (kmeans)', 'codes: latent codes by cluster (mixture)']);
    const groups = (f: (typeof byCluster)[number]): string[] => [...new Set((f.spec as { data: { values: { group: string }[] } }).data.values.map((v) => v.group))].sort();
    expect(groups(byCluster[0]!)).toEqual(['cluster 0', 'cluster 1']);
    expect(groups(byCluster[1]!)).toEqual(['cluster 0', 'cluster 1', 'cluster 2', 'cluster 3']);
  });
});
