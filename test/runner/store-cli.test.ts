// Store safety seen from the command line: gc during a run, broken and corrupt
// entries, filesystem errors, Ctrl-C in an in-thread stage.
import { cpSync, existsSync, mkdirSync, utimesSync, openSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { currentOwner } from '../../src/runner/owner.js';
import { CLI, PLUGIN, cli, cliAsync, collectOutput, ROOT, tempDir } from './helpers.js';

interface JsonStage { id: string; key: string; cached: boolean; status: string; outputs: Record<string, string> }
interface JsonRun { status: string; stages: JsonStage[] }

function workspace(): { dir: string; store: string } {
  const dir = tempDir();
  cpSync(join(ROOT, 'test', 'fixtures', 'pipelines'), dir, { recursive: true });
  return { dir, store: join(dir, 'store') };
}

function run(dir: string, store: string, file: string, extra: string[] = []): { status: number | null; run: JsonRun; stderr: string } {
  const r = cli(['run', file, '--store', store, '--json', ...extra], { cwd: dir });
  try {
    return { status: r.status, run: JSON.parse(r.stdout) as JsonRun, stderr: r.stderr };
  } catch {
    throw new Error(`stdout is not JSON:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

const stage = (r: JsonRun, id: string): JsonStage => r.stages.find((s) => s.id === id)!;

function leftovers(store: string): string[] {
  const out: string[] = [];
  for (const d of ['locks', 'tmp', 'holds']) for (const f of readdirSync(join(store, d))) out.push(`${d}/${f}`);
  for (const d of ['', 'runs']) for (const f of readdirSync(join(store, d))) if (f.endsWith('.tmp')) out.push(`${d}/${f}`);
  return out;
}

function waitFor(child: ReturnType<typeof cliAsync>, text: string): Promise<void> {
  return new Promise((res, rej) => {
    let seen = '';
    const t = setTimeout(() => rej(new Error(`never saw "${text}" in:\n${seen}`)), 60_000);
    child.stderr!.on('data', (d) => {
      seen += String(d);
      if (seen.includes(text)) { clearTimeout(t); res(); }
    });
  });
}

describe('cache gc during a run', () => {
  it('spares entries the run has published but not recorded yet', async () => {
    const { dir, store } = workspace();
    writeFileSync(join(dir, 'gc-race.yaml'), [
      'name: gc-race', 'stages:',
      '  early: { type: test.rows, with: { n: 7 } }',
      `  slow: { type: test.slow, with: { ms: 0, gate: ${JSON.stringify(join(dir, 'gate'))} } }`,
      '  late: { type: test.concat, in: [early, slow.out] }', '',
    ].join('\n'));
    const child = cliAsync(['run', 'gc-race.yaml', '--store', store, '--json', '--jobs', '2'], { cwd: dir });
    const out = collectOutput(child);
    await Promise.all([waitFor(child, '✓ early'), waitFor(child, 'first half written')]);
    const gc = cli(['cache', 'gc', '--store', store]);
    expect(gc.status, gc.stderr).toBe(0);
    writeFileSync(join(dir, 'gate'), ''); // now let the slow stage finish
    expect(gc.stdout).toContain('removed 0 of 1 entries');
    const r = await out;
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as JsonRun).status).toBe('ok');
  });

  it('drops the parsed-pipeline cache file by file, sparing one a run is writing (gc used to fail ENOTEMPTY then)', () => {
    const { dir, store } = workspace();
    writeFileSync(join(dir, 'one.yaml'), 'name: one\nstages:\n  a: { type: test.rows, with: { n: 3 } }\n');
    expect(run(dir, store, 'one.yaml').status).toBe(0);
    const parsed = join(store, 'cache', 'pipelines');
    const cached = readdirSync(parsed).filter((f) => f.endsWith('.json'));
    expect(cached).toHaveLength(1);
    // what writeAtomic leaves while a live process (this one) is between open and rename
    const writing = `${cached[0]}.${currentOwner().id}.0123abcd.tmp`;
    writeFileSync(join(parsed, writing), '{"half":');
    const gc = cli(['cache', 'gc', '--store', store]);
    expect(gc.status, gc.stderr).toBe(0);
    expect(readdirSync(parsed)).toEqual([writing]);
  });
});

describe('a lock held on another host', () => {
  it('says whose it is and when this run takes over, then computes the stage once the lease lapses', async () => {
    const { dir, store } = workspace();
    writeFileSync(join(dir, 'one.yaml'), 'name: one\nstages:\n  a: { type: test.rows, with: { n: 3 } }\n');
    const key = stage(run(dir, store, 'one.yaml').run, 'a').key;
    // a holder on another host (its pid means nothing here): renewed by this test until the run
    // says it waits, then abandoned, so only the lapse of its lease lets the run go on
    const owner = { id: 'farhost-0000aaaa-4026531999-4242-abcdef', host: 'farhost', boot: '0000aaaa-0000', pidns: '4026531999', pid: 4242, pidStart: '1' };
    const lock = join(store, 'locks', `${key}.lock`);
    writeFileSync(lock, JSON.stringify({ token: 'far', owner, lease_ms: 1500, created: new Date().toISOString() }));
    const renew = setInterval(() => { const now = new Date(); utimesSync(lock, now, now); }, 200);
    const child = cliAsync(['run', 'one.yaml', '--store', store, '--json', '--force'], { cwd: dir });
    const out = collectOutput(child);
    try {
      await waitFor(child, 'waiting for pid 4242 on farhost');
    } finally {
      clearInterval(renew);
    }
    const r = await out;
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('waiting for pid 4242 on farhost, which is computing it (if it stops renewing its lock for 1.5 s, this run takes over)');
    expect(stage(JSON.parse(r.stdout) as JsonRun, 'a').status).toBe('done');
    expect(readdirSync(join(store, 'locks'))).toEqual([]);
  });
});

describe('broken and corrupt entries', () => {
  it('a truncated manifest is quarantined and its key recomputed, not wedged', () => {
    const { dir, store } = workspace();
    const first = run(dir, store, 'chain10.yaml').run;
    const sa = stage(first, 'sa');
    const manifest = join(store, 'objects', sa.key.slice(0, 2), sa.key, 'manifest.json');
    truncateSync(manifest, 40);
    const st = cli(['status', 'chain10.yaml', '--store', store], { cwd: dir });
    expect(st.stdout).toMatch(/would run\s+sa /);
    const second = run(dir, store, 'chain10.yaml');
    expect(second.status, second.stderr).toBe(0);
    expect(second.run.stages.filter((s) => !s.cached).map((s) => s.id)).toEqual(['sa']);
    expect(readdirSync(join(store, 'quarantine')).some((f) => f.startsWith(sa.key))).toBe(true);
    expect(run(dir, store, 'chain10.yaml').run.stages.every((s) => s.cached)).toBe(true);
    expect(cli(['cache', 'verify', '--store', store]).stdout).toContain('0 corrupt');
  });

  it('a cached entry whose file changed size is recomputed instead of being used', () => {
    const { dir, store } = workspace();
    const first = run(dir, store, 'chain10.yaml').run;
    truncateSync(stage(first, 'b').outputs.table!, 10);
    const second = run(dir, store, 'chain10.yaml');
    expect(second.status, second.stderr).toBe(0);
    expect(second.run.stages.filter((s) => !s.cached).map((s) => s.id)).toEqual(['b']);
    expect(readFileSync(stage(second.run, 'b').outputs.table!).length).toBeGreaterThan(10);
  });

  it('a corrupt input (same size, flipped bytes) is caught before a forced stage reads it, and its producer recomputed', () => {
    const { dir, store } = workspace();
    // 200000 rows: larger than what a cached entry's cheap check hashes, so only the input check can see it
    const big = ['--set', 'n=200000'];
    const first = run(dir, store, 'chain10.yaml', big).run;
    const goodSum = readFileSync(stage(first, 'sa').outputs.total!);
    const input = stage(first, 'a').outputs.table!;
    const bytes = readFileSync(input);
    expect(bytes.length).toBeGreaterThan(1 << 20);
    const fd = openSync(input, 'r+');
    writeSync(fd, Buffer.alloc(64, 0x7f), 0, 64, bytes.length >> 1);
    closeSync(fd);
    const forced = run(dir, store, 'chain10.yaml', [...big, '--force', 'sa']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/input a\.table is corrupt .*recomputing it/);
    // the stage read good bytes, not the poisoned ones
    expect(readFileSync(stage(forced.run, 'sa').outputs.total!).equals(goodSum)).toBe(true);
    expect(readFileSync(input).equals(bytes)).toBe(true);
    expect(cli(['cache', 'verify', '--store', store]).stdout).toContain('0 corrupt');
  });

  it('an edited manifest (a metric changed) is corrupt for verify, and recomputed by the next run', () => {
    const { dir, store } = workspace();
    const first = run(dir, store, 'chain10.yaml').run;
    const sa = stage(first, 'sa');
    const path = join(store, 'objects', sa.key.slice(0, 2), sa.key, 'manifest.json');
    const m = JSON.parse(readFileSync(path, 'utf8')) as { metrics: Record<string, number> };
    const [name] = Object.keys(m.metrics);
    expect(name).toBeDefined();
    m.metrics[name!] = m.metrics[name!]! + 1;
    writeFileSync(path, JSON.stringify(m, null, 1));
    const v = cli(['cache', 'verify', '--store', store]);
    expect(v.status).toBe(1);
    expect(v.stdout).toContain(`corrupt ${sa.key.slice(0, 12)} (test.sum sa): manifest.json: edited since it was published`);
    const again = run(dir, store, 'chain10.yaml');
    expect(again.run.stages.filter((s) => !s.cached).map((s) => s.id)).toEqual(['sa']);
    expect(cli(['cache', 'verify', '--store', store]).stdout).toContain('0 corrupt');
  });

  it('verify --remove also removes every entry computed from a corrupt one, and says so', () => {
    const { dir, store } = workspace();
    const first = run(dir, store, 'chain10.yaml').run;
    writeFileSync(stage(first, 'b').outputs.table!, 'garbage');
    const v = cli(['cache', 'verify', '--store', store, '--remove']);
    expect(v.status).toBe(0);
    // b feeds sb, all, use; then both, again, final
    const derived = ['sb', 'both', 'all', 'again', 'use', 'final'];
    for (const id of derived) expect(v.stdout).toContain(`removed ${stage(first, id).key.slice(0, 12)}`);
    expect(v.stdout).toContain('1 corrupt, 6 derived from them removed');
    const again = run(dir, store, 'chain10.yaml');
    expect(again.run.stages.filter((s) => !s.cached).map((s) => s.id).sort()).toEqual(['b', ...derived].sort());
  });
});

describe('filesystem errors are one line, exit 1, and leave nothing behind', () => {
  const oneLine = (r: { status: number | null; stderr: string }, pattern: RegExp): void => {
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  };

  it('--store that is a regular file, or under a dangling symbolic link', () => {
    const { dir } = workspace();
    writeFileSync(join(dir, 'afile'), '');
    oneLine(cli(['run', 'chain10.yaml', '--store', 'afile'], { cwd: dir }), /afile is not a directory/);
    symlinkSync(join(dir, 'missing-target'), join(dir, 'dangling'));
    oneLine(cli(['run', 'chain10.yaml', '--store', 'dangling/store'], { cwd: dir }), /dangling is a symbolic link to a missing target/);
  });

  it('a store nothing can be written into names the store, not an internal temp file', () => {
    const { dir, store } = workspace();
    // stands for a read-only or foreign store (EROFS/EACCES need root or a mount to make; the path is the same)
    mkdirSync(store);
    writeFileSync(join(store, 'holds'), '');
    writeFileSync(join(dir, 'one.yaml'), 'name: one\nstages:\n  a: { type: test.rows, with: { n: 3 } }\n');
    for (const args of [['run', 'one.yaml'], ['cache', 'gc']]) {
      const r = cli([...args, '--store', store], { cwd: dir });
      oneLine(r, /^cannot write to store \S+store: a component of the path is not a directory \(ENOTDIR\)/);
      expect(r.stderr).not.toMatch(/\.new\b|\.tmp\b/);
    }
  });

  it('--store /proc/nope ends at once (run, status, cache ls, cache verify), it does not loop', () => {
    const { dir } = workspace();
    for (const args of [['run', 'chain10.yaml'], ['status', 'chain10.yaml'], ['cache', 'ls'], ['cache', 'verify']]) {
      const r = cli([...args, '--store', '/proc/nope'], { cwd: dir, timeout: 30_000 });
      oneLine(r, args[0] === 'run' ? /cannot create \/proc\/nope: no such file or directory/ : /no store at \/proc\/nope/);
    }
  });

  it('cache ls / verify / gc and status on a mistyped --store say there is no store there', () => {
    const { dir, store } = workspace();
    run(dir, store, 'chain10.yaml');
    for (const args of [['cache', 'ls'], ['cache', 'verify'], ['cache', 'gc'], ['status', 'chain10.yaml']]) {
      oneLine(cli([...args, '--store', `${store}-typo`], { cwd: dir }), /no store at .*store-typo/);
    }
    expect(existsSync(`${store}-typo`)).toBe(false);
  });

  it('`cache ls | head -1` and `status --explain | head -1`: the closed pipe ends the command quietly, no EPIPE stack trace', () => {
    const { dir, store } = workspace();
    run(dir, store, 'chain10.yaml');
    for (const args of [`cache ls`, `status chain10.yaml --explain --set n=60`]) {
      const r = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" --store "${store}" ${args} | head -1`], {
        cwd: dir, encoding: 'utf8', env: { ...process.env, SPECFLOW_PLUGINS: PLUGIN, FORCE_COLOR: '0' },
      });
      expect(r.stdout.split('\n')).toHaveLength(2);
      expect(r.stderr).toBe('');
    }
  });
});

describe('Ctrl-C in an in-thread stage', () => {
  it('exits 130 even when the stage finishes after the interrupt, and publishes nothing after it', async () => {
    const { dir, store } = workspace();
    writeFileSync(join(dir, 'busy.yaml'), 'name: busy\nstages:\n  data: { type: test.rows }\n  busy: { type: test.busy, in: data, with: { ms: 1500 } }\n  total: { type: test.sum, in: busy }\n');
    const child = cliAsync(['run', 'busy.yaml', '--store', store], { cwd: dir, env: { SPECFLOW_TEST_SLOW_STORE_MS: '300' } });
    const out = collectOutput(child);
    await waitFor(child, 'busy started');
    child.kill('SIGINT');
    const r = await out;
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).not.toContain('✓ busy');
    // nothing failed: the stage after the interrupted one is said to be interrupted too, not "skipped (upstream failed)"
    expect(r.stderr).toMatch(/! total\s+interrupted/);
    expect(r.stderr).not.toMatch(/failed/);
    const ls = JSON.parse(cli(['cache', 'ls', '--store', store, '--json']).stdout) as { stage: string }[];
    expect(ls.map((e) => e.stage)).toEqual(['data']);
    expect(leftovers(store)).toEqual([]);
  });
});
