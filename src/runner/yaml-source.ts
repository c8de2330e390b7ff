/**
 * YAML text → plain JS value plus the source position of every key and value,
 * so any later check can say `FILE:LINE:COL`.
 *
 * `${name}` references are not valid plain scalars inside YAML flow mappings
 * (`{ arch: ${arch} }` is a syntax error), yet that is how people write them.
 * Before parsing, each `${` … `}` is rewritten to `$⟨` … `⟩`, which has the same
 * length in UTF-16 code units, so positions stay exact.
 *
 * Aliases (`*name`) and merge keys (`<<: *name`) are resolved here, with a
 * bound on how much they may expand (a "billion laughs" file is an error at
 * the alias that crosses it, not a hang). Mappings are null-prototype objects,
 * so `__proto__` or `constructor` are ordinary keys. Non-finite numbers
 * (`.inf`, `.nan`, 1e999) are refused where they are written: they have no
 * JSON form, so they could neither be keyed nor cached faithfully.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Located, SourcePos } from './errors.js';

export const REF_OPEN = '$\u27e8';
export const REF_CLOSE = '\u27e9';
const REF_PATTERN = /\$\{([^{}\n]*)\}/g;

export type Path = (string | number)[];

/** A string as the user wrote it (`${name}`, not its masked `$⟨name⟩`), for messages. */
export function asWritten(s: string): string {
  return s.split(REF_OPEN).join('${').split(REF_CLOSE).join('}');
}

export interface PositionIndex {
  /** Position of the value at a path. */
  value(path: Path): SourcePos | undefined;
  /** Position of the key of a mapping entry (falls back to the value). */
  key(path: Path): SourcePos | undefined;
  /** Position of the value at exactly this path (undefined when the file does not write it). */
  exact(path: Path): SourcePos | undefined;
}

export interface ParsedYaml {
  value: unknown;
  positions: PositionIndex;
  errors: Located[];
}

export function pathKey(path: Path): string {
  return JSON.stringify(path);
}

/** How many nodes aliases may add to a document, in all (a shared block reused by every stage stays far below). */
export const MAX_ALIAS_NODES = 20_000;

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
    return { value: null, errors: [{ file, pos: { line: p.line, col: p.col }, message }], positions: { value: () => undefined, key: () => undefined, exact: () => undefined } };
  }
  // uniqueKeys is checked by the walker with a set: the parser's own check is quadratic in the number of keys
  const doc = parseDocument(rewritten, { lineCounter, uniqueKeys: false, prettyErrors: false, merge: true });
  const at = (offset: number | undefined): SourcePos | undefined => {
    if (offset === undefined) return undefined;
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const errors: Located[] = doc.errors.map((e) => ({
    file,
    pos: at(e.pos[0]),
    // the parser's own words here name its JavaScript API
    message: e.code === 'MULTIPLE_DOCS' ? 'a pipeline file holds one YAML document, but a second one starts here (after ---)' : `YAML syntax error: ${firstLine(e.message)}`,
  }));
  const values = new Map<string, SourcePos>();
  const keys = new Map<string, SourcePos>();
  const walker = new Walker(doc as Document, at, values, keys);
  let value: unknown = null;
  if (!errors.length) {
    try {
      value = walker.walk(doc.contents, []);
    } catch (e) {
      if (!(e instanceof LocatedProblem)) throw e;
      errors.push({ file, pos: e.pos, message: e.message });
    }
  }
  if (!errors.length && walker.duplicate) {
    const { pos, key, first } = walker.duplicate;
    errors.push({ file, pos, message: `"${asWritten(key)}" is written twice in one mapping${first ? ` (first at line ${first.line})` : ''}; keep one` });
    value = null;
  }
  return {
    value,
    errors,
    positions: {
      value: (path) => nearest(values, path),
      key: (path) => keys.get(pathKey(path)) ?? nearest(values, path),
      exact: (path) => values.get(pathKey(path)),
    },
  };
}

class LocatedProblem extends Error {
  constructor(message: string, readonly pos: SourcePos | undefined) {
    super(message);
  }
}

/** YAML nodes → plain values, recording each path's position; resolves aliases and merge keys. */
class Walker {
  private expanded = 0;
  /** The first key written twice in one mapping: where, and where it was first. */
  duplicate: { pos: SourcePos | undefined; key: string; first: SourcePos | undefined } | undefined;
  private readonly targets = new Map<Node, Node | undefined>();
  /** The aliases being expanded, outermost first, with their targets (a target reached again through itself is a cycle). */
  private readonly expanding: { target: Node; pos: SourcePos | undefined }[] = [];

  constructor(
    private readonly doc: Document,
    private readonly at: (offset: number | undefined) => SourcePos | undefined,
    private readonly values: Map<string, SourcePos>,
    private readonly keys: Map<string, SourcePos>,
  ) {}

  walk(node: unknown, path: Path): unknown {
    if (!node) return null;
    const n = node as Node;
    const pos = this.at(n.range?.[0]);
    if (pos && !this.values.has(pathKey(path))) this.values.set(pathKey(path), pos);
    if (this.expanding.length && ++this.expanded > MAX_ALIAS_NODES) {
      throw new LocatedProblem(`aliases expand this document beyond ${MAX_ALIAS_NODES} values; write the repeated parts out, or use \${params}`, this.expanding[0]!.pos);
    }
    if (isAlias(n)) return this.follow(n, path, pos);
    if (isMap(n)) {
      const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      const merges: unknown[] = [];
      const seen = new Map<string, SourcePos | undefined>();
      for (const item of n.items) {
        if (!isPair(item)) continue;
        if (isScalar(item.key) && typeof item.key.value === 'symbol') {
          merges.push(item.value);
          continue;
        }
        const k = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const childPath = [...path, k];
        const kpos = this.at((item.key as Node | null)?.range?.[0]);
        if (seen.has(k) && !this.duplicate) this.duplicate = { pos: kpos, key: k, first: seen.get(k) };
        if (!seen.has(k)) seen.set(k, kpos);
        if (kpos) this.keys.set(pathKey(childPath), kpos);
        out[k] = this.walk(item.value, childPath);
        if (item.value === null && kpos && !this.values.has(pathKey(childPath))) this.values.set(pathKey(childPath), kpos);
      }
      // `<<: *base` / `<<: [*a, *b]`: keys written in the mapping win, then the earlier source
      for (const m of merges) {
        const sources = isSeq(m) ? m.items : [m];
        for (const src of sources) {
          const srcPos = this.at((src as Node | null)?.range?.[0]) ?? pos;
          const merged = this.walk(src, path);
          if (typeof merged !== 'object' || merged === null || Array.isArray(merged)) {
            throw new LocatedProblem('a merge key `<<` takes a mapping, an alias of one, or a list of them', srcPos);
          }
          for (const [k, v] of Object.entries(merged)) if (!Object.hasOwn(out, k)) out[k] = v;
        }
      }
      return out;
    }
    if (isSeq(n)) return n.items.map((item, i) => this.walk(item, [...path, i]));
    if (isScalar(n)) {
      if (typeof n.value === 'number' && !Number.isFinite(n.value)) {
        throw new LocatedProblem(`${n.source ?? String(n.value)} is not a finite number; write a finite value (infinities and NaN cannot be keyed or stored)`, pos);
      }
      return n.value;
    }
    return null;
  }

  private follow(alias: Node & { source: string; resolve(doc: Document): Node | undefined }, path: Path, pos: SourcePos | undefined): unknown {
    // resolving searches the whole document: once per alias node, not once per use
    let target = this.targets.get(alias);
    if (!this.targets.has(alias)) {
      target = alias.resolve(this.doc);
      this.targets.set(alias, target);
    }
    if (!target) throw new LocatedProblem(`unknown alias *${alias.source}: no anchor &${alias.source} before it`, pos);
    if (this.expanding.some((e) => e.target === target)) throw new LocatedProblem(`alias *${alias.source} refers to a value that contains it`, pos);
    this.expanding.push({ target, pos });
    try {
      return this.walk(target, path);
    } finally {
      this.expanding.pop();
    }
  }
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
