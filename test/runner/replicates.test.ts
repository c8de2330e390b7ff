import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../../src/runner/pipeline.js';
import { planPipeline } from '../../src/runner/plan.js';
import { testRegistry } from './helpers.js';

const pipeline = async (text: string, sweep?: string[]) => parsePipeline(text, 'p.yaml', { registry: await testRegistry(), sweep });

const SWEEP = `name: reps
params: { scale: 1 }
sweep:
  scale: [1, 2]
  seed: [1, 2]
stages:
  rows:
    type: test.rows
    with: { n: 3, scale: \${scale} }
  total:
    type: test.sum
    in: rows
  compare:
    type: test.gather
    in: total
`;

describe('replicate axes', () => {
  it('a swept seed is a replicate by itself; `replicates:` adds others, in sweep order', async () => {
    expect((await pipeline(SWEEP)).replicates).toEqual(['seed']);
    expect((await pipeline(`${SWEEP}replicates: [scale]\n`)).replicates).toEqual(['seed', 'scale']);
    // an unswept pipeline has none
    expect((await pipeline(SWEEP.replace(/sweep:\n(.*\n){2}/, ''))).replicates).toEqual([]);
  });

  it('a name that is a param but not swept (pinned by --set) is accepted; a typo is not', async () => {
    const p = await pipeline(`${SWEEP.replace('  scale: [1, 2]\n', '')}replicates: [scale]\n`);
    expect(p.replicates).toEqual(['seed']);
    await expect(pipeline(`${SWEEP}replicates: [scael]\n`)).rejects.toThrow(/"scael" is not a sweep axis \(did you mean "scale"\?\)/);
    await expect(pipeline(`${SWEEP}replicates: seed\n`)).rejects.toThrow(/must be a list of sweep axis names/);
  });

  it('enter the key of a gathering stage only: marking an axis changes how a report summarises, not what stages compute', async () => {
    const plain = await planPipeline(await pipeline(SWEEP));
    const marked = await planPipeline(await pipeline(`${SWEEP}replicates: [scale]\n`));
    const key = (plan: typeof plain, stage: string) => plan.keys.get('scale=1,seed=1')!.get(stage)!;
    expect(key(marked, 'rows')).toBe(key(plain, 'rows'));
    expect(key(marked, 'total')).toBe(key(plain, 'total'));
    expect(key(marked, 'compare')).not.toBe(key(plain, 'compare'));
    expect(marked.byKey.get(key(marked, 'compare'))!.material.replicates).toEqual(['seed', 'scale']);
    expect(plain.byKey.get(key(plain, 'rows'))!.material).not.toHaveProperty('replicates');
  });
});

describe('a stage\'s own seed', () => {
  it('pins the stage across a seed sweep: computed once and shared, while the other stages follow the variant seed', async () => {
    const text = SWEEP.replace('    type: test.rows\n', '    type: test.rows\n    seed: 9\n');
    const plan = await planPipeline(await pipeline(text));
    const rows = new Set([...plan.keys.values()].map((k) => k.get('rows')));
    // one data set per scale, not per (scale, seed)
    expect(rows.size).toBe(2);
    const task = plan.byKey.get(plan.keys.get('scale=1,seed=2')!.get('rows')!)!;
    expect(task.seed).toBe(9);
    expect(task.material.seed).toBe(9);
    const unpinned = await planPipeline(await pipeline(SWEEP));
    expect(new Set([...unpinned.keys.values()].map((k) => k.get('rows'))).size).toBe(4);
  });
});
