import { describe, expect, it } from 'vitest';
import { toText, type CompareTable } from '../../src/commands/compare.js';

const table: CompareTable = {
  columns: ['variant', 'arch', 'channels', 'ae.loss', 'report.figures'],
  rows: [
    { variant: 'arch=dense', arch: 'dense', channels: 64, 'ae.loss': 0.5, 'report.figures': 18 },
    { variant: 'arch=conv1d', arch: 'conv1d', channels: 64, 'ae.loss': 0.25, 'report.figures': 18 },
  ],
};

describe('compare, the text table', () => {
  it('lists the columns equal in every row once, under the table', () => {
    expect(toText(table, 200)).toBe([
      'variant      arch    ae.loss',
      '───────────  ──────  ───────',
      'arch=dense   dense   0.5',
      'arch=conv1d  conv1d  0.25',
      'same in every row: channels 64 · report.figures 18',
      '',
    ].join('\n'));
  });

  it('turns a table wider than the terminal, when that is narrower: a row per column, a column per variant', () => {
    const many: CompareTable = {
      columns: ['variant', 'arch', 'ae.loss', 'ae.val_loss', 'clusters.ari'],
      rows: [
        { variant: 'arch=dense', arch: 'dense', 'ae.loss': 0.5, 'ae.val_loss': 0.75, 'clusters.ari': 1 },
        { variant: 'arch=conv1d', arch: 'conv1d', 'ae.loss': 0.25, 'ae.val_loss': 0.5, 'clusters.ari': 0.5 },
      ],
    };
    // 11 + 6 + 7 + 11 + 12 characters and 4 gaps of 2 = 55 wide; turned, 12 + 10 + 11 and 2 gaps = 37
    expect(toText(many, 55)).toMatch(/^variant {6}arch/);
    expect(toText(many, 54)).toBe([
      '              arch=dense  arch=conv1d',
      '────────────  ──────────  ───────────',
      'arch          dense       conv1d',
      'ae.loss       0.5         0.25',
      'ae.val_loss   0.75        0.5',
      'clusters.ari  1           0.5',
      '',
    ].join('\n'));
    // a table that turned would be wider stays as it is
    expect(toText(table, 10)).toMatch(/^variant {6}arch {4}ae\.loss\n/);
  });

  it('keeps a one-variant table whole', () => {
    expect(toText({ columns: ['variant', 'k'], rows: [{ variant: 'default', k: 4 }] }, 200)).toBe('variant  k\n───────  ─\ndefault  4\n');
  });
});
