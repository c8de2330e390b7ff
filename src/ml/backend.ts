/**
 * TensorFlow.js backend selection. Best first: tfjs-node (native libtensorflow,
 * optional dependency), wasm (with specflow's kernel fixes, see ./kernels/),
 * then the pure-JS cpu backend. `SPECFLOW_BACKEND` or `forced` picks one.
 *
 * tfjs is imported lazily so that merely importing this module (the CLI, the
 * runner, stages that never train) costs nothing.
 */
import { kernelArithmetic, requestedKernelBuild } from './kernels/simd.js';

export type BackendName = 'node' | 'wasm' | 'cpu';
export type TF = typeof import('@tensorflow/tfjs');

const TF_NAME: Record<BackendName, string> = { node: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };
const ORDER: BackendName[] = ['node', 'wasm', 'cpu'];

let current: BackendName | undefined;
let tfModule: TF | undefined;
// Serialises concurrent initBackend calls: setBackend is async and global.
let pending: Promise<unknown> = Promise.resolve();

function isBackendName(s: string): s is BackendName {
  return (ORDER as string[]).includes(s);
}

async function loadTf(): Promise<TF> {
  if (!tfModule) {
    const tf = await import('@tensorflow/tfjs');
    // PROD mode silences tfjs's console.warn hints (the "install the node
    // backend" banner of the cpu backend, platform/kernel re-registration
    // notices); it changes no numerics.
    tf.enableProdMode();
    // The cpu backend is always there (fallback, tests' reference); its
    // wrong resize gradients are fixed whichever backend ends up chosen.
    const k = await import('./kernels/index.js');
    k.installCpuFixes(tf);
    tfModule = tf;
  }
  return tfModule;
}

/** Loads and registers a backend with tfjs; returns why it is unavailable, or undefined when it is. */
async function ensureRegistered(tf: TF, name: BackendName): Promise<string | undefined> {
  if (tf.findBackendFactory(TF_NAME[name]) != null) return undefined;
  try {
    if (name === 'node') {
      // A computed specifier: the package is optional and has no types here.
      const spec = '@tensorflow/tfjs-node';
      await import(spec);
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return name === 'node'
      ? `@tensorflow/tfjs-node is not installed or failed to load (${msg})`
      : `could not load @tensorflow/tfjs-backend-${name} (${msg})`;
  }
  return tf.findBackendFactory(TF_NAME[name]) != null ? undefined : 'backend did not register';
}

async function activate(tf: TF, name: BackendName): Promise<string | undefined> {
  const why = await ensureRegistered(tf, name);
  if (why) return why;
  let ok = false;
  try {
    ok = await tf.setBackend(TF_NAME[name]);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  if (!ok) return 'backend failed to initialise';
  await tf.ready();
  return undefined;
}

/**
 * The problem with the environment variables that choose the engine
 * (SPECFLOW_BACKEND, SPECFLOW_WASM_FMA), if any, without loading tfjs, so that
 * the CLI can refuse them before it runs anything.
 */
export function backendEnvironmentProblem(): string | undefined {
  try {
    requested();
    requestedKernelBuild();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function requested(forced?: BackendName): BackendName | undefined {
  if (forced) return forced;
  const env = process.env.SPECFLOW_BACKEND?.trim().toLowerCase();
  if (!env) return undefined;
  if (!isBackendName(env)) {
    throw new Error(`SPECFLOW_BACKEND=${env}: unknown backend; use one of ${ORDER.join(', ')}`);
  }
  return env;
}

async function doInit(forced: BackendName | undefined, fixes: boolean): Promise<{ name: BackendName; tf: TF }> {
  const tf = await loadTf();
  const want = requested(forced);
  const candidates = want ? [want] : ORDER;
  const reasons: string[] = [];
  for (const name of candidates) {
    const why = await activate(tf, name);
    if (why) {
      if (want) throw new Error(`SPECFLOW_BACKEND=${name}: ${why}`);
      reasons.push(`${name}: ${why}`);
      continue;
    }
    if (name === 'wasm') {
      const k = await import('./kernels/index.js');
      if (fixes) k.installWasmFixes(tf);
      else k.removeWasmFixes(tf);
    }
    current = name;
    return { name, tf };
  }
  throw new Error(`no TensorFlow.js backend available (${reasons.join('; ')})`);
}

/**
 * Picks the best available backend (node → wasm → cpu) or the one forced by
 * `forced` / SPECFLOW_BACKEND, and on wasm registers specflow's kernel fixes.
 * Idempotent. A forced backend that is unavailable throws an Error whose
 * message starts with "SPECFLOW_BACKEND=<name>: ".
 */
export async function initBackend(forced?: BackendName): Promise<{ name: BackendName; tf: TF }> {
  const run = pending.then(() => doInit(forced, true));
  pending = run.catch(() => undefined);
  return run;
}

/**
 * The backend's name as run records and logs give it. wasm whose kernels
 * fuse multiply-adds is "wasm+fma": its results differ in the last bits from
 * plain wasm's (SPECFLOW_WASM_FMA=0, or a CPU without FMA), so a record says
 * which arithmetic produced it.
 */
export function backendLabel(name: BackendName): string {
  return name === 'wasm' && kernelArithmetic() === 'fma' ? 'wasm+fma' : name;
}

/** The backend chosen by the last successful initBackend/initStockWasm, if any. */
export function backendName(): BackendName | undefined {
  return current;
}

/** Whether the wasm kernel fixes are currently registered. */
export async function wasmFixesInstalled(): Promise<boolean> {
  const k = await import('./kernels/index.js');
  return k.wasmFixesInstalled();
}

/**
 * For benchmarks and tests: the wasm backend with tfjs's own kernels only
 * ("stock"); removes specflow's fixes if an earlier init installed them.
 */
export async function initStockWasm(): Promise<{ name: 'wasm'; tf: TF }> {
  const run = pending.then(() => doInit('wasm', false));
  pending = run.catch(() => undefined);
  const r = await run;
  return { name: 'wasm', tf: r.tf };
}
