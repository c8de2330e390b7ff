import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { StageDef } from '../../src/runner/stage-api.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.js');
export const PLUGIN = join(ROOT, 'test', 'fixtures', 'stages', 'test-stages.mjs');

export async function testRegistry(): Promise<Map<string, StageDef>> {
  const mod = (await import(PLUGIN)) as Record<string, StageDef>;
  return new Map(Object.values(mod).map((d) => [d.type, d]));
}

export function tempDir(prefix = 'specflow-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CliResult { status: number | null; stdout: string; stderr: string }

/** Runs the compiled CLI (built by `npm test` before vitest starts). */
export function cli(args: string[], options: { cwd?: string; env?: Record<string, string>; plugins?: string; timeout?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: options.timeout,
    env: { ...process.env, SPECFLOW_PLUGINS: options.plugins ?? PLUGIN, FORCE_COLOR: '0', ...options.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function cliAsync(args: string[], options: { cwd?: string; plugins?: string; env?: Record<string, string> } = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, SPECFLOW_PLUGINS: options.plugins ?? PLUGIN, FORCE_COLOR: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function collectOutput(child: ChildProcess): Promise<CliResult> {
  return new Promise((res) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => { stdout += String(d); });
    child.stderr?.on('data', (d) => { stderr += String(d); });
    child.on('close', (status) => res({ status, stdout, stderr }));
  });
}

/** A TCP port free on the loopback interface right now (for a server a test starts). */
export function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Polls `test` every 50 ms until it holds; fails naming `what` (and `detail()`) after `ms`. */
export async function until(what: string, test: () => boolean, ms = 30_000, detail: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${detail() ? `:\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
