/** The pure parts of the lost-Redis handling: the address messages show, the timeout's setting, the bounded wait. */
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/runner/errors.js';
import { isConnectionError, redisAddress, redisTimeoutMs, within } from '../../src/runner/executors/redis-watch.js';

describe('redis-watch', () => {
  it('shows a Redis URL without its password', () => {
    expect(redisAddress('redis://:s3cret@10.1.2.3:6379')).toBe('redis://10.1.2.3:6379');
    expect(redisAddress('rediss://me:s3cret@host:6380/2')).toBe('rediss://host:6380/2');
    expect(redisAddress('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('reads SPECFLOW_REDIS_TIMEOUT in seconds (default 60) and refuses what is not a positive number', () => {
    expect(redisTimeoutMs({})).toBe(60_000);
    expect(redisTimeoutMs({ SPECFLOW_REDIS_TIMEOUT: '2.5' })).toBe(2_500);
    for (const bad of ['0', '-1', 'soon']) expect(() => redisTimeoutMs({ SPECFLOW_REDIS_TIMEOUT: bad })).toThrow(UserError);
  });

  it('tells connection failures from errors Redis answered with', () => {
    expect(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    expect(isConnectionError(new Error('Missing lock for job 1. moveToFinished'))).toBe(false);
  });

  it('within: true when the work settles in time (failing counts), false when it does not', async () => {
    expect(await within(1_000, Promise.resolve(1))).toBe(true);
    expect(await within(1_000, Promise.reject(new Error('x')))).toBe(true);
    expect(await within(10, new Promise(() => undefined))).toBe(false);
  });
});
