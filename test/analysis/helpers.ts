/** Small hand-built tables for stage tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeLatent, writeSpectra } from '../../src/data/arrow-io.js';
import { Rng } from '../../src/util/random.js';

export function tempDir(prefix = 'specflow-analysis-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Points around given centres with Gaussian scatter; ids p0.., labels from `names`. */
export function blobTable(centres: number[][], per: number, sd: number, seed: number, names?: string[]) {
  const rng = new Rng(seed);
  const k = centres[0]!.length;
  const n = centres.length * per;
  const z = new Float32Array(n * k);
  const ids: string[] = [];
  const labels: string[] = [];
  let i = 0;
  centres.forEach((c, g) => {
    for (let r = 0; r < per; r++, i++) {
      c.forEach((v, j) => { z[i * k + j] = v + rng.normal(0, sd); });
      ids.push(`p${i}`);
      labels.push(names ? names[g]! : String(g));
    }
  });
  return { n, k, ids, labels, z };
}

export async function writeBlobs(path: string, t: ReturnType<typeof blobTable>, withLabels = true): Promise<void> {
  await writeLatent(path, {
    n: t.n, k: t.k, ids: t.ids, z: t.z, columns: {}, metadata: {},
    ...(withLabels ? { labels: t.labels } : {}),
  });
}

/**
 * Spectra of `groups` phases: phase g has Gaussian peaks at `peaks[g]` on a 64-channel axis
 * 700..763 eV, scaled by a random factor per spectrum, plus Gaussian noise. `clean` holds the noise-free spectra.
 */
export function phaseSpectra(peaks: number[][], per: number, noise: number, seed: number, d = 64) {
  const rng = new Rng(seed);
  const axis = Float64Array.from({ length: d }, (_, j) => 700 + j);
  const n = peaks.length * per;
  const spectra = new Float32Array(n * d);
  const clean = new Float32Array(n * d);
  const ids: string[] = [];
  const labels: string[] = [];
  let i = 0;
  peaks.forEach((centres, g) => {
    for (let r = 0; r < per; r++, i++) {
      const scale = 1 + 0.1 * rng.normal();
      for (let j = 0; j < d; j++) {
        const v = 0.1 + scale * centres.reduce((s, c) => s + Math.exp(-((axis[j]! - c) ** 2) / 8), 0);
        clean[i * d + j] = v;
        spectra[i * d + j] = v + noise * rng.normal();
      }
      ids.push(`s${i}`);
      labels.push(`phase${g}`);
    }
  });
  return { n, d, ids, labels, spectra, clean, axis };
}

export async function writePhaseSpectra(path: string, t: ReturnType<typeof phaseSpectra>, extra: Record<string, (string | number | boolean | null)[]> = {}) {
  await writeSpectra(path, {
    n: t.n, d: t.d, ids: t.ids, labels: t.labels, spectra: t.spectra, clean: t.clean, axis: t.axis,
    axisUnit: 'eV', axisName: 'energy loss', columns: extra, metadata: { source: 'test' },
  });
}
