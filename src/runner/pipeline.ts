/**
 * YAML pipeline text → typed, validated pipeline: one resolved stage graph per
 * sweep variant. Every problem found is reported with its file position; all
 * of them at once, not just the first.
 */
import { statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYamlScalar } from 'yaml';
import { PipelineError, UserError, type Located, type SourcePos } from './errors.js';
import { validateParams } from './params.js';
import { readPipelineText } from './pipeline-file.js';
import { describeFileType } from '../util/file-type.js';
import { describeKind, kindAccepts, type InputShapes, type StageDef, type StageResources } from './stage-api.js';
import { didYouMean } from './suggest.js';
import { asWritten, parseYamlWithPositions, REF_CLOSE, REF_OPEN, type Path, type PositionIndex } from './yaml-source.js';
import { findCycle } from './dag.js';
import { canonicalJson, isPattern } from './fingerprint.js';

export interface InputRef {
  stage: string;
  port: string;
}

export interface StageInstance {
  id: string;
  type: string;
  def: StageDef;
  /** Validated parameters with defaults; `x-path` parameters made absolute. */
  params: Record<string, unknown>;
  /** Top-level parameter names that are file paths (their contents enter the content key). */
  pathParams: string[];
  /** Port → upstream outputs feeding it (one element unless the port takes many). */
  inputs: Record<string, InputRef[]>;
  /** The stage's own `seed:`, pinning it across a seed sweep (e.g. one data set for every replicate). */
  seed?: number;
  /** `resources:` of the stage in the pipeline (batch executors); never part of the key. */
  resources?: StageResources;
}

export interface Variant {
  /** `default` for an unswept pipeline, else `axis=value,axis=value`. */
  id: string;
  /** The swept values of this variant (empty when unswept). */
  axes: Record<string, unknown>;
  /** All parameters seen by `${refs}`: `params`, overrides, then the axes. */
  params: Record<string, unknown>;
  seed: number;
  stages: Map<string, StageInstance>;
  /** Stage ids in a topological order. */
  order: string[];
}

export interface Pipeline {
  name: string;
  /** The path as the user gave it (used in messages). */
  file: string;
  absPath: string;
  dir: string;
  text: string;
  seed: number;
  params: Record<string, unknown>;
  sweep: Record<string, unknown[]>;
  /** Swept axes that repeat an experiment rather than vary it: a swept `seed`, and those
   * listed under `replicates:`. Comparisons summarise over them (mean ± sd), never plot along them. */
  replicates: string[];
  variants: Variant[];
}

export interface LoadOptions {
  registry: Map<string, StageDef>;
  /** `--set key=value` (values parsed as YAML scalars). */
  set?: string[];
  /** `--sweep key=a,b,c`. */
  sweep?: string[];
  /** Refuse sweeps with more variants than this (default MAX_VARIANTS). */
  maxVariants?: number;
}

/** A sweep larger than this is almost always a mistake, and expanding it costs minutes and gigabytes. */
export const MAX_VARIANTS = 10_000;

const TOP_KEYS = ['name', 'seed', 'params', 'sweep', 'replicates', 'stages'];
const STAGE_KEYS = ['type', 'in', 'with', 'seed', 'resources'];
const STAGE_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function loadPipeline(file: string, options: LoadOptions): Pipeline {
  return parsePipeline(readPipelineText(file), file, options);
}

export function parsePipeline(text: string, file: string, options: LoadOptions): Pipeline {
  const parsed = parseYamlWithPositions(text, file);
  if (parsed.errors.length) throw new PipelineError(parsed.errors.slice(0, 1));
  const problems = new Problems(file, parsed.positions);
  const root = parsed.value;
  if (!isRecord(root)) {
    throw new PipelineError([{ file, pos: parsed.positions.value([]), message: 'a pipeline must be a mapping with `name`, `seed`, `params`, `sweep` and `stages`' }]);
  }
  for (const key of Object.keys(root)) {
    if (!TOP_KEYS.includes(key)) problems.atKey([key], `unknown top-level key "${key}"${hint(key, TOP_KEYS)}`);
  }
  const absPath = resolve(file);
  const dir = dirname(absPath);
  const name = typeof root.name === 'string' ? root.name : root.name === undefined ? basenameNoExt(file) : (problems.at(['name'], '`name` must be a string'), '');
  let seed = 0;
  if (root.seed !== undefined) {
    if (isSeed(root.seed)) seed = root.seed;
    else problems.at(['seed'], '`seed` must be a non-negative integer up to 2^53 − 1');
  }
  const params: Record<string, unknown> = nullProto();
  if (root.params !== undefined && root.params !== null) {
    if (!isRecord(root.params)) problems.at(['params'], '`params` must be a mapping of name: value');
    else {
      for (const [k, v] of Object.entries(root.params)) {
        if (containsRef(v)) problems.at(['params', k], '`params` values cannot contain ${references}');
        params[k] = v;
      }
    }
  }
  const sweep: Record<string, unknown[]> = nullProto();
  if (root.sweep !== undefined && root.sweep !== null) {
    if (!isRecord(root.sweep)) problems.at(['sweep'], '`sweep` must be a mapping of name: [values]');
    else {
      for (const [k, v] of Object.entries(root.sweep)) {
        if (!Array.isArray(v) || v.length === 0) problems.at(['sweep', k], `sweep axis "${k}" must be a non-empty list of values`);
        else {
          sweep[k] = v;
          const dup = duplicateIndex(v);
          if (dup) problems.at(['sweep', k, dup[1]], `sweep axis "${k}" lists ${formatValue(v[dup[1]])} twice (items ${dup[0] + 1} and ${dup[1] + 1}): each variant must differ`);
        }
      }
    }
  }
  // a name nothing refers to would silently give identical variants
  const used = referencedNames(root.stages);
  for (const k of Object.keys(sweep)) {
    if (k !== 'seed' && !used.has(k)) {
      problems.atKey(['sweep', k], `sweep axis "${k}" is not used: no stage refers to \${${k}}${hint(k, [...used], (x) => `\${${x}}`)}`);
    }
  }
  const known = new Set(['seed', ...Object.keys(params), ...Object.keys(sweep), ...used]);
  for (const s of options.set ?? []) {
    const [k, v] = splitAssignment(s, '--set');
    checkOverrideName('--set', s, k, known);
    params[k] = v === '' ? '' : parseOverrideValue('--set', s, v);
    if (k === 'seed' && !isSeed(params[k])) throw new UserError(`--set ${s}: seed must be a non-negative integer up to 2^53 − 1`);
    delete sweep[k]; // an explicit value pins a swept axis
  }
  for (const s of options.sweep ?? []) {
    const [k, v] = splitAssignment(s, '--sweep');
    checkOverrideName('--sweep', s, k, known);
    const parts = splitSweepValues(v);
    if (parts.every((x) => x === '')) throw new UserError(`--sweep ${s}: give at least one value, e.g. --sweep ${k}=2,4,8`);
    // `2,,4` or `2,4,` is a typo more often than an empty string: dropping it would run another sweep than typed
    const empty = parts.indexOf('');
    if (empty >= 0) throw new UserError(`--sweep ${s}: value ${empty + 1} of ${parts.length} is empty (a stray comma); write an empty string as ''`);
    const values = parts.map((x) => parseOverrideValue('--sweep', s, x));
    if (k === 'seed' && !values.every(isSeed)) throw new UserError(`--sweep ${s}: seeds must be non-negative integers up to 2^53 − 1`);
    sweep[k] = values;
  }
  refuseNonFinite(params, sweep);
  for (const s of options.sweep ?? []) {
    const k = s.slice(0, s.indexOf('=')).trim();
    const dup = sweep[k] ? duplicateIndex(sweep[k]!) : undefined;
    if (dup) throw new UserError(`--sweep ${s}: ${formatValue(sweep[k]![dup[1]])} is given twice; each variant must differ`);
  }
  if (sweep.seed) {
    for (const [i, s] of sweep.seed.entries()) {
      if (!isSeed(s)) problems.at(['sweep', 'seed', i], 'seed values must be non-negative integers up to 2^53 − 1 (larger ones cannot be told apart)');
    }
  }
  if ('seed' in params && !isSeed(params.seed)) problems.at(['params', 'seed'], '`seed` must be a non-negative integer up to 2^53 − 1');
  if (isSeed(params.seed)) seed = params.seed;
  const variantCount = Object.values(sweep).reduce((n, values) => n * values.length, 1);
  const maxVariants = options.maxVariants ?? MAX_VARIANTS;
  if (variantCount > maxVariants) {
    const axes = Object.entries(sweep).map(([k, v]) => `${k} (${v.length})`).join(' × ');
    problems.at(['sweep'], `the sweep has ${variantCount.toLocaleString('en')} variants (${axes}); the limit is ${maxVariants.toLocaleString('en')} (raise it with --max-variants N)`);
  }
  const replicates = parseReplicates(root.replicates, sweep, params, problems);

  const stagesRaw = root.stages;
  if (stagesRaw === undefined || stagesRaw === null) problems.at([], 'the pipeline has no `stages`');
  else if (!isRecord(stagesRaw)) problems.at(['stages'], '`stages` must be a mapping of stage id: {type, in, with}');
  else if (Object.keys(stagesRaw).length === 0) problems.at(['stages'], '`stages` is empty');
  problems.throwIfAny();
  const stages = stagesRaw as Record<string, unknown>;

  // Structure of each stage, independent of sweep values.
  for (const [id, raw] of Object.entries(stages)) {
    if (!STAGE_ID.test(id)) problems.atKey(['stages', id], `stage id "${asWritten(id)}" must start with a letter or _ and contain only letters, digits, _ and -`);
    if (!isRecord(raw)) { problems.at(['stages', id], `stage "${id}" must be a mapping with \`type\`, and optionally \`in\` and \`with\``); continue; }
    for (const key of Object.keys(raw)) {
      if (!STAGE_KEYS.includes(key)) problems.atKey(['stages', id, key], `unknown key "${key}" in stage "${id}"${hint(key, STAGE_KEYS)}`);
    }
    if (raw.type === undefined) problems.at(['stages', id], `stage "${id}" has no \`type\``);
    else if (typeof raw.type !== 'string') problems.at(['stages', id, 'type'], '`type` must be a string');
    if (raw.with !== undefined && raw.with !== null && !isRecord(raw.with)) problems.at(['stages', id, 'with'], '`with` must be a mapping of parameter: value');
  }
  problems.throwIfAny();

  const variants: Variant[] = [];
  for (const axes of expandSweep(sweep)) {
    const variantParams = { ...params, ...axes };
    const variantSeed = typeof axes.seed === 'number' ? axes.seed : seed;
    variantParams.seed = variantSeed;
    const id = Object.keys(axes).length ? Object.entries(axes).map(([k, v]) => `${k}=${formatValue(v)}`).join(',') : 'default';
    variants.push(resolveVariant(id, axes, variantParams, variantSeed, stages, dir, options.registry, problems));
    problems.throwIfAny();
  }
  checkGatheringParams(variants, problems);
  problems.throwIfAny();
  return { name, file, absPath, dir, text, seed, params, sweep, replicates, variants };
}

/**
 * `replicates: [axis, …]` names sweep axes that repeat the experiment (seeds of a data split,
 * of an initialisation). A swept `seed` always is one. A name that is a param but not swept
 * (e.g. pinned with `--set`) is accepted and has no effect; anything else is a typo.
 */
function parseReplicates(raw: unknown, sweep: Record<string, unknown[]>, params: Record<string, unknown>, problems: Problems): string[] {
  const out: string[] = [];
  if (raw !== undefined && raw !== null) {
    if (!Array.isArray(raw) || raw.some((x) => typeof x !== 'string')) problems.at(['replicates'], '`replicates` must be a list of sweep axis names, e.g. [seed]');
    else {
      for (const [i, name] of (raw as string[]).entries()) {
        const known = [...Object.keys(sweep), ...Object.keys(params), 'seed'];
        if (!known.includes(name)) problems.at(['replicates', i], `"${name}" is not a sweep axis${hint(name, Object.keys(sweep))}`);
        else if (name in sweep && !out.includes(name)) out.push(name);
      }
    }
  }
  if ('seed' in sweep && !out.includes('seed')) out.unshift('seed');
  return out;
}

function resolveVariant(
  id: string, axes: Record<string, unknown>, params: Record<string, unknown>, seed: number,
  stagesRaw: Record<string, unknown>, dir: string, registry: Map<string, StageDef>, problems: Problems,
): Variant {
  const stages = new Map<string, StageInstance>();
  const ids = Object.keys(stagesRaw);
  const raws = new Map<string, Record<string, unknown>>();
  for (const sid of ids) {
    const raw = substituteRefs(stagesRaw[sid], ['stages', sid], params, problems) as Record<string, unknown>;
    raws.set(sid, raw);
  }
  if (problems.any()) return { id, axes, params, seed, stages, order: [] };

  for (const sid of ids) {
    const raw = raws.get(sid)!;
    if (typeof raw.type !== 'string') { // a ${ref} that gave a number or a mapping
      const written = asWritten(String((stagesRaw[sid] as Record<string, unknown>).type));
      problems.at(['stages', sid, 'type'], `\`type\` must be a string (a stage type name), but ${written} gives ${formatValue(raw.type)}`);
      continue;
    }
    const type = raw.type;
    const def = registry.get(type);
    if (!def) {
      problems.at(['stages', sid, 'type'], `unknown stage type "${type}"${hint(type, registry.keys())}; \`specflow stages\` lists them`);
      continue;
    }
    const withRaw = (raw.with ?? {}) as Record<string, unknown>;
    const { value, errors } = validateParams(def, withRaw);
    for (const e of errors) {
      const path = ['stages', sid, 'with', ...e.path];
      const where = id === 'default' ? '' : ` (variant ${id})`;
      if (e.atKey) problems.atKey(path, `stage "${sid}": ${e.message}${where}`);
      else problems.at(path, `stage "${sid}": ${e.message}${where}`);
    }
    const pathParams = Object.entries((def.params.properties ?? {}) as Record<string, Record<string, unknown>>)
      .filter(([, s]) => s['x-path'] === true).map(([k]) => k);
    for (const k of pathParams) {
      const v = value[k];
      if (typeof v === 'string') value[k] = absolutise(v, dir);
      else if (Array.isArray(v)) value[k] = v.map((x) => (typeof x === 'string' ? absolutise(x, dir) : x));
      const files = Array.isArray(value[k]) ? (value[k] as unknown[]) : [value[k]];
      files.forEach((f, i) => {
        if (typeof f !== 'string') return;
        // a literal file wins over glob syntax; a declared glob with no such file is expanded later
        const st = statOrUndefined(f);
        if (!st && isPattern(def, k, f)) return;
        const written = Array.isArray(withRaw[k]) ? (withRaw[k] as unknown[])[i] : withRaw[k];
        const at = ['stages', sid, 'with', k, ...(Array.isArray(value[k]) ? [i] : [])];
        const shown = typeof written === 'string' ? written : f;
        // a device, FIFO or directory would block, never end, or fail deep inside a reader
        if (!st) problems.at(at, `stage "${sid}": file not found: ${shown}`);
        else if (!st.isFile()) problems.at(at, `stage "${sid}": ${shown} is ${describeFileType(st)}, not a regular file`);
      });
    }
    let ownSeed: number | undefined;
    if (raw.seed !== undefined) {
      if (typeof raw.seed === 'number' && Number.isSafeInteger(raw.seed) && raw.seed >= 0) ownSeed = raw.seed;
      else problems.at(['stages', sid, 'seed'], `stage "${sid}": \`seed\` must be a non-negative integer`);
    }
    const resources = checkResources(raw.resources, ['stages', sid, 'resources'], problems);
    stages.set(sid, { id: sid, type, def, params: value, pathParams, inputs: {}, ...(ownSeed !== undefined ? { seed: ownSeed } : {}), ...(resources ? { resources } : {}) });
  }
  if (problems.any()) return { id, axes, params, seed, stages, order: [] };

  for (const [sid, inst] of stages) connectInputs(inst, raws.get(sid)!.in, stages, problems);
  if (problems.any()) return { id, axes, params, seed, stages, order: [] };

  const cycle = findCycle([...stages.values()].map((s) => ({ id: s.id, deps: Object.values(s.inputs).flat().map((r) => r.stage) })));
  if (cycle) problems.at(['stages', cycle[0]!, 'in'], `cycle: ${cycle.join(' → ')}`);
  const order = cycle ? [] : topoOrder(stages);
  if (!cycle) checkStages(order, stages, id, problems);
  return { id, axes, params, seed, stages, order };
}

/**
 * A gathering stage runs once for the whole sweep, so it cannot take a
 * parameter from one variant and ignore the others' values: its parameters
 * must be the same in every variant (and it gets the pipeline's own seed).
 */
function checkGatheringParams(variants: Variant[], problems: Problems): void {
  if (variants.length < 2) return;
  const first = variants[0]!;
  for (const [id, s] of first.stages) {
    if (!s.def.gather) continue;
    for (const v of variants.slice(1)) {
      const other = v.stages.get(id)!.params;
      const name = Object.keys({ ...s.params, ...other }).find((k) => canonicalJson(s.params[k]) !== canonicalJson(other[k]));
      if (name === undefined) continue;
      problems.at(['stages', id, 'with', name], `stage "${id}" (${s.type}) runs once for the whole sweep, so its parameters must not depend on swept values: "${name}" is ${JSON.stringify(s.params[name])} in variant ${first.id} but ${JSON.stringify(other[name])} in variant ${v.id}`);
      break;
    }
  }
}

/** Each stage's own `check` of its parameters, given what is known of its inputs (in topological order). */
function checkStages(order: string[], stages: Map<string, StageInstance>, variant: string, problems: Problems): void {
  const channels = new Map<string, number | undefined>();
  for (const sid of order) {
    const inst = stages.get(sid)!;
    const shapes: InputShapes = {};
    for (const [port, refs] of Object.entries(inst.inputs)) {
      const c = refs.length === 1 ? channels.get(refs[0]!.stage) : undefined;
      shapes[port] = c === undefined ? {} : { channels: c };
    }
    channels.set(sid, inst.def.channels?.(inst.params, shapes));
    for (const p of inst.def.check?.(inst.params, shapes) ?? []) {
      problems.at(['stages', sid, 'with', ...p.path], `stage "${sid}": ${p.message}${variant === 'default' ? '' : ` (variant ${variant})`}`);
    }
  }
}

const MEMORY = /^\d+(\.\d+)?[KMGT]?$/i;
// SLURM's --time forms: minutes, MM:SS, H:MM:SS, D-H, D-H:MM, D-H:MM:SS
const TIME = /^(\d+-)?\d+(:\d{1,2}){0,2}$/;

/** `resources: {cpus, memory, time}` of a stage: what a batch executor asks for. */
function checkResources(raw: unknown, at: Path, problems: Problems): StageResources | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) {
    problems.at(at, '`resources` must be a mapping with cpus, memory and/or time');
    return undefined;
  }
  const out: StageResources = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'cpus') {
      if (typeof v === 'number' && Number.isInteger(v) && v >= 1) out.cpus = v;
      else problems.at([...at, k], '`cpus` must be a positive integer');
    } else if (k === 'memory') {
      const text = typeof v === 'number' ? String(v) : v;
      if (typeof text === 'string' && MEMORY.test(text)) out.memory = text.toUpperCase();
      else problems.at([...at, k], '`memory` must be a size such as 500M or 4G (SLURM --mem)');
    } else if (k === 'time') {
      const text = typeof v === 'number' ? String(v) : v;
      if (typeof text === 'string' && TIME.test(text)) out.time = text;
      else problems.at([...at, k], '`time` must be minutes or [D-]H:MM:SS such as 90 or 1:30:00 (SLURM --time)');
    } else {
      problems.atKey([...at, k], `unknown resource "${k}"${hint(k, ['cpus', 'memory', 'time'])}`);
    }
  }
  return out;
}

/** Parses `in:` (a stage id, `stage.port`, a list of them, or a map port → ref(s)) and type-checks each edge. */
function connectInputs(inst: StageInstance, rawIn: unknown, stages: Map<string, StageInstance>, problems: Problems): void {
  const base: Path = ['stages', inst.id, 'in'];
  const ports = inst.def.inputs;
  const portNames = Object.keys(ports);
  const before = problems.count();
  const connect = (port: string, ref: InputRef, path: Path): void => {
    const spec = ports[port]!;
    const producer = stages.get(ref.stage)!;
    const produced = producer.def.outputs[ref.port]!.kind;
    if (!kindAccepts(spec.kind, produced)) {
      problems.at(path, `input "${port}" of stage "${inst.id}" expects ${article(describeKind(spec.kind))}, but "${ref.stage}.${ref.port}" gives ${article(describeKind(produced))}`);
      return;
    }
    const list = (inst.inputs[port] ??= []);
    if (list.length && !spec.many) {
      problems.at(path, `input "${port}" of stage "${inst.id}" takes one artifact, but is given several`);
      return;
    }
    list.push(ref);
  };
  const parseRef = (value: unknown, path: Path, wantKind?: string): InputRef | undefined => {
    if (typeof value !== 'string' || value === '') {
      problems.at(path, 'an input must be a stage id or `stage.port`');
      return undefined;
    }
    const dot = value.indexOf('.');
    const stageId = dot < 0 ? value : value.slice(0, dot);
    const portName = dot < 0 ? undefined : value.slice(dot + 1);
    if (stageId === inst.id) { problems.at(path, `stage "${inst.id}" cannot take its own output as input`); return undefined; }
    const producer = stages.get(stageId);
    if (!producer) {
      problems.at(path, `unknown stage "${stageId}"${hint(stageId, stages.keys())}`);
      return undefined;
    }
    const outs = Object.keys(producer.def.outputs);
    if (portName !== undefined) {
      if (!outs.includes(portName)) {
        problems.at(path, `stage "${stageId}" (${producer.type}) has no output "${portName}"${hint(portName, outs)}; its outputs: ${outs.join(', ')}`);
        return undefined;
      }
      return { stage: stageId, port: portName };
    }
    if (outs.length === 1) return { stage: stageId, port: outs[0]! };
    const fitting = wantKind ? outs.filter((o) => kindAccepts(wantKind, producer.def.outputs[o]!.kind)) : [];
    if (fitting.length === 1) return { stage: stageId, port: fitting[0]! };
    // A main output named like the stage's first port wins (e.g. `model` of a training stage).
    problems.at(path, `stage "${stageId}" has several outputs (${outs.join(', ')}); name one, e.g. "${stageId}.${outs[0]}"`);
    return undefined;
  };

  if (rawIn === undefined || rawIn === null) {
    // nothing connected
  } else if (isRecord(rawIn)) {
    for (const [port, value] of Object.entries(rawIn)) {
      if (!Object.hasOwn(ports, port)) {
        problems.atKey([...base, port], `stage "${inst.id}" (${inst.type}) has no input "${port}"${hint(port, portNames)}; its inputs: ${portNames.join(', ') || 'none'}`);
        continue;
      }
      const values = Array.isArray(value) ? value : [value];
      values.forEach((v, i) => {
        const path = Array.isArray(value) ? [...base, port, i] : [...base, port];
        const ref = parseRef(v, path, ports[port]!.kind);
        if (ref) connect(port, ref, path);
      });
    }
  } else {
    const values = Array.isArray(rawIn) ? rawIn : [rawIn];
    if (portNames.length === 0) {
      problems.at(base, `stage "${inst.id}" (${inst.type}) takes no inputs`);
      return;
    }
    values.forEach((v, i) => {
      const path = Array.isArray(rawIn) ? [...base, i] : base;
      const ref = parseRef(v, path, portNames.length === 1 ? ports[portNames[0]!]!.kind : undefined);
      if (!ref) return;
      const produced = stages.get(ref.stage)!.def.outputs[ref.port]!.kind;
      const free = portNames.filter((p) => ports[p]!.many || !inst.inputs[p]?.length);
      const fitting = free.filter((p) => kindAccepts(ports[p]!.kind, produced));
      // required ports before optional ones, then the most specific kind (`table/spectra` over `table`)
      const required = fitting.filter((p) => !ports[p]!.optional);
      const candidates = required.length ? required : fitting;
      const bestLen = Math.max(-1, ...candidates.map((p) => ports[p]!.kind.length));
      const best = candidates.filter((p) => ports[p]!.kind.length === bestLen);
      if (best.length === 1) connect(best[0]!, ref, path);
      else if (portNames.length === 1) connect(portNames[0]!, ref, path);
      else if (best.length === 0) problems.at(path, `no input of stage "${inst.id}" (${inst.type}) takes ${article(describeKind(produced))} from "${ref.stage}.${ref.port}"; its inputs: ${portNames.map((p) => `${p} (${describeKind(ports[p]!.kind)})`).join(', ')}`);
      else problems.at(path, `"${ref.stage}" could feed several inputs of stage "${inst.id}" (${best.join(', ')}); write \`in: {${best[0]}: ${ref.stage}, …}\``);
    });
  }
  if (problems.count() > before) return; // a missing input is then a consequence, not news
  for (const [port, spec] of Object.entries(ports)) {
    if (!spec.optional && !inst.inputs[port]?.length) {
      const message = `stage "${inst.id}" (${inst.type}) needs input "${port}" (${article(describeKind(spec.kind))})`;
      if (rawIn === undefined || rawIn === null) problems.atKey(['stages', inst.id], message);
      else problems.at(base, message);
    }
  }
}

function topoOrder(stages: Map<string, StageInstance>): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  const visit = (id: string): void => {
    if (done.has(id)) return;
    done.add(id);
    for (const r of Object.values(stages.get(id)!.inputs).flat()) visit(r.stage);
    order.push(id);
  };
  for (const id of stages.keys()) visit(id);
  return order;
}

function substituteRefs(value: unknown, path: Path, params: Record<string, unknown>, problems: Problems): unknown {
  if (typeof value === 'string' && value.includes(REF_OPEN)) {
    const whole = value.startsWith(REF_OPEN) && value.endsWith(REF_CLOSE) && value.indexOf(REF_OPEN, 1) < 0;
    const lookup = (name: string): unknown => {
      const n = name.trim();
      if (!Object.hasOwn(params, n)) {
        problems.at(path, `undefined reference "\${${n}}"${hint(n, Object.keys(params), (s) => `\${${s}}`)}; define it under \`params\` or \`sweep\``);
        return undefined;
      }
      return params[n];
    };
    if (whole) return lookup(value.slice(REF_OPEN.length, -REF_CLOSE.length));
    return value.replace(new RegExp(`${escapeRe(REF_OPEN)}([^${REF_CLOSE}]*)${REF_CLOSE}`, 'g'), (_m, n: string) => {
      const v = lookup(n);
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteRefs(v, [...path, i], params, problems));
  if (isRecord(value)) {
    const out: Record<string, unknown> = nullProto();
    for (const [k, v] of Object.entries(value)) out[k] = substituteRefs(v, [...path, k], params, problems);
    return out;
  }
  return value;
}

function expandSweep(sweep: Record<string, unknown[]>): Record<string, unknown>[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const [axis, values] of Object.entries(sweep)) {
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [axis]: v })));
  }
  return combos;
}

class Problems {
  private list: Located[] = [];
  private seen = new Set<string>();
  constructor(private file: string, private positions: PositionIndex) {}
  at(path: Path, message: string): void { this.add(this.positions.value(path), message); }
  atKey(path: Path, message: string): void { this.add(this.positions.key(path), message); }
  private add(pos: SourcePos | undefined, message: string): void {
    const id = `${pos?.line}:${pos?.col}:${message.replace(/ \(variant [^)]*\)$/, '')}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.list.push({ file: this.file, pos, message });
  }
  any(): boolean { return this.list.length > 0; }
  count(): number { return this.list.length; }
  /** In the order found: structural problems come before the ones they cause. */
  throwIfAny(): void {
    if (this.list.length) throw new PipelineError(this.list);
  }
}

function hint(name: string, known: Iterable<string>, show: (s: string) => string = (s) => s): string {
  const best = didYouMean(name, known);
  return best ? ` (did you mean "${show(best)}"?)` : '';
}

/** Seeds above 2^53 − 1 collapse onto their neighbours as JS numbers, so they are refused. */
function isSeed(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Every `${name}` the stages refer to. */
function referencedNames(stages: unknown): Set<string> {
  const names = new Set<string>();
  const pattern = new RegExp(`${escapeRe(REF_OPEN)}([^${REF_CLOSE}]*)${REF_CLOSE}`, 'g');
  const visit = (v: unknown): void => {
    if (typeof v === 'string') for (const m of v.matchAll(pattern)) names.add(m[1]!.trim());
    else if (Array.isArray(v)) v.forEach(visit);
    else if (isRecord(v)) Object.values(v).forEach(visit);
  };
  visit(stages);
  return names;
}

function checkOverrideName(flag: string, arg: string, name: string, known: Set<string>): void {
  if (known.has(name)) return;
  const names = [...known].filter((n) => n !== 'seed').sort();
  throw new UserError(`${flag} ${arg}: the pipeline has no parameter "${name}"${hint(name, known)}; its parameters: ${[...names, 'seed'].join(', ')}`);
}

function parseOverrideValue(flag: string, arg: string, value: string): unknown {
  try {
    return parseYamlScalar(value) as unknown;
  } catch (e) {
    const reason = ((e as Error).message ?? String(e)).split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new UserError(`${flag} ${arg}: "${value}" is not a valid YAML value (${reason})`);
  }
}

/** `a,b,c` → values, splitting only at commas outside brackets, braces and quotes: `[0,1],[3,8]` is two lists. */
function splitSweepValues(v: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (quote) { if (c === quote) quote = ''; continue; }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') depth++;
    else if ((c === ']' || c === '}') && depth > 0) depth--;
    else if (c === ',' && depth === 0) { out.push(v.slice(start, i).trim()); start = i + 1; }
  }
  out.push(v.slice(start).trim());
  return out;
}

function splitAssignment(s: string, flag: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new UserError(`${flag} ${s}: expected key=value`);
  return [s.slice(0, i).trim(), s.slice(i + 1).trim()];
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function absolutise(p: string, dir: string): string {
  return isAbsolute(p) ? p : resolve(dir, p);
}

function containsRef(v: unknown): boolean {
  if (typeof v === 'string') return v.includes(REF_OPEN);
  if (Array.isArray(v)) return v.some(containsRef);
  if (isRecord(v)) return Object.values(v).some(containsRef);
  return false;
}

export function formatValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function article(s: string): string {
  return /^[aeiou]/i.test(s) ? `an ${s}` : `a ${s}`;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function basenameNoExt(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.ya?ml$/i, '');
}

/** An object for user-chosen keys: `__proto__` and `constructor` are keys like any other. */
function nullProto<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** Indices [first, repeat] of the first value listed twice (compared as canonical JSON). */
function duplicateIndex(values: unknown[]): [number, number] | undefined {
  const seen = new Map<string, number>();
  for (const [i, v] of values.entries()) {
    const id = canonicalJson(v);
    const first = seen.get(id);
    if (first !== undefined) return [first, i];
    seen.set(id, i);
  }
  return undefined;
}

/** Non-finite numbers only reach here from --set/--sweep (the YAML reader refuses them where written). */
function refuseNonFinite(params: Record<string, unknown>, sweep: Record<string, unknown[]>): void {
  const bad = (v: unknown): boolean => (typeof v === 'number' ? !Number.isFinite(v) : Array.isArray(v) ? v.some(bad) : isRecord(v) ? Object.values(v).some(bad) : false);
  for (const [k, v] of Object.entries(params)) if (bad(v)) throw new UserError(`--set ${k}: not a finite number (infinities and NaN cannot be keyed or stored)`);
  for (const [k, v] of Object.entries(sweep)) if (bad(v)) throw new UserError(`--sweep ${k}: a value is not a finite number (infinities and NaN cannot be keyed or stored)`);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
