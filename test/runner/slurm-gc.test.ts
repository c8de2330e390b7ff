// `cache gc` and the SLURM executor's job files (jobs/slurm/): a finished
// job's files go once its coordinator is gone and they are older than the runs
// gc keeps; a job whose coordinator is alive (its hold in the store) stays.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { currentOwner } from '../../src/runner/owner.js';
import { newRunId } from '../../src/runner/records.js';
import { Store } from '../../src/runner/store.js';
import { newJobBase } from '../../src/runner/executors/slurm-jobs.js';
import { cli, tempDir } from './helpers.js';

const DAY = 86_400_000;
const key = (c: string): string => c.repeat(64);

/** The four files the SLURM executor writes for one job, all last modified `ago` ms before now. */
function jobFiles(dir: string, base: string, ago: number): void {
  const when = new Date(Date.now() - ago);
  for (const suffix of ['.json', '.sh', '.out', '.result.json']) {
    writeFileSync(join(dir, base + suffix), '{}\n');
    utimesSync(join(dir, base + suffix), when, when);
  }
}

function runRecord(store: string, ago: number): void {
  const started = new Date(Date.now() - ago);
  writeFileSync(join(store, 'runs', `${newRunId(started)}.json`), JSON.stringify({ started: started.toISOString(), stages: [] }));
}

describe('cache gc prunes SLURM job files', () => {
  const root = tempDir();
  const live = new Store(root); // this test process plays a coordinator still waiting on its job
  afterAll(() => live.close());

  it('removes old jobs of gone coordinators, keeps a live coordinator\'s and those of kept runs; --dry-run only reports', async () => {
    await live.open();
    const dir = join(root, 'jobs', 'slurm');
    mkdirSync(dir, { recursive: true });
    const me = currentOwner().id.split('-');
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!; // exited: its pid no longer exists
    const dead = [...me.slice(0, -2), deadPid, 'abcdef'].join('-');
    const otherHost = 'elsewhere-12345678-4026531836-77-abcdef'; // no hold: gone once its files are older than a lease
    runRecord(root, 2 * DAY);
    runRecord(root, DAY / 24);
    const oldDead = `${key('a')}.${dead}.000001`;
    const oldOtherHost = `${key('b')}.${otherHost}.000002`;
    const oldLegacy = `${key('c')}.000003`; // named before names carried the coordinator
    const oldLive = newJobBase(live, key('d')).split('/').at(-1)!;
    const recentDead = `${key('e')}.${dead}.000005`; // newer than the oldest run kept
    jobFiles(dir, oldDead, 3 * DAY);
    jobFiles(dir, oldOtherHost, 3 * DAY);
    jobFiles(dir, oldLegacy, 3 * DAY);
    jobFiles(dir, oldLive, 3 * DAY);
    jobFiles(dir, recentDead, DAY);
    writeFileSync(join(dir, 'notes.txt'), 'not a job file\n');
    const before = readdirSync(dir).sort();
    expect(before).toHaveLength(21);

    const dry = cli(['cache', 'gc', '--dry-run', '--store', root]);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('3 finished SLURM jobs\' files');
    for (const b of [oldDead, oldOtherHost, oldLegacy]) expect(dry.stdout).toContain(`would remove jobs/slurm/${b}.* (4 files)`);
    expect(dry.stdout).not.toContain(oldLive);
    expect(readdirSync(dir).sort()).toEqual(before);

    const gc = cli(['cache', 'gc', '--store', root]);
    expect(gc.status, gc.stderr).toBe(0);
    expect(gc.stdout).toContain('3 finished SLURM jobs\' files');
    const left = new Set(readdirSync(dir));
    for (const b of [oldDead, oldOtherHost, oldLegacy]) expect(left.has(`${b}.json`) || left.has(`${b}.out`)).toBe(false);
    for (const b of [oldLive, recentDead]) for (const s of ['.json', '.sh', '.out', '.result.json']) expect(left.has(b + s)).toBe(true);
    expect(left.has('notes.txt')).toBe(true);

    // keeping only the newest run: the job made a day ago belongs to no kept run any more
    const gc1 = cli(['cache', 'gc', '--keep-runs', '1', '--store', root]);
    expect(gc1.status, gc1.stderr).toBe(0);
    expect(gc1.stdout).toContain('1 finished SLURM job\'s files');
    expect(existsSync(join(dir, `${recentDead}.out`))).toBe(false);
    expect(existsSync(join(dir, `${oldLive}.json`))).toBe(true);
  });
});
