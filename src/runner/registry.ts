/**
 * The stage types a run can use: the built-in ones plus plugin modules named in
 * SPECFLOW_PLUGINS (paths separated by the platform's path delimiter), each
 * exporting StageDefs. Plugins let a lab add its own stage types without forking.
 */
import { delimiter, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from './errors.js';
import type { StageDef } from './stage-api.js';

let cached: Promise<Map<string, StageDef>> | undefined;

export function pluginPaths(): string[] {
  return (process.env.SPECFLOW_PLUGINS ?? '').split(delimiter).map((s) => s.trim()).filter(Boolean).map((p) => resolve(p));
}

export function loadRegistry(): Promise<Map<string, StageDef>> {
  cached ??= build();
  return cached;
}

async function build(): Promise<Map<string, StageDef>> {
  const { builtinStages } = await import('../stages/registry.js');
  const defs = await builtinStages();
  for (const path of pluginPaths()) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (e) {
      throw new UserError(`SPECFLOW_PLUGINS: cannot load ${path}: ${(e as Error).message}`);
    }
    const found = Object.values(mod).filter(isStageDef);
    if (found.length === 0) throw new UserError(`SPECFLOW_PLUGINS: ${path} exports no stage definitions`);
    defs.push(...found);
  }
  const map = new Map<string, StageDef>();
  for (const d of defs) {
    if (map.has(d.type)) throw new UserError(`stage type "${d.type}" is defined twice`);
    map.set(d.type, d);
  }
  return map;
}

function isStageDef(v: unknown): v is StageDef {
  return typeof v === 'object' && v !== null && typeof (v as StageDef).type === 'string' && typeof (v as StageDef).run === 'function';
}
