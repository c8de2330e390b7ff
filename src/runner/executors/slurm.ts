/**
 * The SLURM executor: each ready stage becomes one batch job running
 * `specflow exec-stage JOBFILE` (computeEntry, as everywhere) with the stage's
 * resources (cpus, memory, time: the stage type's, overridden by `resources:` in
 * the pipeline). The job file, its result and its log live in the store's jobs/
 * folder, which every node sees because the store is shared. The coordinator
 * polls: the result file first, then squeue while the job is queued or running,
 * then sacct (or scontrol where accounting is off) for how it ended. Ctrl-C
 * scancels the run's jobs.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Store } from '../store.js';
import { writeAtomic } from '../store.js';
import type { JobOutcome, StageJob } from '../stage-job.js';
import type { Executor } from './executor.js';
import { newJobBase, slurmJobsDir } from './slurm-jobs.js';
import type { QueueProgress } from './queue-common.js';

const run = promisify(execFile);

export interface SlurmOptions {
  /** Poll period (SPECFLOW_SLURM_POLL_MS, default 2000 ms). */
  pollMs?: number;
  /** Extra sbatch arguments, e.g. a partition or account (SPECFLOW_SBATCH_ARGS, split on spaces). */
  sbatchArgs?: string[];
}

/** Job states after which a job will not run again. */
const FINAL = /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE|REVOKED|SPECIAL_EXIT)/;

/** `sbatch --parsable` prints `ID` or `ID;cluster`. */
export function parseSbatch(stdout: string): string {
  const id = stdout.trim().split(/\r?\n/).pop()?.split(';')[0]?.trim() ?? '';
  if (!/^\d+(_\d+)?$/.test(id)) throw new Error(`sbatch printed no job id: ${JSON.stringify(stdout.trim())}`);
  return id;
}

/** `squeue -h -j ID -o %T`: the state, or undefined once the job has left the queue. */
export function parseSqueue(stdout: string): string | undefined {
  const state = stdout.trim().split(/\r?\n/)[0]?.trim();
  return state ? state : undefined;
}

/**
 * Pending reasons that no amount of waiting resolves: the request exceeds what a
 * partition, account or QOS ever allows, or names one that does not exist.
 * (Aggregate limits — AssocGrp*, QOSGrp* — and Resources, Priority clear up in time.)
 */
const NEVER_STARTS = /^(PartitionConfig|PartitionNodeLimit|PartitionTimeLimit|BadConstraints|InvalidAccount|InvalidQOS|AccountNotAllowed|QOSNotAllowed|AssocMax\w*|QOSMax\w*PerJob\w*)$/;

/** `squeue -h -j ID -o %r`: why a pending job waits. */
export function parsePendingReason(stdout: string): string | undefined {
  return stdout.trim().split(/\r?\n/)[0]?.trim() || undefined;
}

/** `sacct -n -P -X -j ID -o State`: the job's final state (`CANCELLED by 0` → CANCELLED). */
export function parseSacct(stdout: string): string | undefined {
  const state = stdout.trim().split(/\r?\n/)[0]?.trim().split(/\s+/)[0];
  return state ? state.replace(/\+$/, '') : undefined;
}

/** `scontrol show job ID`: its JobState (where accounting is off, sacct knows nothing). */
export function parseScontrol(stdout: string): string | undefined {
  return /\bJobState=(\S+)/.exec(stdout)?.[1];
}

/** The `@specflow {json}` lines exec-stage prints for the coordinator. */
export const PROGRESS_MARK = '@specflow ';

export function slurmExecutor(store: Store, options: SlurmOptions = {}): Executor {
  const pollMs = options.pollMs ?? (Number(process.env.SPECFLOW_SLURM_POLL_MS) || 2000);
  const extra = options.sbatchArgs ?? (process.env.SPECFLOW_SBATCH_ARGS ?? '').split(' ').filter(Boolean);
  const cli = resolve(fileURLToPath(new URL('../../cli.js', import.meta.url)));
  const live = new Set<string>();

  const state = async (id: string): Promise<string | undefined> => {
    const queued = parseSqueue((await run('squeue', ['-h', '-j', id, '-o', '%T']).catch(() => ({ stdout: '' }))).stdout);
    if (queued) return queued;
    const acct = await run('sacct', ['-n', '-P', '-X', '-j', id, '-o', 'State']).then((r) => parseSacct(r.stdout), () => undefined);
    if (acct) return acct;
    return run('scontrol', ['show', 'job', id]).then((r) => parseScontrol(r.stdout), () => undefined);
  };

  /** The state a job ended in (SLURM says COMPLETING for a moment after its last process exits), or undefined. */
  const finalState = async (id: string, signal: AbortSignal): Promise<string | undefined> => {
    for (let i = 0; i < 20 && !signal.aborted; i++) {
      const st = await state(id);
      if (st && FINAL.test(st)) return st;
      await sleep(Math.min(pollMs, 250), signal);
    }
    return undefined;
  };

  return {
    name: 'slurm',
    concurrency: () => Number.MAX_SAFE_INTEGER,
    async compute(_def, job, hooks) {
      const interrupted = (worker: string): JobOutcome => ({ host: 'slurm', worker, status: 'interrupted', seconds: 0, metrics: {}, error: 'interrupted' });
      if (hooks.signal.aborted) return interrupted('-');
      if (!job.force) {
        // another run computing this key (in its own batch job) is waited for here, not inside a second allocation
        const claim = await store.claim(job.key, hooks.signal, hooks.onWaiting).catch((e: unknown) => {
          if (hooks.signal.aborted) return undefined;
          throw e;
        });
        if (!claim) return interrupted('-');
        const m = claim.cached ? store.readManifest(job.key) : undefined;
        if (m) return { host: 'slurm', worker: '-', status: 'cached', seconds: m.seconds, metrics: m.metrics };
        if (!claim.cached) await store.release(job.key);
      }
      await fsp.mkdir(slurmJobsDir(store), { recursive: true });
      const base = newJobBase(store, job.key);
      const files = { job: `${base}.json`, result: `${base}.result.json`, log: `${base}.out`, script: `${base}.sh` };
      await writeAtomic(files.job, JSON.stringify(job));
      await writeAtomic(files.script, batchScript([process.execPath, cli, '--store', store.root, 'exec-stage', files.job, '--result', files.result]));
      const r = job.resources;
      let id: string;
      try {
        const sbatch = await run('sbatch', [
          '--parsable', `--job-name=specflow-${job.stage}`, `--output=${files.log}`,
          ...(r.cpus ? [`--cpus-per-task=${r.cpus}`] : []), ...(r.memory ? [`--mem=${r.memory}`] : []), ...(r.time ? [`--time=${r.time}`] : []),
          ...extra, files.script,
        ]);
        id = parseSbatch(sbatch.stdout);
      } catch (e) {
        // no SLURM here, or it refuses what every job asks (partition, account): the run cannot go on
        for (const f of [files.job, files.script]) await fsp.rm(f, { force: true });
        return { host: 'slurm', worker: '-', status: 'failed', seconds: 0, metrics: {}, userError: true, fatal: true, error: sbatchProblem(e, job.label) };
      }
      const worker = `slurm job ${id}`;
      live.add(id);
      let offset = 0;
      let started = false;
      try {
        for (;;) {
          // progress lines the stage printed since the last look
          const text = await fsp.readFile(files.log, 'utf8').catch(() => '');
          const fresh = text.slice(offset);
          const complete = fresh.lastIndexOf('\n') + 1;
          offset += complete;
          for (const line of fresh.slice(0, complete).split('\n')) {
            if (!line.startsWith(PROGRESS_MARK)) continue;
            const p = JSON.parse(line.slice(PROGRESS_MARK.length)) as QueueProgress;
            if (p.type === 'start') {
              started = true;
              hooks.onStart({ host: p.host, worker });
            } else hooks.onMessage(p);
          }
          if (existsSync(files.result)) {
            const outcome = JSON.parse(await fsp.readFile(files.result, 'utf8')) as JobOutcome;
            if (!started) hooks.onStart({ host: outcome.host, worker });
            if (outcome.status === 'interrupted' && !hooks.signal.aborted) {
              // SLURM stopped it (scancel by someone, a time limit, preemption): the stage failed, this run was not interrupted
              const st = await finalState(id, hooks.signal);
              return { ...outcome, worker, status: 'failed', infrastructure: true, error: `SLURM job ${id} ended ${st ?? 'by a SIGTERM'} before stage "${job.label}" finished (log ${files.log})` };
            }
            return { ...outcome, worker };
          }
          const st = await state(id);
          if (st === 'PENDING') {
            const reason = parsePendingReason((await run('squeue', ['-h', '-j', id, '-o', '%r']).catch(() => ({ stdout: '' }))).stdout);
            if (reason && NEVER_STARTS.test(reason)) {
              await run('scancel', [id]).catch(() => undefined);
              const asked = [`--cpus-per-task=${r.cpus ?? 1}`, ...(r.memory ? [`--mem=${r.memory}`] : []), ...(r.time ? [`--time=${r.time}`] : []), ...extra].join(' ');
              return {
                host: 'slurm', worker, status: 'failed', seconds: 0, metrics: {}, userError: true,
                error: `SLURM job ${id} cannot start: it is PENDING for "${reason}" (the cluster never grants what stage "${job.label}" asks: ${asked}); cancelled it — change the stage's resources: or SPECFLOW_SBATCH_ARGS`,
              };
            }
          }
          if (st && FINAL.test(st)) {
            // the result may have landed between our two looks
            if (existsSync(files.result)) continue;
            const tail = text.trim().split('\n').filter((l) => !l.startsWith(PROGRESS_MARK)).slice(-5).join('\n  ');
            return { host: 'slurm', worker, status: 'failed', seconds: 0, metrics: {}, infrastructure: true, error: `SLURM job ${id} ended ${st} without a result (log ${files.log})${tail ? `:\n  ${tail}` : ''}` };
          }
          await sleep(pollMs, hooks.signal);
          if (hooks.signal.aborted) {
            await run('scancel', [id]).catch(() => undefined);
            return interrupted(worker);
          }
        }
      } finally {
        live.delete(id);
      }
    },
    async close() {
      if (live.size) await run('scancel', [...live]).catch(() => undefined);
    },
  };
}

/** One line for an sbatch that could not be run or refused the job. */
function sbatchProblem(e: unknown, label: string): string {
  const err = e as NodeJS.ErrnoException & { stderr?: string };
  if (err.code === 'ENOENT') return 'sbatch not found on PATH: --executor slurm runs on a SLURM login node, with sbatch, squeue and scancel on PATH';
  const said = (err.stderr || err.message).trim().split(/\r?\n/).map((l) => l.trim()).filter(Boolean).join('; ');
  return `sbatch refused stage "${label}": ${said}`;
}

/** A POSIX shell script that execs the command, every argument single-quoted. */
export function batchScript(argv: string[]): string {
  return `#!/bin/sh\nexec ${argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}\n`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((res) => {
    const t = setTimeout(done, ms);
    function done(): void { clearTimeout(t); signal.removeEventListener('abort', done); res(); }
    signal.addEventListener('abort', done, { once: true });
  });
}
