/** Issue 17 items 8 and 10: deep nesting, huge sweeps and duplicate keys, checked in-process. */
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../src/runner/errors.js';
import { parsePipeline } from '../../src/runner/pipeline.js';
import { testRegistry } from '../runner/helpers.js';

async function problem(text: string, extra: { maxVariants?: number } = {}): Promise<string> {
  try {
    parsePipeline(text, 'p.yaml', { registry: await testRegistry(), ...extra });
  } catch (e) {
    expect(e).toBeInstanceOf(PipelineError);
    return (e as PipelineError).message;
  }
  return 'ok';
}

describe('pipeline limits', () => {
  it('a 5000-level nested mapping (block or flow) is a located error, not a stack overflow', async () => {
    let block = 'name: deep\nstages:\n  a:\n    type: test.rows\n    with:\n';
    let indent = '      ';
    for (let i = 0; i < 5000; i++) { block += `${indent}k${i}:\n`; indent += '  '; }
    expect(await problem(block)).toBe('p.yaml:67:129: nested more than 64 levels deep; a pipeline needs a handful');
    const flow = `name: deep\nstages:\n  a:\n    type: test.rows\n    with: ${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`;
    expect(await problem(flow)).toMatch(/^p\.yaml:5:\d+: nested more than 64 levels deep/);
  });

  it('60 levels are fine (the limit is not hit by ordinary files)', async () => {
    let text = 'name: ok\nparams:\n';
    let indent = '  ';
    for (let i = 0; i < 58; i++) { text += `${indent}k${i}:\n`; indent += '  '; }
    text += `${indent}leaf: 1\nstages:\n  a:\n    type: test.rows\n`;
    expect(await problem(text)).toBe('ok');
  });

  it('a duplicate key among 20,000 is still found (with a set: the parser\'s own check is quadratic)', async () => {
    const keys = Array.from({ length: 20000 }, (_, i) => `  p${i}: ${i}\n`).join('');
    expect(await problem(`name: dup\nparams:\n${keys}  p7: 1\nstages:\n  a:\n    type: test.rows\n`)).toBe('p.yaml:20003:3: "p7" is written twice in one mapping (first at line 10); keep one');
  });

  it('a sweep over the variant limit is refused before expansion; --max-variants raises it', async () => {
    const values = Array.from({ length: 2000 }, (_, i) => i + 1).join(', ');
    const text = `name: s\nsweep:\n  n: [${values}]\n  scale: [${values}]\nstages:\n  a:\n    type: test.rows\n    with: { n: "\${n}", scale: "\${scale}" }\n`;
    expect(await problem(text)).toBe('p.yaml:3:3: the sweep has 4,000,000 variants (n (2000) × scale (2000)); the limit is 10,000 (raise it with --max-variants N)');
    const small = 'name: s\nsweep:\n  n: [1, 2, 3]\n  scale: [1, 2]\nstages:\n  a:\n    type: test.rows\n    with: { n: "${n}", scale: "${scale}" }\n';
    expect(await problem(small, { maxVariants: 5 })).toMatch(/6 variants .* the limit is 5/);
    expect(await problem(small, { maxVariants: 6 })).toBe('ok');
  });
});
