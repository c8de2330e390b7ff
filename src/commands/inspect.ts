/** `specflow show`, `specflow stages`, `specflow validate`, `specflow dag`. */
import { existsSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../runner/errors.js';
import { renderDag, type DagFormat } from '../runner/dag.js';
import { paramSchema } from '../runner/params.js';
import { loadRegistry } from '../runner/registry.js';
import { describeKind, isTableKind } from '../runner/stage-api.js';
import { openStore, pipelineFrom, type GlobalOptions, type PipelineArgs } from './common.js';

export async function validateCommand(file: string, args: PipelineArgs): Promise<number> {
  const p = await pipelineFrom(file, args);
  const stages = p.variants[0]!.stages.size;
  process.stdout.write(`${file}: ok (${stages} stage${stages === 1 ? '' : 's'}${p.variants.length > 1 ? `, ${p.variants.length} variants` : ''})\n`);
  return 0;
}

export async function dagCommand(file: string, args: PipelineArgs & { format?: string }): Promise<number> {
  const format = (args.format ?? 'text') as DagFormat;
  if (!['text', 'mermaid', 'dot'].includes(format)) throw new UserError(`--format must be text, mermaid or dot, not "${format}"`);
  process.stdout.write(`${renderDag(await pipelineFrom(file, args), format)}\n`);
  return 0;
}

export async function stagesCommand(args: { json?: boolean }): Promise<number> {
  const registry = await loadRegistry();
  const defs = [...registry.values()].sort((a, b) => a.type.localeCompare(b.type));
  if (args.json) {
    process.stdout.write(`${JSON.stringify(defs.map((d) => ({ type: d.type, description: d.description, inputs: d.inputs, outputs: d.outputs, params: paramSchema(d), metrics: d.metrics ?? {} })), null, 2)}\n`);
    return 0;
  }
  const out: string[] = [];
  for (const d of defs) {
    out.push(`${d.type}`, `  ${d.description}`);
    const ins = Object.entries(d.inputs);
    if (ins.length) out.push(`  inputs:  ${ins.map(([p, s]) => `${p} (${describeKind(s.kind)}${s.many ? ', many' : ''}${s.optional ? ', optional' : ''})`).join(', ')}`);
    out.push(`  outputs: ${Object.entries(d.outputs).map(([p, s]) => `${p} (${describeKind(s.kind)})`).join(', ')}`);
    // which way each metric is better: what comparison reports rank variants by
    const ranked = Object.entries(d.metrics ?? {}).filter(([, m]) => m.better);
    if (ranked.length) out.push(`  metrics (↓ lower, ↑ higher is better): ${ranked.map(([m, info]) => `${m} ${info.better === 'lower' ? '↓' : '↑'}`).join(', ')}`);
    const props = (paramSchema(d).properties ?? {}) as Record<string, Record<string, unknown>>;
    const required = new Set((d.params.required as string[] | undefined) ?? []);
    if (Object.keys(props).length) out.push('  parameters:');
    for (const [name, s] of Object.entries(props)) {
      const type = schemaType(s);
      const dflt = s.default !== undefined ? ` = ${JSON.stringify(s.default)}` : required.has(name) ? ' (required)' : '';
      out.push(`    ${name}: ${type}${dflt}${s.description ? `  — ${String(s.description)}` : ''}`);
    }
    out.push('');
  }
  process.stdout.write(out.join('\n'));
  return 0;
}

function schemaType(s: Record<string, unknown>): string {
  if (Array.isArray(s.enum)) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.oneOf ?? s.anyOf)) return ((s.oneOf ?? s.anyOf) as Record<string, unknown>[]).map(schemaType).join(' | ');
  if (s.type === 'array') {
    const item = schemaType((s.items ?? {}) as Record<string, unknown>);
    return item.includes(' | ') ? `(${item})[]` : `${item}[]`;
  }
  let t = Array.isArray(s.type) ? s.type.join(' | ') : String(s.type ?? 'any');
  // the interval as enforced: exclusive bounds in round brackets
  const lo = s.exclusiveMinimum ?? s.minimum;
  const hi = s.exclusiveMaximum ?? s.maximum;
  if (lo !== undefined || hi !== undefined) {
    t += ` ${s.exclusiveMinimum !== undefined || lo === undefined ? '(' : '['}${lo ?? '-∞'}, ${hi ?? '∞'}${s.exclusiveMaximum !== undefined || hi === undefined ? ')' : ']'}`;
  }
  return t;
}

export async function showCommand(target: string, args: GlobalOptions & { head?: number }): Promise<number> {
  const head = args.head ?? 5;
  if (existsSync(target) && statSync(target).isFile()) {
    const { describeInstrumentFile } = await import('./show-instrument.js');
    process.stdout.write((await describeInstrumentFile(target, head)) ?? (await describeArrow(target, head)));
    return 0;
  }
  if (existsSync(target) && statSync(target).isDirectory()) {
    if (!existsSync(join(target, 'config.json'))) throw new UserError(`${target}: a directory, not an Arrow file, a model directory or a content key`);
    process.stdout.write(describeDir(target));
    return 0;
  }
  const store = openStore(args);
  const [prefix, port] = target.split(':') as [string, string | undefined];
  if (!/^[0-9a-f]{4,64}$/.test(prefix)) throw new UserError(`${target}: no such file, and not a content key (hex, at least 4 characters)`);
  const matches = (await store.keys()).filter((k) => k.startsWith(prefix));
  if (matches.length === 0) throw new UserError(`no entry with key ${prefix}… in ${store.root}`);
  if (matches.length > 1) throw new UserError(`key prefix ${prefix} is ambiguous: ${matches.map((k) => k.slice(0, 12)).join(', ')}`);
  const m = store.readManifest(matches[0]!)!;
  if (port !== undefined && !m.outputs[port]) {
    throw new UserError(`entry ${m.key.slice(0, 12)} (${m.stage}) has no output "${port}"; its outputs: ${Object.keys(m.outputs).join(', ')}`);
  }
  const out: string[] = [`entry ${m.key}`, `  stage ${m.stage} (${m.type}), computed ${m.created} in ${m.seconds}s`];
  if (Object.keys(m.metrics).length) out.push(`  metrics: ${JSON.stringify(m.metrics)}`);
  process.stdout.write(`${out.join('\n')}\n`);
  for (const [name, o] of Object.entries(m.outputs)) {
    if (port && name !== port) continue;
    const path = join(store.entryDir(m.key), o.path);
    process.stdout.write(`\noutput ${name} (${describeKind(o.kind)}): ${path}\n`);
    process.stdout.write(isTableKind(o.kind) ? await describeArrow(path, head) : describeDir(path));
  }
  return 0;
}

function describeDir(dir: string): string {
  const config = join(dir, 'config.json');
  if (existsSync(config)) return `config.json:\n${readFileSync(config, 'utf8').slice(0, 4000)}\n`;
  return `directory ${dir}\n`;
}

async function describeArrow(path: string, head: number): Promise<string> {
  const { parseArrowIpc, arrowReadError } = await import('../data/arrow-io.js');
  let table;
  try {
    table = parseArrowIpc(readFileSync(path));
  } catch (e) {
    throw new UserError(`${path}: ${arrowReadError(e)}`);
  }
  const out: string[] = [`${table.numRows} rows × ${table.numCols} columns`, 'schema:'];
  for (const f of table.schema.fields) out.push(`  ${f.name}: ${String(f.type)}${f.nullable ? '' : ' (not null)'}`);
  if (table.schema.metadata.size) {
    out.push('metadata:');
    for (const [k, v] of table.schema.metadata) out.push(`  ${k}: ${v.length > 200 ? `${v.slice(0, 197)}…` : v}`);
  }
  const n = Math.min(head, table.numRows);
  if (n > 0) {
    out.push(`first ${n} rows:`);
    for (let i = 0; i < n; i++) {
      const row = table.get(i)?.toJSON() as Record<string, unknown> | undefined;
      out.push(`  ${Object.entries(row ?? {}).map(([k, v]) => `${k}=${cell(v)}`).join('  ')}`);
    }
  }
  return `${out.join('\n')}\n`;
}

function cell(v: unknown): string {
  if (v !== null && typeof v === 'object' && typeof (v as { length?: unknown }).length === 'number' && typeof v !== 'string') {
    const arr = Array.from(v as ArrayLike<unknown>);
    const shown = arr.slice(0, 4).map((x) => (typeof x === 'number' ? Number(x.toPrecision(4)) : x));
    return `[${shown.join(', ')}${arr.length > 4 ? `, … (${arr.length})` : ''}]`;
  }
  if (typeof v === 'number') return String(Number(v.toPrecision(6)));
  if (typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}
