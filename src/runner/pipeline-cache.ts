/**
 * Parsed-pipeline cache. Parsing YAML and compiling parameter schemas with ajv
 * costs more than everything else in a no-op re-run, so a validated pipeline is
 * kept in the store under a key made of everything validation depends on: the
 * pipeline text and path, the command-line overrides, and the implementation
 * fingerprint of every registered stage type (a changed schema changes it).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, implementationFingerprint, sha256 } from './fingerprint.js';
import type { LoadOptions, Pipeline, StageInstance, Variant } from './pipeline.js';
import type { StageDef } from './stage-api.js';
import { writeAtomic } from './store.js';

const FORMAT = 2;

interface StoredStage extends Omit<StageInstance, 'def'> {}
interface StoredVariant extends Omit<Variant, 'stages'> { stages: StoredStage[] }
interface StoredPipeline extends Omit<Pipeline, 'variants'> { format: number; variants: StoredVariant[] }

export function pipelineCacheKey(text: string, absPath: string, options: LoadOptions): string {
  const stages = [...options.registry.values()].map((d) => [d.type, implementationFingerprint(d).hash]).sort();
  return sha256(canonicalJson({ format: FORMAT, text, absPath, set: options.set ?? [], sweep: options.sweep ?? [], stages, plugins: process.env.SPECFLOW_PLUGINS ?? '' }));
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
      if (values.some((f) => typeof f === 'string' && !/[*?[\]{}]/.test(f) && !existsSync(f))) return undefined;
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
  try {
    mkdirSync(dir, { recursive: true });
    await writeAtomic(join(dir, `${key}.json`), JSON.stringify(stored));
  } catch {
    // a read-only store only loses the speed-up
  }
}
