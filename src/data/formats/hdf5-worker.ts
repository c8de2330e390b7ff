/** A thread that reads one HDF5 file (see hdf5-thread.ts): the bytes in, the spectra or the error out. */
import { parentPort, workerData } from 'node:worker_threads';
import { readHdf5 } from './hdf5.js';

const { bytes, file, format } = workerData as { bytes: Uint8Array; file: string; format: 'hspy' | 'nexus' };
readHdf5(bytes, file, format).then(
  (spectra) => parentPort!.postMessage({ spectra }),
  (e: unknown) => parentPort!.postMessage({ error: { name: (e as Error)?.name ?? 'Error', message: String((e as Error)?.message ?? e) } }),
);
