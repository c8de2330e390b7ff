/** A throwaway redis-server on a free loopback port, for the queue executor tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort, until } from './helpers.js';

export const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

export async function startRedis(): Promise<{ url: string; server: ChildProcess }> {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout!.on('data', (d) => { log += String(d); });
  await until('redis-server to accept connections', () => log.includes('Ready to accept connections'), 10_000);
  return { url: `redis://127.0.0.1:${port}`, server };
}
