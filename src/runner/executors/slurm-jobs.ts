/**
 * The SLURM executor's files in the store: `jobs/slurm/<key>.<owner>.<nonce>.*`
 * (the job `.json`, its batch script `.sh`, its log `.out` and its
 * `.result.json`). `<owner>` is the coordinator that submitted it (owner.ts),
 * so that `cache gc` can tell a job some live coordinator still polls from one
 * whose coordinator is gone. Files written before the owner was part of the
 * name (`<key>.<nonce>.*`) have no owner: they count as gone once older than a
 * lease, as temp files without a hold do.
 */
import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { currentOwner } from '../owner.js';
import type { Store } from '../store.js';

const SUFFIXES = ['.result.json', '.json', '.sh', '.out'];

export function slurmJobsDir(store: Store): string {
  return join(store.root, 'jobs', 'slurm');
}

/** The path, without suffix, of a new job's files for `key`, named after this coordinator. */
export function newJobBase(store: Store, key: string): string {
  return join(slurmJobsDir(store), `${key}.${currentOwner().id}.${randomBytes(3).toString('hex')}`);
}

export interface SlurmJobFiles {
  /** `<key>.<owner>.<nonce>` (or `<key>.<nonce>` for files of older versions). */
  base: string;
  /** The coordinator's owner id, '' when the name carries none. */
  owner: string;
  files: string[];
  /** The newest modification time of its files, and that file. */
  mtimeMs: number;
  newest: string;
  bytes: number;
}

/** The job file groups in `jobs/slurm/`; names that are not job files are left out (and alone). */
export async function listSlurmJobs(store: Store): Promise<SlurmJobFiles[]> {
  const dir = slurmJobsDir(store);
  const jobs = new Map<string, SlurmJobFiles>();
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    const suffix = SUFFIXES.find((s) => name.endsWith(s));
    if (!suffix) continue;
    const base = name.slice(0, -suffix.length);
    const parts = base.split('.');
    if (!/^[0-9a-f]{64}$/.test(parts[0] ?? '') || (parts.length !== 2 && parts.length !== 3)) continue;
    const stat = await fsp.lstat(join(dir, name)).catch(() => undefined);
    if (!stat?.isFile()) continue;
    const job = jobs.get(base) ?? { base, owner: parts.length === 3 ? parts[1]! : '', files: [], mtimeMs: -1, newest: '', bytes: 0 };
    job.files.push(join(dir, name));
    if (stat.mtimeMs > job.mtimeMs) Object.assign(job, { mtimeMs: stat.mtimeMs, newest: join(dir, name) });
    job.bytes += stat.size;
    jobs.set(base, job);
  }
  return [...jobs.values()].sort((a, b) => a.mtimeMs - b.mtimeMs);
}

/**
 * Jobs no live run can need: their coordinator is gone (so nothing polls their
 * result or will read their job file) and their files are older than
 * `keepSince` (the start of the oldest run record gc keeps, whose error
 * messages may point at a job's log). `keepSince` undefined: no run is kept.
 */
export async function prunableSlurmJobs(store: Store, keepSince: Date | undefined): Promise<SlurmJobFiles[]> {
  const out: SlurmJobFiles[] = [];
  for (const job of await listSlurmJobs(store)) {
    if (keepSince && job.mtimeMs >= keepSince.getTime()) continue;
    // without a hold to ask, the job's newest file says how long ago anyone touched it
    if (await store.ownerGone(job.owner, job.newest)) out.push(job);
  }
  return out;
}
