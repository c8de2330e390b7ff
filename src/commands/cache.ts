/** `specflow cache ls | gc | verify`. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../runner/records.js';
import type { Store } from '../runner/store.js';
import { prunableSlurmJobs } from '../runner/executors/slurm-jobs.js';
import { existingStore, formatSize, parseSize, type GlobalOptions } from './common.js';

interface EntryInfo {
  key: string;
  type: string;
  stage: string;
  size: number;
  created: string;
  used: Date;
}

async function entries(store: Store): Promise<EntryInfo[]> {
  const out: EntryInfo[] = [];
  for (const key of await store.keys()) {
    const m = store.readManifest(key);
    const used = await fsp.stat(join(store.entryDir(key), 'manifest.json')).then((s) => s.mtime).catch(() => new Date(0));
    out.push({ key, type: m?.type ?? '?', stage: m?.stage ?? '?', size: await store.entrySize(key), created: m?.created ?? '?', used });
  }
  return out;
}

async function keysOfRuns(store: Store, runIds: string[]): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const id of runIds) for (const s of store.readRun<RunRecord>(id)?.stages ?? []) keys.add(s.key);
  return keys;
}

export async function cacheLs(args: GlobalOptions & { json?: boolean }): Promise<number> {
  const store = existingStore(args);
  const list = await entries(store);
  const latest = store.latestRunId();
  const inLatest = latest ? await keysOfRuns(store, [latest]) : new Set<string>();
  if (args.json) {
    process.stdout.write(`${JSON.stringify(list.map((e) => ({ ...e, used: e.used.toISOString(), in_latest_run: inLatest.has(e.key) })), null, 2)}\n`);
    return 0;
  }
  if (!list.length) {
    process.stdout.write(`store ${store.root} is empty\n`);
    return 0;
  }
  process.stdout.write(`${'key'.padEnd(14)}${'type'.padEnd(22)}${'stage'.padEnd(18)}${'size'.padStart(11)}  last used\n`);
  for (const e of list.sort((a, b) => b.used.getTime() - a.used.getTime())) {
    process.stdout.write(`${(e.key.slice(0, 12) + (inLatest.has(e.key) ? '*' : '')).padEnd(14)}${e.type.padEnd(22)}${e.stage.padEnd(18)}${formatSize(e.size).padStart(11)}  ${e.used.toISOString().slice(0, 19).replace('T', ' ')}\n`);
  }
  const total = list.reduce((s, e) => s + e.size, 0);
  process.stdout.write(`${list.length} entries, ${formatSize(total)} in ${store.root}${latest ? '  (* = used by the latest run)' : ''}\n`);
  return 0;
}

export interface GcArgs extends GlobalOptions {
  keepRuns?: number;
  maxSize?: string;
  dryRun?: boolean;
}

/**
 * Keeps every entry referenced by the newest `keepRuns` run records (all runs by
 * default) and deletes the rest, with the older run records; then, with
 * `maxSize`, evicts least-recently-used entries (never those of the latest run)
 * until the store fits. SLURM job files (jobs/slurm/) go once their coordinator
 * is gone and they are older than the oldest run record kept.
 */
export async function cacheGc(args: GcArgs): Promise<number> {
  const store = existingStore(args);
  // one gc at a time; runs that start meanwhile wait for it (Store.waitForGc)
  const lock = args.dryRun ? undefined : await store.lockStore(new AbortController().signal, () => process.stderr.write('waiting for another `cache gc` to finish…\n'));
  try {
    return await collect(store, args);
  } finally {
    await lock?.release();
    await store.close();
  }
}

async function collect(store: Store, args: GcArgs): Promise<number> {
  const stale = args.dryRun ? { temps: 0, locks: 0 } : await store.cleanStale();
  // what running processes (runs, workers) have registered: published but not yet in a run record
  const held = await store.heldByLiveProcesses();
  const runIds = await store.runIds();
  const keptRuns = args.keepRuns === undefined ? runIds : runIds.slice(-args.keepRuns);
  const droppedRuns = runIds.filter((r) => !keptRuns.includes(r));
  const keep = await keysOfRuns(store, keptRuns);
  const latest = store.latestRunId();
  const protect = latest ? await keysOfRuns(store, [latest]) : new Set<string>();
  const all = await entries(store);
  const remove = new Set(all.filter((e) => !keep.has(e.key) && !held.has(e.key)).map((e) => e.key));
  if (args.maxSize !== undefined) {
    const limit = parseSize(args.maxSize);
    let size = all.filter((e) => !remove.has(e.key)).reduce((s, e) => s + e.size, 0);
    const candidates = all.filter((e) => !remove.has(e.key) && !protect.has(e.key) && !held.has(e.key)).sort((a, b) => a.used.getTime() - b.used.getTime());
    for (const e of candidates) {
      if (size <= limit) break;
      remove.add(e.key);
      size -= e.size;
    }
    if (size > limit) process.stderr.write(`note: the latest run's entries alone take ${formatSize(size)}, more than --max-size ${args.maxSize}\n`);
  }
  const oldestKept = keptRuns.length ? store.readRun<RunRecord>(keptRuns[0]!)?.started : undefined;
  const jobs = await prunableSlurmJobs(store, keptRuns.length ? new Date(oldestKept ?? 0) : undefined);
  const freed = all.filter((e) => remove.has(e.key)).reduce((s, e) => s + e.size, 0);
  if (!args.dryRun) {
    for (const job of jobs) for (const f of job.files) await fsp.rm(f, { force: true });
    for (const key of remove) await store.removeEntry(key);
    for (const id of droppedRuns) await store.removeRun(id);
    // parsed pipelines are only a speed-up; they are rebuilt on the next run. Only the
    // finished files go: a run parsing right now may be writing one (its temp file is
    // left to cleanStale), and removing the folder under it made gc fail with ENOTEMPTY
    const parsed = join(store.root, 'cache', 'pipelines');
    for (const name of await fsp.readdir(parsed).catch(() => [])) {
      if (name.endsWith('.json')) await fsp.rm(join(parsed, name), { force: true });
    }
    for (const name of await fsp.readdir(join(store.root, 'quarantine')).catch(() => [])) {
      await fsp.rm(join(store.root, 'quarantine', name), { recursive: true, force: true });
    }
  }
  const verb = args.dryRun ? 'would remove' : 'removed';
  if (args.dryRun) for (const job of jobs) process.stdout.write(`would remove jobs/slurm/${job.base}.* (${job.files.length} files)\n`);
  process.stdout.write(`${verb} ${remove.size} of ${all.length} entries (${formatSize(freed)}) and ${droppedRuns.length} run record${droppedRuns.length === 1 ? '' : 's'}`
    + `${jobs.length ? `, ${jobs.length} finished SLURM job${jobs.length === 1 ? "'s" : "s'"} files (${formatSize(jobs.reduce((s, j) => s + j.bytes, 0))})` : ''}`
    + `${stale.temps || stale.locks ? `; cleaned ${stale.temps} abandoned temp dir(s), ${stale.locks} stale lock(s)` : ''}\n`);
  return 0;
}

export async function cacheVerify(args: GlobalOptions & { remove?: boolean; json?: boolean }): Promise<number> {
  const store = existingStore(args);
  const lock = args.remove ? await store.lockStore(new AbortController().signal) : undefined;
  try {
    return await verify(store, args);
  } finally {
    await lock?.release();
    await store.close();
  }
}

/**
 * Re-hashes every entry. With --remove, corrupt entries go, and so does every
 * entry computed from one of them (their manifests' input keys say which):
 * a result made from corrupt bytes is no better than the bytes.
 */
async function verify(store: Store, args: { remove?: boolean; json?: boolean }): Promise<number> {
  const keys = await store.keys();
  const bad: { key: string; problems: string[] }[] = [];
  for (const key of keys) {
    const problems = await store.verifyEntry(key);
    if (problems.length) bad.push({ key, problems });
  }
  const derived = args.remove ? await store.dependentsOf(bad.map((b) => b.key)) : new Map<string, string>();
  const describe = (key: string): string => {
    const m = store.readManifest(key);
    return `${key.slice(0, 12)} (${m?.type ?? '?'} ${m?.stage ?? ''})`;
  };
  const badLines = bad.map((b) => `corrupt ${describe(b.key)}: ${b.problems.join('; ')}${args.remove ? ' — removed' : ''}`);
  const derivedLines = [...derived].map(([key, from]) => `removed ${describe(key)}: computed from corrupt ${from.slice(0, 12)}`);
  if (args.remove) for (const key of [...bad.map((b) => b.key), ...derived.keys()]) await store.removeEntry(key);
  if (args.json) {
    process.stdout.write(`${JSON.stringify({
      entries: keys.length, corrupt: bad, removed: args.remove ? bad.length + derived.size : 0,
      derived_removed: [...derived].map(([key, from]) => ({ key, from })),
    }, null, 2)}\n`);
  } else {
    for (const line of [...badLines, ...derivedLines]) process.stdout.write(`${line}\n`);
    process.stdout.write(`${keys.length} entries checked, ${bad.length} corrupt${derived.size ? `, ${derived.size} derived from them removed` : ''}${bad.length && !args.remove ? ' (run `specflow cache verify --remove` to delete them and what was computed from them; the next run recomputes them)' : ''}\n`);
  }
  return bad.length && !args.remove ? 1 : 0;
}
