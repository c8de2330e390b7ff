/**
 * YAML text → plain JS value plus the source position of every key and value,
 * so any later check can say `FILE:LINE:COL`.
 *
 * `${name}` references are not valid plain scalars inside YAML flow mappings
 * (`{ arch: ${arch} }` is a syntax error), yet that is how people write them.
 * Before parsing, each `${` … `}` is rewritten to `$⟨` … `⟩`, which has the same
 * length in UTF-16 code units, so positions stay exact.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { Located, SourcePos } from './errors.js';

export const REF_OPEN = '$\u27e8';
export const REF_CLOSE = '\u27e9';
const REF_PATTERN = /\$\{([^{}\n]*)\}/g;

export type Path = (string | number)[];

export interface PositionIndex {
  /** Position of the value at a path. */
  value(path: Path): SourcePos | undefined;
  /** Position of the key of a mapping entry (falls back to the value). */
  key(path: Path): SourcePos | undefined;
}

export interface ParsedYaml {
  value: unknown;
  positions: PositionIndex;
  errors: Located[];
}

export function pathKey(path: Path): string {
  return JSON.stringify(path);
}

export function parseYamlWithPositions(text: string, file: string): ParsedYaml {
  const rewritten = text.replace(REF_PATTERN, (_m, name: string) => `${REF_OPEN}${name}${REF_CLOSE}`);
  const lineCounter = new LineCounter();
  const deep = tooDeep(rewritten);
  if (deep !== undefined) {
    const counter = new LineCounter();
    counter.addNewLine(0);
    for (let i = rewritten.indexOf('\n'); i >= 0; i = rewritten.indexOf('\n', i + 1)) counter.addNewLine(i + 1);
    const p = counter.linePos(deep);
    const message = `nested more than ${MAX_NESTING} levels deep; a pipeline needs a handful`;
    return { value: null, errors: [{ file, pos: { line: p.line, col: p.col }, message }], positions: { value: () => undefined, key: () => undefined } };
  }
  // uniqueKeys is checked below with a set: the parser's own check is quadratic in the number of keys
  const doc = parseDocument(rewritten, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const at = (offset: number | undefined): SourcePos | undefined => {
    if (offset === undefined) return undefined;
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const errors: Located[] = doc.errors.map((e) => ({
    file,
    pos: at(e.pos[0]),
    message: `YAML syntax error: ${firstLine(e.message)}`,
  }));
  const duplicates: Located[] = [];
  const values = new Map<string, SourcePos>();
  const keys = new Map<string, SourcePos>();

  const walk = (node: unknown, path: Path): unknown => {
    if (!node) return null;
    const n = node as Node;
    const pos = at(n.range?.[0]);
    if (pos) values.set(pathKey(path), pos);
    if (isMap(n)) {
      const out: Record<string, unknown> = {};
      const seen = new Set<string>();
      for (const item of n.items) {
        if (!isPair(item)) continue;
        const k = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const childPath = [...path, k];
        const kpos = at((item.key as Node | null)?.range?.[0]);
        if (seen.has(k)) duplicates.push({ file, pos: kpos, message: 'YAML syntax error: Map keys must be unique' });
        seen.add(k);
        if (kpos) keys.set(pathKey(childPath), kpos);
        out[k] = walk(item.value, childPath);
        if (item.value === null && kpos && !values.has(pathKey(childPath))) values.set(pathKey(childPath), kpos);
      }
      return out;
    }
    if (isSeq(n)) return n.items.map((item, i) => walk(item, [...path, i]));
    if (isScalar(n)) return n.value;
    return null;
  };
  const walked = errors.length ? null : walk(doc.contents, []);
  errors.push(...duplicates.slice(0, 1));
  const value = errors.length ? null : walked;
  return {
    value,
    errors,
    positions: {
      value: (path) => nearest(values, path),
      key: (path) => keys.get(pathKey(path)) ?? nearest(values, path),
    },
  };
}

/** The position of the path, or of its closest ancestor that has one. */
function nearest(map: Map<string, SourcePos>, path: Path): SourcePos | undefined {
  for (let i = path.length; i >= 0; i--) {
    const p = map.get(pathKey(path.slice(0, i)));
    if (p) return p;
  }
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** Deepest nesting accepted; the YAML parser recurses once per level and overflows the stack near a thousand. */
export const MAX_NESTING = 64;

/**
 * Offset of the first place nested deeper than MAX_NESTING, if any: block
 * indentation levels, `- ` entries opened on one line, and open flow brackets
 * (outside quotes and comments). A linear scan before parsing.
 */
function tooDeep(text: string): number | undefined {
  const indents: number[] = [];
  let flow = 0;
  let offset = 0;
  for (const line of text.split('\n')) {
    const lead = /^( *)((?:- +)*)/.exec(line)!;
    const content = line.slice(lead[0].length);
    if (flow === 0 && content !== '' && !content.startsWith('#')) {
      const indent = lead[1]!.length;
      while (indents.length && indents[indents.length - 1]! > indent) indents.pop();
      if (!indents.length || indents[indents.length - 1]! < indent) indents.push(indent);
      const dashes = (lead[2]!.match(/-/g) ?? []).length;
      if (indents.length + dashes > MAX_NESTING) return offset + lead[1]!.length;
    }
    let quote = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (quote) {
        if (c === quote) quote = '';
      } else if (c === '"' || c === "'") {
        if (i === 0 || /[\s,[{:]/.test(line[i - 1]!)) quote = c;
      } else if (c === '#' && (i === 0 || line[i - 1] === ' ')) {
        break;
      } else if (c === '{' || c === '[') {
        if (++flow + indents.length > MAX_NESTING) return offset + i;
      } else if ((c === '}' || c === ']') && flow > 0) {
        flow--;
      }
    }
    offset += line.length + 1;
  }
  return undefined;
}
