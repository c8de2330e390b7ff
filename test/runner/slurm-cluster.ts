/**
 * A single-node SLURM for tests: munged with a fresh key, slurmctld and slurmd
 * with a generated slurm.conf on loopback ports, all in a temp folder, all
 * stopped by stop(). Needs root and Debian's munge, slurmctld, slurmd and
 * slurm-client (.ci/run installs them).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { freePort, tempDir, until } from './helpers.js';

export interface SlurmCluster {
  env: Record<string, string>;
  dir: string;
  stop(): Promise<void>;
}

/** Why no SLURM can be started here, or undefined. */
export function slurmUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (slurmd and munged run as root here)';
  for (const bin of ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel', 'scontrol']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) return `${bin} not found (apt-get install munge slurmctld slurmd slurm-client)`;
  }
  return undefined;
}

export async function startSlurm(): Promise<SlurmCluster> {
  const dir = tempDir('specflow-slurm-');
  chmodSync(dir, 0o755);
  for (const d of ['munge', 'state', 'spool', 'log']) mkdirSync(join(dir, d), { mode: 0o755 });
  const key = join(dir, 'munge', 'munge.key');
  writeFileSync(key, randomBytes(1024), { mode: 0o600 });
  const socket = join(dir, 'munge', 'munge.socket');
  const procs: ChildProcess[] = [];
  let output = '';
  const launch = (cmd: string, args: string[], env: Record<string, string> = {}): void => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    p.stdout!.on('data', (d) => { output += String(d); });
    p.stderr!.on('data', (d) => { output += String(d); });
    procs.push(p);
  };
  let env: Record<string, string> = {};
  // slurmd ignores SIGTERM while a job step lives: cancel every job and let the steps end first
  const stop = async (): Promise<void> => {
    const slurm = { ...process.env, ...env };
    if (env.SLURM_CONF) {
      spawnSync('scancel', ['--user=root'], { env: slurm });
      for (let i = 0; i < 50; i++) {
        const q = spawnSync('squeue', ['-h'], { env: slurm, encoding: 'utf8' });
        if (q.status !== 0 || q.stdout.trim() === '') break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const alive = procs.reverse().filter((p) => p.exitCode === null && p.signalCode === null);
    for (const p of alive) p.kill('SIGTERM');
    await Promise.race([Promise.all(alive.map((p) => new Promise((r) => p.once('exit', r)))), new Promise((r) => setTimeout(r, 3000))]);
    for (const p of alive) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
  try {
    launch('munged', ['--foreground', '--force', `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${join(dir, 'munge', 'munged.pid')}`, `--seed-file=${join(dir, 'munge', 'munged.seed')}`, `--log-file=${join(dir, 'munge', 'munged.log')}`]);
    await until('munged', () => existsSync(socket), 10_000, () => output);
    const [ctldPort, dPort] = [await freePort(), await freePort()];
    const host = hostname();
    const conf = join(dir, 'slurm.conf');
    writeFileSync(conf, [
      'ClusterName=specflowtest', `SlurmctldHost=${host}(127.0.0.1)`, `SlurmctldPort=${ctldPort}`, `SlurmdPort=${dPort}`,
      'AuthType=auth/munge', `AuthInfo=socket=${socket}`, 'CredType=cred/munge', 'SlurmUser=root', 'SlurmdUser=root',
      `StateSaveLocation=${join(dir, 'state')}`, `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`, `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`, `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_Core_Memory',
      'JobAcctGatherType=jobacct_gather/none', 'AccountingStorageType=accounting_storage/none', 'JobCompType=jobcomp/none', 'MpiDefault=none',
      'ReturnToService=2', 'SchedulerType=sched/builtin', 'MinJobAge=600', 'KillWait=5',
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus().length} RealMemory=8000 State=UNKNOWN`,
      `PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP`, '',
    ].join('\n'));
    env = { SLURM_CONF: conf };
    launch('slurmctld', ['-D', '-f', conf], env);
    launch('slurmd', ['-D', '-f', conf], env);
    await until('an idle SLURM node', () => {
      const r = spawnSync('sinfo', ['-h', '-o', '%T'], { env: { ...process.env, ...env }, encoding: 'utf8' });
      return r.status === 0 && r.stdout.trim() === 'idle';
    }, 30_000, () => output);
    return { env, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
