/**
 * Issue 17, "must show": every bad input in test/fixtures/bad/cases.tsv exits 1 with
 * its one expected line, and no command — on that corpus, the broken-pipeline corpus
 * or any example pipeline — prints a JavaScript stack trace or "internal error".
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliAsync, collectOutput, ROOT, tempDir } from '../runner/helpers.js';

const BAD = join(ROOT, 'test', 'fixtures', 'bad');
const STACK = /^\s+at /m;

function expectNoCrash(output: string, what: string): void {
  expect(output, what).not.toMatch(STACK);
  expect(output, what).not.toMatch(/internal error/);
}

const cases = readFileSync(join(BAD, 'cases.tsv'), 'utf8').split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'))
  .map((l) => { const [name, args, expected] = l.split('\t') as [string, string, string]; return { name, args, expected }; });

// Each case is its own CLI process (~0.3 s of start-up, mostly waiting on a core): the cases
// run concurrently (vitest's maxConcurrency at a time) so that both cores stay busy.
describe.concurrent('bad-input corpus (test/fixtures/bad/cases.tsv)', () => {
  it('has the issue\'s cases', () => expect(cases.length).toBeGreaterThanOrEqual(25));

  for (const c of cases) {
    it(c.name, async ({ expect }) => {
      const args = c.args.split(' ').map((a) => a.replace('STORE', tempDir()));
      const r = await collectOutput(cliAsync(args, { cwd: BAD, plugins: '' }));
      expectNoCrash(r.stdout + r.stderr, c.name);
      expect(r.status, r.stderr).toBe(1);
      const lines = r.stderr.split('\n').map((l) => l.trim());
      expect(lines, r.stderr).toContain(c.expected);
      // said once, not once per display
      expect(lines.filter((l) => l.includes(c.expected)).length, r.stderr).toBe(1);
    });
  }
});

describe('no stack traces anywhere else', () => {
  // (test/fixtures/broken is checked line by line in test/runner/pipeline-errors.test.ts)
  it('every example pipeline validates without one', async () => {
    const examples = join(ROOT, 'pipelines');
    const files = readdirSync(examples).filter((x) => x.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    // two at a time: one per core
    for (let i = 0; i < files.length; i += 2) {
      const pair = files.slice(i, i + 2);
      const results = await Promise.all(pair.map((f) => collectOutput(cliAsync(['validate', join(examples, f)], { plugins: '' }))));
      results.forEach((r, j) => expectNoCrash(r.stdout + r.stderr, pair[j]!));
    }
  });
});
