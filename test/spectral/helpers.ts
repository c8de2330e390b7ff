/**
 * Test helpers for the spectral-network tests: a minimal CSV reader for the
 * shared real data sets (used only to cross-check; stages read them through
 * load.csv when it exists), and the shared data folder location.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const DATA_DIR = resolve(here, '../../../shared/data');
export const hasData = (file: string): boolean => existsSync(join(DATA_DIR, file));

export interface Csv { header: string[]; rows: string[][] }

/** Plain comma-separated values without quoting (what the shared data files are). */
export function readCsv(file: string): Csv {
  const lines = readFileSync(join(DATA_DIR, file), 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  return { header: lines[0]!.split(',').map((s) => s.trim()), rows: lines.slice(1).map((l) => l.split(',').map((s) => s.trim())) };
}

/** Digits of the given classes: x (n × 64, raw 0–16 intensities) and labels. */
export function digits(classes: string[]): { x: Float32Array; n: number; d: number; labels: string[]; ids: string[] } {
  const csv = readCsv('digits.csv');
  const li = csv.header.indexOf('label');
  const ii = csv.header.indexOf('id');
  const pix = csv.header.map((h, i) => (h.startsWith('p') ? i : -1)).filter((i) => i >= 0);
  const rows = csv.rows.filter((r) => classes.includes(r[li]!));
  const d = pix.length;
  const x = new Float32Array(rows.length * d);
  rows.forEach((r, i) => pix.forEach((c, j) => { x[i * d + j] = Number(r[c]); }));
  return { x, n: rows.length, d, labels: rows.map((r) => r[li]!), ids: rows.map((r) => r[ii]!) };
}
