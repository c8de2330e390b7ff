/**
 * Content keys. A stage's key is the SHA-256 of the canonical JSON of its key
 * material: type, implementation fingerprint (its module and every module it
 * imports relatively, plus the versions of the npm packages it declares),
 * resolved parameters (file parameters by content), seed, and input keys.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MissingVariant, StageDef } from './stage-api.js';
import type { StageInstance } from './pipeline.js';

export interface KeyMaterial {
  type: string;
  impl: string;
  params: Record<string, unknown>;
  seed: number | null;
  inputs: Record<string, string[]>;
  /** Numeric stages only: the identity of the engine computing them (backend, kernels, versions). */
  engine?: unknown;
  /** A gathering stage's replicate axes (they change how it summarises); absent otherwise, so other keys are unchanged. */
  replicates?: string[];
  /** Stages whose output shows stage ids (StageDef.named): its own id and its inputs' `stage.port` per port; absent otherwise. */
  names?: { stage: string; inputs: Record<string, string[]> };
  /** A gathering stage run without the outputs of failed upstream stages: which variants lost what (see partialGather). */
  missing?: MissingVariant[];
}

/** Does the stage's output depend on the numeric engine (see StageDef.numeric)? */
export function isNumeric(def: StageDef): boolean {
  return def.numeric ?? (def.packages ?? []).some((p) => p.startsWith('@tensorflow/'));
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
const URL_RE = /(?:\bnew\s+URL\s*\(\s*|\bimport\.meta\.resolve\s*\(\s*)['"`](\.{0,2}\/?[^'"`$]+)['"`]/g;
const MODULE_LITERAL_RE = /['"`](\.{1,2}\/[^'"`$\s]+\.(?:[cm]?js|[cm]?ts|json|wasm))['"`]/g;

export function implementationFingerprint(def: StageDef): ImplFingerprint {
  const cached = implCache.get(def);
  if (cached) return cached;
  const entry = def.module.startsWith('file:') ? fileURLToPath(def.module) : resolve(def.module);
  const root = dirname(entry);
  const files = moduleGraphHashes([entry, ...(def.files ?? []).map((f) => resolve(root, f))], root);
  const packages: Record<string, string> = {};
  for (const name of def.packages ?? []) packages[name] = packageVersion(name, root);
  const hash = sha256(canonicalJson({ files, packages }));
  const fp = { hash, files, packages };
  implCache.set(def, fp);
  return fp;
}

/**
 * Content hashes of the given files and of every file they reach (paths
 * relative to `root`): static and literal dynamic imports of relative modules,
 * `new URL('./x', import.meta.url)` and `import.meta.resolve('./x')`, and any
 * other string literal naming an existing relative module (`const h =
 * './helper.mjs'; await import(h)`). Specifiers computed at run time cannot be
 * followed: a stage declares those files in StageDef.files.
 */
export function moduleGraphHashes(entries: string[], root: string): Record<string, string> {
  const files: Record<string, string> = {};
  const pending = [...entries];
  while (pending.length) {
    const file = pending.pop()!;
    const rel = relative(root, file) || '.';
    if (Object.hasOwn(files, rel)) continue;
    const scanned = scanFile(file);
    files[rel] = scanned.hash;
    pending.push(...scanned.reaches);
  }
  return files;
}

/** Per process, keyed by the file's version: stage modules share most of their imports. */
const scans = new Map<string, { hash: string; reaches: string[] }>();

function scanFile(file: string): { hash: string; reaches: string[] } {
  let version: string;
  try {
    const st = statSync(file, { bigint: true });
    version = `${file}\0${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return { hash: 'missing', reaches: [] };
  }
  const hit = scans.get(version);
  if (hit) return hit;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return { hash: 'missing', reaches: [] };
  }
  const reaches: string[] = [];
  if (/\.[cm]?[jt]s$/.test(file)) { // not a data file declared in StageDef.files
    const source = bytes.toString('utf8');
    for (const re of [IMPORT_RE, URL_RE, MODULE_LITERAL_RE]) {
      for (const m of source.matchAll(re)) {
        const target = resolveModule(dirname(file), m[1]!);
        if (target) reaches.push(target);
      }
    }
  }
  const scanned = { hash: sha256(bytes), reaches };
  scans.set(version, scanned);
  return scanned;
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
  const out: Record<string, unknown> = Object.assign(Object.create(null) as object, stage.params);
  for (const name of stage.pathParams) {
    const v = stage.params[name];
    if (v === undefined || v === null) continue;
    const files: Record<string, string> = {};
    for (const file of await inputFiles({ ...stage, pathParams: [name] }, pipelineDir)) files[relative(pipelineDir, file)] = await hashFile(file);
    out[name] = { files };
  }
  return out;
}

/**
 * What identifies one version of each input file without reading it: inode,
 * size and the modification and change times in nanoseconds. Taken before the
 * files are hashed for the key; any write after that changes the change time
 * (which no user can set back), so equal stamps after a stage ran mean it read
 * the very bytes that were hashed, even if the file was changed and restored.
 */
export async function inputStamps(stage: StageInstance, pipelineDir: string): Promise<Record<string, string>> {
  const stamps: Record<string, string> = {};
  for (const file of await inputFiles(stage, pipelineDir)) {
    try {
      const st = statSync(file, { bigint: true });
      stamps[relative(pipelineDir, file)] = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch (e) {
      stamps[relative(pipelineDir, file)] = `unreadable:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
    }
  }
  return stamps;
}

/**
 * The input files of a stage that are not, now, what its key was made from
 * (`keyed`: its key material's params; `stamps`: inputStamps taken before
 * keying): the stage may have read other bytes than its key names, so its
 * output must not be stored under that key.
 */
export async function changedInputFiles(stage: StageInstance, pipelineDir: string, keyed: Record<string, unknown>, stamps: Record<string, string>): Promise<string[]> {
  if (stage.pathParams.length === 0) return [];
  const changed = new Set<string>();
  const nowStamps = await inputStamps(stage, pipelineDir);
  for (const f of new Set([...Object.keys(stamps), ...Object.keys(nowStamps)])) if (stamps[f] !== nowStamps[f]) changed.add(f);
  // stamps can be coarse on some filesystems: the contents are compared as well
  const now = await keyParams(stage, pipelineDir);
  for (const name of stage.pathParams) {
    const before = (keyed[name] as { files?: Record<string, string> } | undefined)?.files ?? {};
    const after = (now[name] as { files?: Record<string, string> } | undefined)?.files ?? {};
    for (const f of new Set([...Object.keys(before), ...Object.keys(after)])) if (before[f] !== after[f]) changed.add(f);
  }
  return [...changed].sort();
}

async function inputFiles(stage: StageInstance, pipelineDir: string): Promise<string[]> {
  const files: string[] = [];
  for (const name of stage.pathParams) {
    const v = stage.params[name];
    if (v === undefined || v === null) continue;
    for (const spec of Array.isArray(v) ? (v as string[]) : [v as string]) files.push(...await expandPath(spec, globsParam(stage.def, name), pipelineDir));
  }
  return files;
}

const GLOB_CHARS = /[*?[\]{}()!+@]/;

/** Does file parameter `name` accept glob patterns (`"x-glob": true` in its schema, e.g. JCAMP lists)? */
export function globsParam(def: StageDef, name: string): boolean {
  const props = (def.params.properties ?? {}) as Record<string, Record<string, unknown>>;
  return Object.hasOwn(props, name) && props[name]!['x-glob'] === true;
}

/** A file parameter's value that names no file yet is fine only as a pattern of a globbing parameter. */
export function isPattern(def: StageDef, name: string, value: string): boolean {
  return globsParam(def, name) && GLOB_CHARS.test(value) && !existsSync(value);
}

/**
 * The files a file parameter's value names: an existing file is itself, even
 * if its name holds glob characters (`study{a,b}/data.csv`); only a globbing
 * parameter expands a pattern, matched under the pipeline folder taken literally.
 */
export async function expandPath(spec: string, glob: boolean, pipelineDir: string): Promise<string[]> {
  if (!glob || !GLOB_CHARS.test(spec) || existsSync(spec)) return [spec];
  const fg = (await import('fast-glob')).default;
  const rel = relative(pipelineDir, spec);
  const pattern = isAbsolute(rel) || rel.startsWith('..') ? spec.replace(/\\/g, '/') : `${fg.convertPathToPattern(pipelineDir)}/${rel.replace(/\\/g, '/')}`;
  return (await fg(pattern, { absolute: true, onlyFiles: true })).sort();
}

/**
 * SHA-256 of a file read 4 MB at a time: an input file of gigabytes never sits
 * in memory, and the reads are asynchronous so that the event loop keeps
 * renewing this process's leases meanwhile (hashing 10 GB synchronously blocked
 * it for longer than a lease: its hold expired and a gc could take its temp dirs).
 */
async function hashFile(file: string): Promise<string> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'r');
    const h = createHash('sha256');
    const chunk = Buffer.allocUnsafe(4 << 20);
    for (let got; (got = (await handle.read(chunk, 0, chunk.length, null)).bytesRead) > 0;) h.update(chunk.subarray(0, got));
    return h.digest('hex');
  } catch (e) {
    return `unreadable:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
  } finally {
    await handle?.close();
  }
}

/**
 * What a process computing a stage for someone else must share with them: the
 * stage's implementation and, for numeric stages, the engine identity (backend,
 * kernels, tfjs versions) that the content key holds. A queue worker or batch
 * job with another one refuses the job rather than compute under a key it
 * cannot honour.
 */
export function executionFingerprint(def: StageDef, engine: unknown): string {
  return sha256(canonicalJson({ type: def.type, impl: implementationFingerprint(def).hash, engine: isNumeric(def) ? engine ?? null : null }));
}

/** The environment's choice of tfjs backend and wasm arithmetic, which change numeric outputs. */
export function backendSelection(): string {
  return `${process.env.SPECFLOW_BACKEND || 'auto'}/fma=${process.env.SPECFLOW_WASM_FMA || 'auto'}`;
}
