/**
 * The SLURM executor: sbatch/squeue/sacct/scontrol output parsing on recorded
 * text, then whole runs on a real single-node SLURM (munge + slurmctld + slurmd
 * started here, see slurm-cluster.ts) — skipped, loudly, where that cannot start.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchScript, parseSacct, parseSbatch, parseScontrol, parseSqueue } from '../../src/runner/executors/slurm.js';
import { CLI, PLUGIN, ROOT, cli, collectOutput, tempDir } from './helpers.js';
import { slurmUnavailable, startSlurm, type SlurmCluster } from './slurm-cluster.js';

describe('SLURM command output (recorded from slurm 22.05)', () => {
  it('reads the job id from sbatch --parsable, with or without a cluster name', () => {
    expect(parseSbatch('4127\n')).toBe('4127');
    expect(parseSbatch('4127;specflowtest\n')).toBe('4127');
    expect(() => parseSbatch('sbatch: error: Batch job submission failed: Invalid account\n')).toThrow(/no job id/);
  });
  it('reads states from squeue, sacct and scontrol', () => {
    expect(parseSqueue('RUNNING\n')).toBe('RUNNING');
    expect(parseSqueue('')).toBeUndefined();
    expect(parseSacct('CANCELLED by 0\n')).toBe('CANCELLED');
    expect(parseSacct('COMPLETED\n')).toBe('COMPLETED');
    expect(parseSacct('')).toBeUndefined();
    const shown = 'JobId=12 JobName=specflow-total\n   UserId=root(0) GroupId=root(0) MCS_label=N/A\n   JobState=TIMEOUT Reason=TimeLimit Dependency=(null)\n';
    expect(parseScontrol(shown)).toBe('TIMEOUT');
    expect(parseScontrol('slurm_load_jobs error: Invalid job id specified\n')).toBeUndefined();
  });
  it('quotes every argument of the batch script', () => {
    expect(batchScript(['/usr/bin/node', "/a b/it's.js"])).toBe(`#!/bin/sh\nexec '/usr/bin/node' '/a b/it'\\''s.js'\n`);
  });
});

describe('SLURM commands missing or refusing', () => {
  it('no sbatch on PATH: one line saying so, exit 1, no stack trace, no hold or lock left', () => {
    const store = tempDir();
    const r = cli(['--store', store, 'run', join(ROOT, 'test', 'fixtures', 'pipelines', 'slurm.yaml'), '--executor', 'slurm'], { env: { PATH: tempDir() } });
    expect(r.status, r.stderr).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^specflow: sbatch not found on PATH/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(join(store, 'holds'))).toEqual([]);
    expect(readdirSync(join(store, 'locks'))).toEqual([]);
    expect(readdirSync(join(store, 'jobs', 'slurm'))).toEqual([]);
  });
});

const why = slurmUnavailable();
if (why) console.warn(`!!! no single-node SLURM here (${why}): the SLURM executor's run tests are SKIPPED !!!`);

describe.skipIf(why !== undefined)('SLURM executor on a real single-node SLURM', () => {
  let cluster: SlurmCluster;
  const pipeline = join(ROOT, 'test', 'fixtures', 'pipelines', 'slurm.yaml');
  const env = (): Record<string, string> => ({ ...cluster.env, SPECFLOW_SLURM_POLL_MS: '250' });
  const scontrol = (id: string): string => spawnSync('scontrol', ['show', 'job', id], { env: { ...process.env, ...env() }, encoding: 'utf8' }).stdout;
  /** The job once it has ended (the coordinator may read its result while exec-stage is still exiting). */
  const ended = async (id: string): Promise<string> => {
    let shown = '';
    for (let i = 0; i < 100 && !/JobState=(COMPLETED|CANCELLED|FAILED|TIMEOUT|OUT_OF_MEMORY)/.test(shown); i++) {
      shown = scontrol(id);
      await new Promise((r) => setTimeout(r, 100));
    }
    return shown;
  };

  /** `run slow.yaml --executor slurm` on `store`, and a wait until its slow stage has started computing (returns its job id). */
  const runSlow = (store: string) => {
    const child = spawn(process.execPath, [CLI, '--store', store, 'run', 'test/fixtures/pipelines/slow.yaml', '--executor', 'slurm'], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env(), SPECFLOW_PLUGINS: PLUGIN, FORCE_COLOR: '0' },
    });
    let err = '';
    child.stderr!.on('data', (d) => { err += String(d); });
    const computing = async (): Promise<string | undefined> => {
      const end = Date.now() + 30_000;
      while (!/first half written/.test(err) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      return /▶ slow .*on slurm job (\d+)/.exec(err)?.[1];
    };
    return { child, done: collectOutput(child), err: () => err, computing };
  };

  beforeAll(async () => { cluster = await startSlurm(); }, 60_000);
  afterAll(async () => { await cluster?.stop(); }, 30_000);

  it('runs each stage as a batch job with its resources; outputs equal a local run byte for byte', async () => {
    const local = tempDir();
    const remote = tempDir();
    expect(cli(['--store', local, 'run', pipeline]).status).toBe(0);
    const r = cli(['--store', remote, 'run', pipeline, '--executor', 'slurm', '--json'], { env: env() });
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { executor: string; stages: { id: string; key: string; worker: string; status: string }[] };
    expect(summary.executor).toBe('slurm');
    for (const s of summary.stages) {
      expect(s.status).toBe('done');
      const id = /^slurm job (\d+)$/.exec(s.worker)?.[1];
      expect(id, s.worker).toBeDefined();
      const shown = await ended(id!);
      expect(shown).toMatch(/JobState=COMPLETED/);
      if (s.id === 'total') {
        expect(shown).toMatch(/MinMemoryNode=300M/);
        expect(shown).toMatch(/TimeLimit=00:05:00/);
      } else {
        expect(shown).toMatch(/MinMemoryNode=2G/); // the default for a stage type that names no resources
      }
      const file = (root: string): Buffer => readFileSync(join(root, 'objects', s.key.slice(0, 2), s.key, s.id === 'data' ? 'table.arrow' : 'total.arrow'));
      expect(file(remote).equals(file(local))).toBe(true);
    }
  }, 60_000);

  it('Ctrl-C scancels the running job, leaves no temp entry, and exits 130', async () => {
    const store = tempDir();
    const { child, done, err, computing } = runSlow(store);
    const id = await computing();
    expect(id, err()).toBeDefined();
    child.kill('SIGINT');
    expect((await done).status).toBe(130);
    expect(await ended(id!), err()).toMatch(/JobState=CANCELLED/);
    // exec-stage, told by SIGTERM, discarded its temp entry
    for (let i = 0; i < 50 && readdirSync(join(store, 'tmp')).length > 0; i++) await new Promise((r) => setTimeout(r, 200));
    expect(readdirSync(join(store, 'tmp'))).toEqual([]);
  }, 60_000);

  it('sbatch refusing the job (a bad SPECFLOW_SBATCH_ARGS partition): its message on one line, exit 1, no stack trace', () => {
    const r = cli(['--store', tempDir(), 'run', pipeline, '--executor', 'slurm'], { env: { ...env(), SPECFLOW_SBATCH_ARGS: '--partition=nope' } });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^specflow: sbatch refused stage "data": .*invalid partition/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('two runs of one pipeline at once: the second waits for the first one\'s job instead of submitting its own', async () => {
    const store = tempDir();
    const first = runSlow(store);
    expect(await first.computing(), first.err()).toBeDefined();
    const second = runSlow(store);
    const [a, b] = await Promise.all([first.done, second.done]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/slow .*waiting for pid \d+/);
    expect(b.stderr).toMatch(/= slow\s+\(cached\)/);
    expect(b.stderr).not.toMatch(/▶ slow/);
  }, 60_000);

  it('a job SLURM will never start (more cores than any node has) fails its stage naming the reason, is cancelled, and the run ends', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'wide.yaml'), 'name: wide\nstages:\n  data:\n    type: test.rows\n    resources: { cpus: 1024 }\n');
    const r = cli(['--store', join(dir, 'store'), 'run', join(dir, 'wide.yaml'), '--executor', 'slurm'], { env: env(), timeout: 30_000 });
    expect(r.status, r.stderr).toBe(1);
    const id = /SLURM job (\d+) cannot start/.exec(r.stderr)?.[1];
    expect(id, r.stderr).toBeDefined();
    expect(r.stderr).toContain(`SLURM job ${id} cannot start: it is PENDING for "PartitionConfig"`);
    expect(await ended(id!)).toMatch(/JobState=CANCELLED/);
  }, 60_000);

  it('a job cancelled by someone else (scancel, a time limit) fails its stage naming SLURM\'s state; exit 1', async () => {
    const store = tempDir();
    const { done, err, computing } = runSlow(store);
    const id = await computing();
    expect(id, err()).toBeDefined();
    spawnSync('scancel', [id!], { env: { ...process.env, ...env() } });
    const r = await done;
    expect(r.status, err()).toBe(1);
    expect(err()).toContain(`SLURM job ${id} ended CANCELLED before stage "slow" finished`);
    expect(err()).not.toContain('the store');
    expect(readdirSync(join(store, 'tmp'))).toEqual([]);
  }, 60_000);
});
