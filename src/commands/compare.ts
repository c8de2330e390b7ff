/**
 * `specflow compare`: the experiments table — one row per variant (per run),
 * parameter columns then metric columns (`stage.metric`), like `dvc exp show`.
 */
import { resolve } from 'node:path';
import { UserError } from '../runner/errors.js';
import { didYouMean } from '../runner/suggest.js';
import type { RunRecord } from '../runner/records.js';
import { loadRegistry } from '../runner/registry.js';
import type { MetricInfo } from '../runner/stage-api.js';
import { firstLine } from '../runner/partial-gather.js';
import type { VariantFailure } from '../report/overview.js';
import { openStore, type GlobalOptions } from './common.js';

export interface CompareArgs extends GlobalOptions {
  pipeline?: string;
  format?: string;
  sort?: string;
}

export interface CompareTable {
  columns: string[];
  rows: Record<string, string | number | boolean | null>[];
}

export async function compareCommand(runs: string[], args: CompareArgs): Promise<number> {
  const store = openStore(args);
  const records = await selectRuns(store, runs, args.pipeline);
  const registry = await loadRegistry();
  const table = compareTable(records, ownStage(registry));
  if (args.sort) sortTable(table, args.sort);
  const format = args.format ?? 'table';
  const out = format === 'csv' ? toCsv(table) : format === 'json' ? `${JSON.stringify(table.rows, null, 2)}\n` : format === 'html' ? await overviewPage(records) : toText(table);
  process.stdout.write(out);
  return 0;
}

async function selectRuns(store: ReturnType<typeof openStore>, runs: string[], pipeline?: string): Promise<RunRecord[]> {
  const all = await store.runIds();
  if (runs.length) {
    return runs.map((r) => {
      const id = r === 'latest' ? store.latestRunId() : all.find((x) => x === r) ?? (all.filter((x) => x.startsWith(r)).length === 1 ? all.find((x) => x.startsWith(r)) : undefined);
      const rec = id ? store.readRun<RunRecord>(id) : undefined;
      if (!rec) throw new UserError(`no run "${r}" in ${store.root} (runs: ${all.slice(-5).join(', ') || 'none'})`);
      return rec;
    });
  }
  if (pipeline) {
    const abs = resolve(pipeline);
    const recs = all.map((id) => store.readRun<RunRecord>(id)).filter((r): r is RunRecord => !!r && r.pipeline_path === abs);
    if (!recs.length) throw new UserError(`no run of ${pipeline} in ${store.root}`);
    return recs;
  }
  const latest = store.latestRunId();
  const rec = latest ? store.readRun<RunRecord>(latest) : undefined;
  if (!rec) throw new UserError(`no runs in ${store.root} yet; \`specflow run PIPELINE\` first`);
  return [rec];
}

/** A variant's own stages: a gathering one (the report) belongs to the whole sweep, and is skipped if any variant failed. */
function ownStage(registry: Map<string, { gather?: boolean }>): (s: RunRecord['stages'][number]) => boolean {
  return (s) => !registry.get(s.type)?.gather;
}

/** The variant's first failed (else skipped or interrupted) stage, if any: its metrics are partial. */
function firstFailure(rec: RunRecord, variant: string, counts: (s: RunRecord['stages'][number]) => boolean = () => true): RunRecord['stages'][number] | undefined {
  const own = rec.stages.filter((st) => st.variant === variant && counts(st));
  return own.find((st) => st.status === 'failed') ?? own.find((st) => st.status === 'skipped' || st.status === 'interrupted');
}

/** `ok`, or `failed: stage` (the table's status column). */
function variantStatus(rec: RunRecord, variant: string, counts: (s: RunRecord['stages'][number]) => boolean = () => true): string {
  const failed = firstFailure(rec, variant, counts);
  return failed ? `${failed.status}: ${failed.id}` : 'ok';
}

/** The variant's failure as the sweep's report names it: the stage that failed (not one skipped for it) and its error's first line. */
function variantFailure(rec: RunRecord, variant: string, counts: (s: RunRecord['stages'][number]) => boolean): VariantFailure | undefined {
  const first = firstFailure(rec, variant, counts);
  if (!first) return undefined;
  const failed = first.status === 'skipped' ? rec.stages.find((st) => st.variant === variant && st.id === first.blocked_by && st.status === 'failed') : first;
  if (!failed) return { variant, stage: first.blocked_by ?? first.id };
  return { variant, stage: failed.id, ...(failed.error ? { error: firstLine(failed.error) } : {}), ...(failed.status === 'interrupted' ? { status: 'interrupted' } : {}) };
}

export function compareTable(records: RunRecord[], counts: (s: RunRecord['stages'][number]) => boolean = () => true): CompareTable {
  const paramCols = new Set<string>();
  const metricCols = new Set<string>();
  const missingCols = new Set<string>();
  const rows: Record<string, string | number | boolean | null>[] = [];
  for (const rec of records) {
    for (const v of rec.variants) {
      const row: Record<string, string | number | boolean | null> = { run: rec.run, pipeline: rec.name, variant: v.id };
      for (const [k, x] of Object.entries(v.params)) {
        paramCols.add(k);
        row[k] = typeof x === 'object' && x !== null ? JSON.stringify(x) : (x as string | number | boolean);
      }
      for (const s of rec.stages.filter((st) => st.variant === v.id && (st.status === 'done' || st.status === 'cached'))) {
        // a report made without some variants: say which, and give its measures only to the variants it shows
        if (s.missing?.length) {
          const col = `${s.id}.missing`;
          missingCols.add(col);
          if (s.missing.some((m) => m.variant === v.id)) continue;
          row[col] = [...new Map(s.missing.map((m) => [m.variant, `${m.variant} (${m.stage})`])).values()].join('; ');
        }
        for (const [m, x] of Object.entries(s.metrics)) {
          if (typeof x !== 'number' && typeof x !== 'string' && typeof x !== 'boolean') continue;
          const col = `${s.id}.${m}`;
          metricCols.add(col);
          row[col] = x;
        }
      }
      row.status = variantStatus(rec, v.id, counts);
      rows.push(row);
    }
  }
  const anyFailed = rows.some((r) => r.status !== 'ok');
  const columns = ['run', 'pipeline', 'variant', ...(anyFailed ? ['status'] : []), ...missingCols, ...paramCols, ...[...metricCols].sort()];
  if (records.length === 1) columns.splice(0, 2);
  return { columns, rows };
}

function sortTable(t: CompareTable, spec: string): void {
  const desc = spec.startsWith('-');
  const name = desc ? spec.slice(1) : spec;
  const col = t.columns.includes(name) ? name : t.columns.filter((c) => c.endsWith(`.${name}`)).length === 1 ? t.columns.find((c) => c.endsWith(`.${name}`)) : undefined;
  if (!col) {
    // a typo among 50 columns: name the likely one first
    const guess = didYouMean(name, t.columns) ?? didYouMean(name, t.columns.map((c) => c.slice(c.indexOf('.') + 1)));
    throw new UserError(`--sort ${spec}: no such column${guess ? ` (did you mean "${desc ? '-' : ''}${guess}"?)` : ''}; columns: ${t.columns.join(', ')}`);
  }
  t.rows.sort((a, b) => {
    const x = a[col];
    const y = b[col];
    if (x === y) return 0;
    if (x === undefined || x === null) return 1;
    if (y === undefined || y === null) return -1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return desc ? -c : c;
  });
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(5)));
  return String(v);
}

/**
 * The terminal table. A sweep's table ran to 50 columns of which most were the same in every
 * row (the data's sizes, the backend): those go to one line under the table, and a table still
 * wider than the terminal is turned — a row per column, a column per variant — so that it reads
 * without wrapping. CSV and JSON keep every column, one row per variant.
 */
export function toText(t: CompareTable, width = process.stdout.columns || Number(process.env.COLUMNS) || 160): string {
  const keep = new Set(['run', 'pipeline', 'variant', 'status']);
  const same = t.rows.length > 1 ? t.columns.filter((c) => !keep.has(c) && t.rows.every((r) => cell(r[c]) === cell(t.rows[0]![c]))) : [];
  const columns = t.columns.filter((c) => !same.includes(c));
  const footer = same.length ? [`same in every row: ${same.map((c) => `${c} ${cell(t.rows[0]![c]) || '—'}`).join(' · ')}`] : [];
  const grid = (head: string[], body: string[][]): string[] => {
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
    const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
    return [line(head), line(widths.map((w) => '─'.repeat(w))), ...body.map(line)];
  };
  const wide = grid(columns, t.rows.map((r) => columns.map((c) => cell(r[c]))));
  const ids = t.rows.map((r) => (t.columns.includes('run') ? `${cell(r.run)} ${cell(r.variant)}` : cell(r.variant)));
  const turned = grid(['', ...ids], columns.filter((c) => c !== 'variant').map((c) => [c, ...t.rows.map((r) => cell(r[c]))]));
  const chosen = wide[1]!.length > width && turned[1]!.length < wide[1]!.length ? turned : wide;
  return `${[...chosen, ...footer].join('\n')}\n`;
}

export function toCsv(t: CompareTable): string {
  const q = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return `${[t.columns.map(q).join(','), ...t.rows.map((r) => t.columns.map((c) => q(typeof r[c] === 'number' ? String(r[c]) : cell(r[c]))).join(','))].join('\n')}\n`;
}

/**
 * The same overview the report of a sweep opens with — one figure of small
 * multiples, constants as text, replicates as mean ± sd — over every variant
 * of the runs given, as a self-contained HTML page. A variant computed by
 * several runs counts once (the latest run's).
 */
async function overviewPage(records: RunRecord[]): Promise<string> {
  const { overviewSection } = await import('../report/overview.js');
  const { renderSvg } = await import('../report/render.js');
  const { renderHtml } = await import('../report/html.js');
  const registry = await loadRegistry();
  const rows = new Map<string, { variant: string; axes: Record<string, unknown>; values: Record<string, number> }>();
  const info: Record<string, MetricInfo> = {};
  const replicates = new Set<string>();
  // variant → its stages' metrics, from the latest run that has the variant (as its overview row)
  const metrics = new Map<string, { stage: string; variant: string; metrics: RunRecord['stages'][number]['metrics'] }[]>();
  const failures = new Map<string, VariantFailure | undefined>();
  for (const rec of records) {
    // records written before `replicates` existed: a swept seed still is one
    for (const r of rec.replicates ?? (rec.variants.some((v) => 'seed' in v.axes) ? ['seed'] : [])) replicates.add(r);
    for (const v of rec.variants) {
      const values: Record<string, number> = {};
      for (const s of rec.stages.filter((st) => st.variant === v.id && (st.status === 'done' || st.status === 'cached'))) {
        if (registry.get(s.type)?.gather) continue; // a report's figure count is not a result
        for (const [m, x] of Object.entries(s.metrics)) if (typeof x === 'number' && Number.isFinite(x)) values[`${s.id}.${m}`] = x;
        for (const [m, d] of Object.entries(registry.get(s.type)?.metrics ?? {})) info[`${s.id}.${m}`] = d;
      }
      rows.delete(v.id); // a variant run again counts once, as the latest run has it
      rows.set(v.id, { variant: v.id, axes: v.axes, values });
    }
    for (const v of rec.variants) {
      failures.set(v.id, variantFailure(rec, v.id, ownStage(registry)));
      metrics.delete(v.id);
      metrics.set(v.id, rec.stages.filter((s) => s.variant === v.id && Object.keys(s.metrics).length).map((s) => ({ stage: s.id, variant: s.variant, metrics: s.metrics })));
    }
  }
  // as the table's status column and the sweep's report: a failed variant's metrics stop at the stage that failed
  const failed = [...failures.values()].filter((f): f is VariantFailure => !!f);
  const section = overviewSection([...rows.values()], info, [...replicates], failed);
  const figures = [];
  for (const f of section.figures) figures.push({ title: f.title, caption: f.caption, svg: await renderSvg(f.spec), specFile: '' });
  const names = [...new Set(records.map((r) => r.name))];
  const title = `specflow compare: ${names.join(', ')}`;
  const subtitle = [`${rows.size} variant${rows.size === 1 ? '' : 's'} from ${records.length} run${records.length === 1 ? '' : 's'}: ${records.map((r) => r.run).join(', ')}`];
  return renderHtml(title, subtitle, [{ ...section, figures }], [...metrics.values()].flat(), 'Every metric of every variant, as its latest run recorded it.');
}
