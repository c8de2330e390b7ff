/**
 * Filesystem primitives the store relies on: durable writes (fsync of files and
 * directories), atomic replacement by rename, directory creation that cannot
 * loop, and one-line descriptions of filesystem errors.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { currentOwner } from './owner.js';

/** `SPECFLOW_FSYNC=0` skips every fsync (scratch stores on tmpfs, benchmarks); a power loss may then leave empty files in trusted entries. */
export function fsyncEnabled(): boolean {
  return process.env.SPECFLOW_FSYNC !== '0';
}

export async function fsyncPath(path: string): Promise<void> {
  if (!fsyncEnabled()) return;
  const handle = await fsp.open(path, 'r');
  try {
    await handle.sync();
  } catch (e) {
    // some filesystems refuse fsync on directories; the data files were synced
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
  } finally {
    await handle.close();
  }
}

/** Writes `data` to a temp name beside `path`, syncs it, and renames it over `path`; the temp file never survives a failure. */
export async function writeAtomic(path: string, data: string | Buffer, tag = currentOwner().id): Promise<void> {
  const tmp = `${path}.${tag}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await fsp.open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      if (fsyncEnabled()) await handle.sync();
    } finally {
      await handle.close();
    }
    await testPause('write');
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fsyncPath(dirname(path));
}

/**
 * mkdir -p that reports why it cannot, instead of looping: Node's recursive
 * mkdir retries for ever under /proc, and says ENOTDIR or ENOENT without naming
 * the culprit for a path under a regular file or a dangling symbolic link.
 */
export async function makeDirs(path: string): Promise<void> {
  const abs = resolve(path);
  const parts = abs.split(sep).filter(Boolean);
  let current: string = sep;
  for (const part of parts) {
    current = join(current, part);
    const kind = await pathKind(current);
    if (kind === 'dir') continue;
    if (kind === 'file') throw new FsProblem(`${current} is not a directory`, current);
    if (kind === 'dangling') throw new FsProblem(`${current} is a symbolic link to a missing target`, current);
    try {
      await fsp.mkdir(current);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && (await pathKind(current)) === 'dir') continue;
      throw new FsProblem(`cannot create ${current}: ${describeFsError(e)}`, current);
    }
  }
}

async function pathKind(path: string): Promise<'dir' | 'file' | 'dangling' | 'missing'> {
  try {
    return (await fsp.stat(path)).isDirectory() ? 'dir' : 'file';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return 'file';
    if (code !== 'ENOENT') throw new FsProblem(`cannot use ${path}: ${describeFsError(e)}`, path);
    const link = await fsp.lstat(path).catch(() => undefined);
    return link?.isSymbolicLink() ? 'dangling' : 'missing';
  }
}

/** A filesystem problem the user must fix (full disk, read-only store, path that is a file…). Printed as one line. */
export class FsProblem extends Error {
  constructor(message: string, readonly path?: string, readonly code?: string) {
    super(message);
    this.name = 'FsProblem';
  }
}

const DESCRIPTIONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a component of the path is not a directory',
  ENOENT: 'no such file or directory',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
};

/** Errors of the filesystem under the store rather than of specflow or of a stage: the run cannot go on. */
export const STORE_FATAL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO']);

export function fsErrorCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

export function describeFsError(e: unknown): string {
  const code = fsErrorCode(e);
  if (!code) return String((e as Error)?.message ?? e);
  return `${DESCRIPTIONS[code] ?? (e as Error).message.replace(/^E[A-Z]+: /, '').replace(/,.*$/, '')} (${code})`;
}

/** One line for a Node filesystem error: where and why. */
export function fsErrorLine(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.path ? `${err.path}: ${describeFsError(e)}` : describeFsError(e);
}

let pauseMs: number | undefined;

/**
 * Test hook: `SPECFLOW_TEST_SLOW_STORE_MS=N` sleeps N ms at each step of
 * publishing and record writing, announced on stderr (`specflow-test-pause
 * STEP`), so that fault-injection tests can kill a run inside those windows.
 */
export async function testPause(step: string): Promise<void> {
  pauseMs ??= Number(process.env.SPECFLOW_TEST_SLOW_STORE_MS ?? 0) || 0;
  if (pauseMs <= 0) return;
  process.stderr.write(`specflow-test-pause ${step}\n`);
  await new Promise((res) => setTimeout(res, pauseMs));
}
