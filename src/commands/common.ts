/** Shared plumbing of the CLI commands: store location, pipeline loading, sizes. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Pipeline } from '../runner/pipeline.js';
import { loadRegistry } from '../runner/registry.js';
import { pipelineCacheKey, readCachedPipeline, writeCachedPipeline } from '../runner/pipeline-cache.js';
import { Store } from '../runner/store.js';
import { UserError } from '../runner/errors.js';

export interface GlobalOptions {
  store?: string;
}

export function openStore(opts: GlobalOptions): Store {
  return new Store(resolve(opts.store ?? process.env.SPECFLOW_STORE ?? 'artifacts'));
}

/** The store of a command that only reads or maintains one: a missing store is an error, not an empty one (a mistyped --store). */
export function existingStore(opts: GlobalOptions): Store {
  const store = openStore(opts);
  if (!store.exists()) {
    throw new UserError(existsSync(store.root) ? `${store.root} is not a directory, so not a store` : `no store at ${store.root} (nothing has run with this --store yet, or the path is mistyped)`);
  }
  return store;
}

export interface PipelineArgs {
  set?: string[];
  sweep?: string[];
}

/**
 * Load and validate a pipeline. With a store, a pipeline validated before (same
 * text, overrides and stage implementations) comes from the store's cache, which
 * spares loading the YAML parser and ajv in a no-op re-run. `prepareStore`
 * runs once the pipeline is known to be valid, before the store is written.
 */
export async function pipelineFrom(file: string, args: PipelineArgs, store?: Store, prepareStore?: () => Promise<void>): Promise<Pipeline> {
  const registry = await loadRegistry();
  const options = { registry, set: args.set, sweep: args.sweep };
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // loadPipeline reports it
  }
  const cacheDir = store ? join(store.root, 'cache', 'pipelines') : undefined;
  const key = cacheDir && text !== undefined ? pipelineCacheKey(text, resolve(file), options) : undefined;
  if (cacheDir && key) {
    const hit = readCachedPipeline(cacheDir, key, registry);
    if (hit) return { ...hit, file };
  }
  const { parsePipeline, loadPipeline } = await import('../runner/pipeline.js');
  const pipeline = text !== undefined ? parsePipeline(text, file, options) : loadPipeline(file, options);
  if (cacheDir && key) {
    // a valid pipeline may create the store (run); other commands never create one
    if (prepareStore) await prepareStore();
    if (store!.exists()) await writeCachedPipeline(cacheDir, key, pipeline);
  }
  return pipeline;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };

/** `500M`, `2G`, `1.5GB`, `1000` (bytes). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?b?)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UserError(`invalid size "${text}" (examples: 500M, 2G, 1048576)`);
  return Math.round(Number(m[1]) * unit);
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
}
