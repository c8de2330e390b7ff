/**
 * Run records: what ran, with which parameters, code and packages, what it
 * produced and measured. One JSON file per run in the store's runs/ folder.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyMaterial, ImplFingerprint } from './fingerprint.js';
import { packageVersion } from './fingerprint.js';
import { locateStageError } from './locate-error.js';
import type { Plan } from './plan.js';
import type { TaskResult, TaskStatus } from './scheduler.js';
import type { MetricValue, MissingVariant } from './stage-api.js';

export interface StageRecord {
  id: string;
  variant: string;
  type: string;
  key: string;
  cached: boolean;
  status: TaskStatus;
  seconds: number;
  outputs: Record<string, string>;
  metrics: Record<string, MetricValue>;
  error?: string;
  blocked_by?: string;
  /** A gathering stage that ran without the variants whose upstream stages failed: what failed. Its
   * outputs are then in the entry of `entry`, a key of its own (see partialGather). */
  missing?: MissingVariant[];
  entry?: string;
  material: KeyMaterial;
  impl: ImplFingerprint;
  /** Where it was computed (absent when cached or not run). */
  host?: string;
  worker?: string;
}

export interface RunRecord {
  run: string;
  pipeline: string;
  pipeline_path: string;
  name: string;
  status: 'ok' | 'failed' | 'interrupted';
  started: string;
  finished: string;
  seconds: number;
  text: string;
  variants: { id: string; params: Record<string, unknown>; axes: Record<string, unknown>; seed: number }[];
  /** Sweep axes that are replicates (absent in records written before they existed). */
  replicates?: string[];
  stages: StageRecord[];
  git: { commit: string; dirty: boolean } | null;
  packages: Record<string, string>;
  node: string;
  /** tfjs backends reported by the stages (metric `backend`). */
  backend: string | null;
  jobs: number;
  /** `local`, `queue` or `slurm`. */
  executor: string;
}

export function newRunId(now = new Date()): string {
  const iso = now.toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\.(\d+)Z$/, '-$1');
  return `${iso}-${randomBytes(2).toString('hex')}`;
}

export function buildRecord(
  plan: Plan, results: Map<string, TaskResult>, runId: string, started: Date, jobs: number, executor = 'local',
): RunRecord {
  const p = plan.pipeline;
  const stages: StageRecord[] = [];
  for (const v of p.variants) {
    for (const id of v.order) {
      const key = plan.keys.get(v.id)!.get(id)!;
      const task = plan.byKey.get(key)!;
      const r = results.get(key);
      const status: TaskStatus = r?.status ?? 'skipped';
      stages.push({
        id, variant: v.id, type: task.stage.type, key,
        cached: status === 'cached',
        status,
        seconds: r?.seconds ?? 0,
        outputs: r?.outputs ?? {},
        metrics: r?.metrics ?? {},
        ...(r?.error ? { error: locateStageError(p, id, r.error) } : {}),
        ...(r?.blockedBy ? { blocked_by: r.blockedBy } : {}),
        ...(r?.missing ? { missing: r.missing, entry: r.key } : {}),
        material: task.material,
        impl: task.impl,
        ...(r?.host && r.status !== 'cached' ? { host: r.host, worker: r.worker } : {}),
      });
    }
  }
  const statuses = stages.map((s) => s.status);
  const status = statuses.includes('interrupted') ? 'interrupted' : statuses.some((s) => s === 'failed' || s === 'skipped') ? 'failed' : 'ok';
  const backends = [...new Set(stages.map((s) => s.metrics.backend).filter((b): b is string => typeof b === 'string'))];
  const finished = new Date();
  return {
    run: runId,
    pipeline: p.file,
    pipeline_path: p.absPath,
    name: p.name,
    status,
    started: started.toISOString(),
    finished: finished.toISOString(),
    seconds: (finished.getTime() - started.getTime()) / 1000,
    text: p.text,
    variants: p.variants.map((v) => ({ id: v.id, params: v.params, axes: v.axes, seed: v.seed })),
    replicates: p.replicates,
    stages,
    git: gitState(p.dir),
    packages: packageVersions(),
    node: process.version,
    backend: backends.length ? backends.join(',') : null,
    jobs,
    executor,
  };
}

/**
 * The pipeline repository's configuration must not run programs: its
 * fsmonitor hook (run by `git status`) and any other hook are switched off.
 */
const GIT_SAFE = ['-c', 'core.fsmonitor=', '-c', 'core.hooksPath=/dev/null', '-c', 'core.untrackedCache=false'];

function gitState(dir: string): { commit: string; dirty: boolean } | null {
  const git = (args: string[]) => spawnSync('git', [...GIT_SAFE, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } });
  const rev = git(['rev-parse', 'HEAD']);
  if (rev.status !== 0) return null;
  const st = git(['status', '--porcelain', '--untracked-files=no']);
  return { commit: rev.stdout.trim(), dirty: st.status === 0 && st.stdout.trim() !== '' };
}

let versions: Record<string, string> | undefined;

/** specflow's own version and the installed versions of its dependencies. */
export function packageVersions(): Record<string, string> {
  if (versions) return versions;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const out: Record<string, string> = {};
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      version: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>;
    };
    out.specflow = pkg.version;
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) out[name] = packageVersion(name, root);
  } catch { /* not fatal: the record just lacks versions */ }
  versions = out;
  return out;
}

/** The JSON document `specflow run --json` prints. */
export function jsonSummary(record: RunRecord): unknown {
  return {
    run: record.run,
    pipeline: record.pipeline,
    status: record.status,
    executor: record.executor,
    variants: record.variants.map((v) => ({ id: v.id, params: v.params })),
    stages: record.stages.map((s) => ({
      id: s.id, variant: s.variant, type: s.type, key: s.key, cached: s.cached, status: s.status,
      seconds: s.seconds, outputs: s.outputs, metrics: s.metrics,
      ...(s.error ? { error: s.error } : {}), ...(s.blocked_by ? { blocked_by: s.blocked_by } : {}),
      ...(s.missing ? { missing: s.missing, entry: s.entry } : {}),
      ...(s.host ? { host: s.host, worker: s.worker } : {}),
    })),
  };
}
