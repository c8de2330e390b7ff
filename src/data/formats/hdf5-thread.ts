/**
 * HDF5 files are read on a thread of their own with a deadline. The HDF5 C library (h5wasm) loops
 * forever on some damaged files (two bytes of a B-tree node changed were enough), and a loop inside
 * WebAssembly cannot be interrupted on the thread that runs it; a worker can be terminated.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { StageError } from '../../core/stage-api.js';
import { FormatError } from './bytes.js';
import type { InstrumentSpectra } from './types.js';

/**
 * The deadline: 30 s, plus 1 s for every 5 MB, or SPECFLOW_HDF5_TIMEOUT seconds. HDF5 reads from memory
 * at hundreds of MB/s; the margin is for a machine busy with other work, where a sound file must never be
 * called corrupt.
 */
export function hdf5Deadline(bytes: number, env = process.env.SPECFLOW_HDF5_TIMEOUT): number {
  const seconds = Number(env);
  if (env !== undefined && env !== '' && Number.isFinite(seconds) && seconds > 0) return seconds * 1000;
  return 30_000 + Math.ceil(bytes / 5e6) * 1000;
}

/** The built worker (next to this module in dist/, or dist/ seen from src/ under the tests), if there is one. */
function workerFile(): string | undefined {
  const candidates = [new URL('./hdf5-worker.js', import.meta.url), new URL('../../../dist/data/formats/hdf5-worker.js', import.meta.url)].map((u) => fileURLToPath(u));
  return candidates.find((p) => existsSync(p));
}

export async function readHdf5Bounded(bytes: Uint8Array, file: string, format: 'hspy' | 'nexus', deadline = hdf5Deadline(bytes.length)): Promise<InstrumentSpectra> {
  const path = workerFile();
  // not built (tests of src/ before `npm run build`): read on this thread, without a deadline
  if (!path) return (await import('./hdf5.js')).readHdf5(bytes, file, format);
  return new Promise((resolve, reject) => {
    const worker = new Worker(path, { workerData: { bytes, file, format } });
    const end = (): void => {
      clearTimeout(timer);
      void worker.terminate();
    };
    const timer = setTimeout(() => {
      end();
      reject(new FormatError(file, `the file is corrupt: HDF5 did not finish reading it in ${deadline / 1000} s (HDF5 gives no offset; on a very busy machine SPECFLOW_HDF5_TIMEOUT=SECONDS waits longer)`));
    }, deadline);
    worker.once('message', (m: { spectra?: InstrumentSpectra; error?: { name: string; message: string } }) => {
      end();
      if (m.spectra) return resolve(m.spectra);
      // a StageError's message already names the file; anything else stays what it was (an internal error)
      const e = m.error!.name === 'StageError' ? new StageError(m.error!.message) : new Error(m.error!.message);
      if (m.error!.name !== 'StageError') e.name = m.error!.name;
      reject(e);
    });
    worker.once('error', (e) => {
      end();
      reject(new StageError(`HDF5 failed while reading the file: ${e.message.split('\n')[0]}`, file));
    });
  });
}
