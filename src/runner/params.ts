/**
 * Validation of a stage's `with:` block against the JSON Schema its StageDef
 * contributes. Errors carry the JSON path of the offending value so the
 * pipeline loader can point at its line and column.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { StageDef } from './stage-api.js';
import { didYouMean } from './suggest.js';

export interface ParamError {
  /** Path inside `with:` (e.g. ['denoise', 'level']). */
  path: (string | number)[];
  /** Point at the key itself (unknown parameter) rather than the value. */
  atKey: boolean;
  message: string;
}

let ajv: Ajv | undefined;
const compiled = new WeakMap<StageDef, ValidateFunction>();

function getAjv(): Ajv {
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true, verbose: true });
    ajv.addKeyword({ keyword: 'x-path', schemaType: 'boolean' });
    ajv.addKeyword({ keyword: 'x-glob', schemaType: 'boolean' });
  }
  return ajv;
}

/** The stage's parameter schema, closed against unknown keys at the top level. */
export function paramSchema(def: StageDef): Record<string, unknown> {
  const schema = { type: 'object', additionalProperties: false, properties: {}, ...def.params };
  return schema;
}

function validator(def: StageDef): ValidateFunction {
  let v = compiled.get(def);
  if (!v) {
    v = getAjv().compile(paramSchema(def));
    compiled.set(def, v);
  }
  return v;
}

/**
 * A stage may accept other names for a parameter (`x-aliases` in its params
 * schema: alias → canonical name). The alias is renamed before validation, so
 * both spellings resolve to the same parameters and the same content key.
 */
function resolveAliases(def: StageDef, value: Record<string, unknown>): ParamError[] {
  const aliases = (def.params as { 'x-aliases'?: Record<string, string> })['x-aliases'] ?? {};
  const errors: ParamError[] = [];
  for (const [alias, canonical] of Object.entries(aliases)) {
    if (!Object.hasOwn(value, alias)) continue;
    if (Object.hasOwn(value, canonical)) {
      errors.push({ path: [alias], atKey: true, message: `"${alias}" is another name for "${canonical}", which is also given: keep one` });
      continue;
    }
    value[canonical] = value[alias];
    delete value[alias];
  }
  return errors;
}

/** Validate and default a copy of `raw`. */
export function validateParams(def: StageDef, raw: Record<string, unknown>): { value: Record<string, unknown>; errors: ParamError[] } {
  const value = structuredClone(raw);
  const aliasErrors = resolveAliases(def, value);
  if (aliasErrors.length) return { value, errors: aliasErrors };
  const validate = validator(def);
  if (validate(value)) return { value, errors: [] };
  return { value, errors: simplify(validate.errors ?? [], def) };
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((p) => {
    const s = p.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(s) ? Number(s) : s;
  });
}

function schemaAt(def: StageDef, path: (string | number)[]): Record<string, unknown> | undefined {
  let s: Record<string, unknown> | undefined = paramSchema(def);
  for (const p of path) {
    if (!s) return undefined;
    if (typeof p === 'number') s = s.items as Record<string, unknown> | undefined;
    else {
      const props = s.properties as Record<string, Record<string, unknown>> | undefined;
      s = props && Object.hasOwn(props, p) ? props[p] : undefined;
    }
  }
  return s;
}

function simplify(errors: ErrorObject[], def: StageDef): ParamError[] {
  // ajv reports every failing branch of a oneOf/anyOf; keep the most specific error per location.
  const out: ParamError[] = [];
  const seen = new Set<string>();
  const branchy = new Set(errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => e.instancePath));
  for (const e of errors) {
    const path = pointerToPath(e.instancePath);
    let err: ParamError;
    if (e.keyword === 'additionalProperties') {
      const name = String((e.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys((schemaAt(def, path)?.properties as object | undefined) ?? {});
      const hint = didYouMean(name, known);
      err = {
        path: [...path, name], atKey: true,
        message: `unknown parameter "${name}"${hint ? ` (did you mean "${hint}"?)` : known.length ? ` (known: ${known.join(', ')})` : ''}`,
      };
    } else if (e.keyword === 'required') {
      const name = String((e.params as { missingProperty: string }).missingProperty);
      err = { path, atKey: true, message: `missing required parameter "${name}"` };
    } else if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      const label = paramLabel(path);
      err = { path, atKey: false, message: `${label}must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}` };
    } else if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].includes(e.keyword)) {
      const p = e.params as { comparison: string; limit: number };
      err = { path, atKey: false, message: `${paramLabel(path)}out of range: must be ${p.comparison} ${p.limit}` };
    } else if (e.keyword === 'type') {
      err = { path, atKey: false, message: `${paramLabel(path)}must be ${article((e.params as { type: string }).type)}` };
    } else if ((e.keyword === 'oneOf' || e.keyword === 'anyOf')) {
      const s = schemaAt(def, path);
      const branches = ((s?.[e.keyword] as Record<string, unknown>[] | undefined) ?? []);
      const names = branches.flatMap((b) => (Array.isArray(b.enum) ? b.enum.filter((v): v is string => typeof v === 'string') : []));
      if (names.length > 0 && typeof e.data === 'string') {
        // a misspelt name is the usual cause: say which names exist, and the nearest one
        const hint = didYouMean(e.data, names);
        const others = branches.filter((b) => !Array.isArray(b.enum)).map((b) => (b.type === 'integer' && typeof b.maximum === 'number' ? `an index ${String(b.minimum ?? 0)}–${b.maximum}` : article(String(b.type))));
        err = {
          path, atKey: false,
          message: `${paramLabel(path)}has an unknown value ${JSON.stringify(e.data)}${hint ? ` (did you mean "${hint}"?)` : ''}: must be one of ${names.map((n) => JSON.stringify(n)).join(', ')}${others.length ? ` or ${others.join(' or ')}` : ''}`,
        };
      } else {
        // say what each branch takes, names first; the description only where a branch cannot be put in words
        const said = [...branches.filter((b) => Array.isArray(b.enum) || 'const' in b), ...branches.filter((b) => !Array.isArray(b.enum) && !('const' in b))].map(describeBranch);
        const desc = s?.description ? ` (${String(s.description)})` : '';
        err = said.every((d) => d !== undefined)
          ? { path, atKey: false, message: `${paramLabel(path)}has an invalid value ${shortValue(e.data)}: must be ${said.join(' or ')}` }
          : { path, atKey: false, message: `${paramLabel(path)}has an invalid value${desc}` };
      }
    } else {
      err = { path, atKey: false, message: `${paramLabel(path)}${e.message ?? 'is invalid'}` };
    }
    // inside a oneOf/anyOf, the branch errors are noise next to the summary
    const parent = e.instancePath;
    if (e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && branchy.has(parent) && e.keyword !== 'additionalProperties') continue;
    // …but an error inside the value (a list's item) says more than the summary: keep that one alone
    if ((e.keyword === 'oneOf' || e.keyword === 'anyOf') && errors.some((o) => o.instancePath.startsWith(`${parent}/`))) continue;
    const id = `${err.path.join('/')}|${err.message}`;
    if (!seen.has(id)) { seen.add(id); out.push(err); }
  }
  return out;
}

/** What one branch of an anyOf/oneOf takes, in words (undefined when it cannot be said briefly). */
function describeBranch(b: Record<string, unknown>): string | undefined {
  if (Array.isArray(b.enum)) return b.enum.map((v) => JSON.stringify(v)).join(', ');
  if ('const' in b) return JSON.stringify(b.const);
  if (b.type === 'integer' || b.type === 'number') {
    const kind = b.type === 'integer' ? 'a whole number' : 'a number';
    const lo = typeof b.minimum === 'number' ? `≥ ${b.minimum}` : typeof b.exclusiveMinimum === 'number' ? `> ${b.exclusiveMinimum}` : undefined;
    const hi = typeof b.maximum === 'number' ? `≤ ${b.maximum}` : typeof b.exclusiveMaximum === 'number' ? `< ${b.exclusiveMaximum}` : undefined;
    if (typeof b.minimum === 'number' && typeof b.maximum === 'number') return `${kind} from ${b.minimum} to ${b.maximum}`;
    return [kind, lo, hi].filter(Boolean).join(' ');
  }
  if (b.type === 'string') return 'a string';
  if (b.type === 'boolean') return 'true or false';
  if (b.type === 'array') {
    const items = b.items as Record<string, unknown> | undefined;
    const of = items && Array.isArray(items.enum) ? ` of ${b.uniqueItems ? 'distinct ' : ''}${items.enum.map((v) => JSON.stringify(v)).join(', ')}`
      : items?.type === 'string' ? ' of strings' : items?.type === 'number' || items?.type === 'integer' ? ' of numbers' : '';
    return `a ${typeof b.minItems === 'number' && b.minItems >= 1 ? 'non-empty ' : ''}list${of}`;
  }
  if (Array.isArray(b.required) && Object.keys(b).every((k) => k === 'required' || k === 'type')) {
    return `a mapping with ${b.required.map((r) => JSON.stringify(r)).join(' and ')}`;
  }
  return undefined;
}

function shortValue(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}…` : s;
}

function paramLabel(path: (string | number)[]): string {
  return path.length ? `parameter "${path.join('.')}" ` : '';
}

function article(type: string): string {
  if (type.includes(',')) return `one of: ${type}`;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
