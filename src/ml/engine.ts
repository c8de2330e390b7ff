/**
 * The one entry point through which the models get TensorFlow.js: the backend
 * is chosen (and wasm kernel fixes registered) by ./backend.ts. tfjs is loaded
 * lazily so importing model code stays cheap.
 */
import type { BackendName, TF } from './backend.js';

export type { TF };
export type Tensor = import('@tensorflow/tfjs').Tensor;
export type Variable = import('@tensorflow/tfjs').Variable;

let ready: Promise<{ tf: TF; backend: BackendName }> | undefined;

/** tfjs on the backend initBackend picks (SPECFLOW_BACKEND forces one). */
export async function getTf(): Promise<{ tf: TF; backend: BackendName }> {
  if (!ready) {
    ready = (async () => {
      const { initBackend } = await import('./backend.js');
      const r = await initBackend();
      return { tf: r.tf, backend: r.name };
    })();
    ready.catch(() => { ready = undefined; });
  }
  return ready;
}
