/**
 * Test helpers for the spectral-network tests: where the shared real data sets
 * live (the tests read them through the load.csv stage and skip without them).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const DATA_DIR = resolve(here, '../../../shared/data');
export const hasData = (file: string): boolean => existsSync(join(DATA_DIR, file));
