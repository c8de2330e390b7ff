/**
 * Parsed-pipeline cache. Parsing YAML and compiling parameter schemas with ajv
 * costs more than everything else in a no-op re-run, so a validated pipeline is
 * kept in the store under a key made of everything validation depends on: the
 * pipeline text and path, the command-line overrides, the implementation
 * fingerprint of every registered stage type (a changed schema changes it),
 * the runner's own parsing modules and the yaml and ajv versions.
 *
 * The stored form is JSON: a pipeline whose values JSON cannot carry exactly
 * is not cached (it is parsed each time instead of coming back different).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson, implementationFingerprint, isPattern, moduleGraphHashes, packageVersion, sha256 } from './fingerprint.js';
import type { LoadOptions, Pipeline, StageInstance, Variant } from './pipeline.js';
import type { StageDef } from './stage-api.js';
import { writeAtomic } from './store.js';

// 2: pipelines carry `replicates`; 3: stages carry `resources`
const FORMAT = 3;

interface StoredStage extends Omit<StageInstance, 'def'> {}
interface StoredVariant extends Omit<Variant, 'stages'> { stages: StoredStage[] }
interface StoredPipeline extends Omit<Pipeline, 'variants'> { format: number; variants: StoredVariant[] }

export function pipelineCacheKey(text: string, absPath: string, options: LoadOptions): string {
  const stages = [...options.registry.values()].map((d) => [d.type, implementationFingerprint(d).hash]).sort();
  return sha256(canonicalJson({ format: FORMAT, text, absPath, set: options.set ?? [], sweep: options.sweep ?? [], stages, plugins: process.env.SPECFLOW_PLUGINS ?? '', parser: parserFingerprint() }));
}

let parser: string | undefined;

/** The code that turns text into a Pipeline: pipeline.ts and all it imports, this module, yaml and ajv. */
function parserFingerprint(): string {
  if (!parser) {
    const here = dirname(fileURLToPath(import.meta.url));
    const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    const files = moduleGraphHashes([join(here, `pipeline.${ext}`), join(here, `pipeline-cache.${ext}`)], here);
    parser = sha256(canonicalJson({ files, yaml: packageVersion('yaml', here), ajv: packageVersion('ajv', here) }));
  }
  return parser;
}

export function readCachedPipeline(dir: string, key: string, registry: Map<string, StageDef>): Pipeline | undefined {
  const file = join(dir, `${key}.json`);
  if (!existsSync(file)) return undefined;
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as StoredPipeline;
    if (stored.format !== FORMAT) return undefined;
    const variants: Variant[] = stored.variants.map((v) => ({
      ...v,
      stages: new Map(v.stages.map((s) => {
        const def = registry.get(s.type);
        if (!def) throw new Error('stage type vanished');
        return [s.id, { ...s, def }];
      })),
    }));
    const { format: _format, ...rest } = stored;
    const pipeline: Pipeline = { ...rest, variants };
    // a file parameter whose file disappeared needs the full check and its error message
    for (const v of variants) for (const s of v.stages.values()) for (const name of s.pathParams) {
      const values = Array.isArray(s.params[name]) ? (s.params[name] as unknown[]) : [s.params[name]];
      if (values.some((f) => typeof f === 'string' && !existsSync(f) && !isPattern(s.def, name, f))) return undefined;
    }
    return pipeline;
  } catch {
    return undefined;
  }
}

export async function writeCachedPipeline(dir: string, key: string, p: Pipeline): Promise<void> {
  const stored: StoredPipeline = {
    ...p,
    format: FORMAT,
    variants: p.variants.map((v) => ({ ...v, stages: [...v.stages.values()].map(({ def: _def, ...s }) => s) })),
  };
  const json = JSON.stringify(stored);
  if (!sameJson(JSON.parse(json) as unknown, stored)) return;
  try {
    mkdirSync(dir, { recursive: true });
    await writeAtomic(join(dir, `${key}.json`), json);
  } catch {
    // a read-only store only loses the speed-up
  }
}

/**
 * Whether `copy` (read back from JSON) is exactly `original`: the same own
 * keys, arrays and strings, and numbers equal by Object.is (so -0, NaN and an
 * `undefined` property, which JSON changes or drops, make it differ).
 */
export function sameJson(copy: unknown, original: unknown): boolean {
  if (typeof original === 'number') return Object.is(copy, original);
  if (Array.isArray(original)) return Array.isArray(copy) && copy.length === original.length && original.every((v, i) => sameJson(copy[i], v));
  if (typeof original === 'object' && original !== null) {
    if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) return false;
    const a = Object.keys(original);
    const b = Object.keys(copy);
    return a.length === b.length && a.every((k) => Object.hasOwn(copy, k) && sameJson((copy as Record<string, unknown>)[k], (original as Record<string, unknown>)[k]));
  }
  return copy === original;
}
