/** The report says which ranking a feature-score table is: a permutation-importance table is not the network's relevance. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRecords } from '../../src/data/arrow-io.js';
import { buildSections, classify } from '../../src/report/sections.js';
import type { InputArtifact } from '../../src/core/stage-api.js';
import { tempDir } from '../runner/helpers.js';

async function scores(dir: string, name: string, kind: string, from: string): Promise<InputArtifact> {
  const path = join(dir, `${name}.arrow`);
  await writeRecords(path, [0, 1, 2].map((j) => ({ feature: j, axis: 400 + j, score: 0.1 * (3 - j), rank: j + 1 })),
    { 'specflow.kind': kind, 'specflow.axis_name': 'wavelength', 'specflow.axis_unit': 'nm' }, { types: { feature: 'int32', score: 'float64', rank: 'int32' } });
  return { path, kind: 'table', from, key: name, stage: from.split('.')[0] } as InputArtifact;
}

describe('feature scores in the report', () => {
  it('names the network\'s relevance and rank.features\' permutation importance apart', async () => {
    const dir = tempDir();
    const items = await Promise.all([await scores(dir, 'rel', 'relevance', 'train.relevance'), await scores(dir, 'perm', 'ranking', 'check.permutation')].map(classify));
    const s = (await buildSections(items, { examples: 6, reconstructions: 3 })).find((x) => x.id === 'relevance')!;
    expect(s.figures.map((f) => f.title)).toEqual(['train: relevance scores', 'check.permutation: permutation importance']);
    expect(s.tables.map((t) => t.caption)).toEqual(['train: top 10 inputs', 'check.permutation: top 10 inputs by permutation importance']);
  });
});
