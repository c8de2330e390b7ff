import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // vitest's default is cores − 1 workers: one on CI's 2 cores, which leaves a core idle while a
    // file waits on its CLI child processes, redis-server or SLURM (most of the suite's files).
    // Two files at a time on 2 cores; the default on larger machines.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
