import { describe, expect, it } from 'vitest';
import { CsvTokenizer } from '../../src/data/load/csv-tokenizer.js';
import { referenceRecords } from './csv-reference.js';
import { decimalValue } from '../../src/data/load/raw-table.js';

/** The tokenizer's records for `text` cut at `cuts`, or the error it threw. */
function tokenize(text: string, cuts: number[], delimiter = 'auto'): { fields: string[]; line: number }[] | { error: string } {
  const t = new CsvTokenizer('f.csv', delimiter);
  const out: { fields: string[]; line: number }[] = [];
  try {
    let at = 0;
    for (const c of [...cuts, text.length]) {
      out.push(...t.push(text.slice(at, c)));
      at = c;
    }
    out.push(...t.end());
  } catch (e) {
    const m = /^f\.csv (line \d+): (.*)$/.exec((e as Error).message);
    return { error: m ? `${m[2]} ${m[1]}` : (e as Error).message };
  }
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('CsvTokenizer', () => {
  it('gives the records (fields and starting lines) of the whole-text reader it replaced, however the text is cut into pieces', () => {
    const alphabet = ['a', '1', ',', ',', ';', '\t', '"', '"', '\r', '\n', '\r\n', '\n', ' ', '#', '\uFEFF', 'é', '\0', '\u00a0', '\u2028', '\v'];
    const random = rng(42);
    let compared = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const len = Math.floor(random() * 40);
      let text = random() < 0.2 ? '\uFEFF' : '';
      for (let k = 0; k < len; k++) text += alphabet[Math.floor(random() * alphabet.length)]!;
      const delimiter = ['auto', 'auto', ',', ';', '\\t'][Math.floor(random() * 5)]!;
      const expected = referenceRecords(text, delimiter);
      const cuts = Array.from({ length: Math.floor(random() * 5) }, () => Math.floor(random() * (text.length + 1))).sort((a, b) => a - b);
      expect(tokenize(text, [], delimiter), JSON.stringify(text)).toEqual(expected);
      expect(tokenize(text, cuts, delimiter), `${JSON.stringify(text)} cut at ${cuts}`).toEqual(expected);
      // every single-character cut
      expect(tokenize(text, Array.from({ length: text.length }, (_, i) => i), delimiter), JSON.stringify(text)).toEqual(expected);
      compared++;
    }
    expect(compared).toBe(3000);
  });

  it('reads quoted fields, embedded newlines and CRLF, and names the line of an unterminated quote', () => {
    const text = '\uFEFF# comment\r\nid,"note, text",1\r\n\r\ns1,"said ""hi""",2\r\ns2,"two\r\nlines",3\r\ns3,plain,4';
    expect(tokenize(text, [3, 20, 21, 44, 45])).toEqual([
      { fields: ['id', 'note, text', '1'], line: 2 },
      { fields: ['s1', 'said "hi"', '2'], line: 4 },
      { fields: ['s2', 'two\r\nlines', '3'], line: 5 },
      { fields: ['s3', 'plain', '4'], line: 7 },
    ]);
    expect(tokenize('a,b\n1,"2\n3,4\n', [5])).toEqual({ error: 'unterminated quoted field line 2' });
  });
});

describe('decimalValue', () => {
  it('is Number(s) for exactly the texts the number pattern accepts, to the bit (fast path or not)', () => {
    const pattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
    const random = rng(7);
    const pick = (chars: string) => chars[Math.floor(random() * chars.length)]!;
    const texts = ['0', '-0', '+0.0', '1.', '.5', '.', '-', '', 'e5', '1e', '1e+', '1e-22', '9007199254740993', '123456789012345', '1234567890123456',
      '0.1', '0.30000000000000004', '1e22', '1e23', '4.9e-324', '1e-400', '1e400', '-.5E-3', '00012.50', ' 1', '1 ', '0x10', '1_0', 'Infinity', 'NaN'];
    for (let k = 0; k < 20000; k++) {
      const len = 1 + Math.floor(random() * 22);
      let t = '';
      for (let j = 0; j < len; j++) t += random() < 0.75 ? pick('0123456789') : pick('+-.eE0123456789 x');
      texts.push(t);
    }
    let numbers = 0;
    for (const t of texts) {
      const expected = pattern.test(t) ? Number(t) : undefined;
      const got = decimalValue(t);
      expect(got === undefined ? 'not a number' : Object.is(got, expected), t).toBe(expected === undefined ? 'not a number' : true);
      if (expected !== undefined) numbers++;
    }
    expect(numbers).toBeGreaterThan(2000);
  });
});
