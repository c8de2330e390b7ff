/** A throwaway redis-server on a free loopback port, for the queue executor tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort, until } from './helpers.js';

export const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

export interface RedisOptions {
  /** Listen on this port (to restart a server where its clients look for it). */
  port?: number;
  /** Keep the data in this directory, every write synced (append-only file), so that a killed server restarts with it. */
  dir?: string;
}

export async function startRedis(options: RedisOptions = {}): Promise<{ url: string; server: ChildProcess; port: number }> {
  const port = options.port ?? await freePort();
  const persistence = options.dir ? ['--dir', options.dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout!.on('data', (d) => { log += String(d); });
  await until('redis-server to accept connections', () => log.includes('Ready to accept connections'), 10_000, () => log);
  return { url: `redis://127.0.0.1:${port}`, server, port };
}
