/**
 * Content keys. A stage's key is the SHA-256 of the canonical JSON of its key
 * material: type, implementation fingerprint (its module and every module it
 * imports relatively, plus the versions of the npm packages it declares),
 * resolved parameters (file parameters by content), seed, and input keys.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StageDef } from './stage-api.js';
import type { StageInstance } from './pipeline.js';

export interface KeyMaterial {
  type: string;
  impl: string;
  params: Record<string, unknown>;
  seed: number | null;
  inputs: Record<string, string[]>;
}

export interface ImplFingerprint {
  hash: string;
  /** Module paths (relative to the stage module's folder) → content hash. */
  files: Record<string, string>;
  packages: Record<string, string>;
}

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return JSON.stringify(String(value));
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function contentKey(material: KeyMaterial): string {
  return sha256(canonicalJson(material));
}

const implCache = new Map<StageDef, ImplFingerprint>();
const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

export function implementationFingerprint(def: StageDef): ImplFingerprint {
  const cached = implCache.get(def);
  if (cached) return cached;
  const entry = def.module.startsWith('file:') ? fileURLToPath(def.module) : resolve(def.module);
  const root = dirname(entry);
  const files: Record<string, string> = {};
  const pending = [entry];
  while (pending.length) {
    const file = pending.pop()!;
    const rel = relative(root, file) || '.';
    if (rel in files) continue;
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch {
      files[rel] = 'missing';
      continue;
    }
    files[rel] = sha256(source);
    for (const m of source.matchAll(IMPORT_RE)) {
      const target = resolveModule(dirname(file), m[1]!);
      if (target) pending.push(target);
    }
  }
  const packages: Record<string, string> = {};
  for (const name of def.packages ?? []) packages[name] = packageVersion(name, root);
  const hash = sha256(canonicalJson({ files, packages }));
  const fp = { hash, files, packages };
  implCache.set(def, fp);
  return fp;
}

/** `./x.js` may be compiled output of `./x.ts`; run from source (vitest) it only exists as .ts. */
function resolveModule(dir: string, spec: string): string | undefined {
  const base = join(dir, spec);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.js`, `${base}.ts`, join(base, 'index.js'), join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

const versionCache = new Map<string, string>();

/** The installed version of a package, found by walking up node_modules folders from `fromDir`. */
export function packageVersion(name: string, fromDir: string): string {
  const cacheKey = `${fromDir}\0${name}`;
  const hit = versionCache.get(cacheKey);
  if (hit) return hit;
  let dir = fromDir;
  let version = 'not installed';
  for (;;) {
    const manifest = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(manifest)) {
      version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version ?? 'unknown';
      break;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  versionCache.set(cacheKey, version);
  return version;
}

/** Parameters as they enter the key: file parameters replaced by their contents' hashes. */
export async function keyParams(stage: StageInstance, pipelineDir: string): Promise<Record<string, unknown>> {
  if (stage.pathParams.length === 0) return stage.params;
  const out: Record<string, unknown> = { ...stage.params };
  for (const name of stage.pathParams) {
    const v = stage.params[name];
    if (v === undefined || v === null) continue;
    const specs = Array.isArray(v) ? (v as string[]) : [v as string];
    const files: Record<string, string> = {};
    for (const spec of specs) {
      for (const file of await expandPath(spec)) files[relative(pipelineDir, file)] = hashFile(file);
    }
    out[name] = { files };
  }
  return out;
}

const GLOB_CHARS = /[*?[\]{}]/;

export async function expandPath(spec: string): Promise<string[]> {
  if (!GLOB_CHARS.test(spec)) return [spec];
  const fg = (await import('fast-glob')).default;
  return (await fg(spec.replace(/\\/g, '/'), { absolute: true, onlyFiles: true })).sort();
}

function hashFile(file: string): string {
  try {
    return sha256(readFileSync(file));
  } catch (e) {
    return `unreadable:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

/**
 * What a process must share with the coordinator to compute a stage under the
 * coordinator's key: the stage's implementation fingerprint and the numeric
 * backend it would run on. A queue or batch worker compares its own with the
 * job's and refuses a mismatch rather than publish under a key it cannot honour.
 * (The backend is the one the environment selects; the key itself does not hold
 * it yet, see issue 13 item 1.)
 */
export function executionFingerprint(def: StageDef): string {
  return sha256(canonicalJson({ type: def.type, impl: implementationFingerprint(def).hash, backend: backendSelection() }));
}

/** The environment's choice of tfjs backend and wasm arithmetic, which change numeric outputs. */
export function backendSelection(): string {
  return `${process.env.SPECFLOW_BACKEND || 'auto'}/fma=${process.env.SPECFLOW_WASM_FMA || 'auto'}`;
}
