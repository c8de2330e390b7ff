/**
 * Which numeric engine a run will compute with, known WITHOUT loading tfjs:
 * the backend the selection in ./backend.ts would pick (SPECFLOW_BACKEND,
 * whether @tensorflow/tfjs-node resolves, then wasm), the kernel build
 * SPECFLOW_WASM_FMA and this machine give (a probe on the small kernel
 * module), the SHA-256 of specflow's kernel .wasm files (read with
 * readFileSync, so no import-graph fingerprint sees them) and the tfjs
 * versions. Numeric stages put it in their content key, so one backend's
 * results are never served to another; `pinEngine` then makes the stages use
 * exactly that backend rather than silently falling back to another.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendEnvironmentProblem, type BackendName } from './backend.js';
import { activeBuild, KERNEL_BUILDS, kernelArithmetic, kernelFile, type KernelBuild } from './kernels/simd.js';

export interface EngineIdentity {
  /** As run records name it: node, wasm, wasm+fma or cpu. */
  backend: string;
  /** wasm only: the kernel build and each build's .wasm hash. */
  kernels?: { build: KernelBuild; files: Record<string, string> };
  /** Installed versions of the tfjs packages that compute. */
  tfjs: Record<string, string>;
}

const TFJS_PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node'];
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The version of an installed package, or 'not installed' (its package.json is read, nothing is loaded). */
function installedVersion(name: string): string {
  try {
    const manifest = require.resolve(`${name}/package.json`, { paths: [here] });
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

/** The backend initBackend would try first: the forced one, else node where it is installed, else wasm. */
export function resolvedBackend(env: NodeJS.ProcessEnv = process.env): BackendName {
  const forced = env.SPECFLOW_BACKEND?.trim().toLowerCase();
  if (forced === 'node' || forced === 'wasm' || forced === 'cpu') return forced;
  return installedVersion('@tensorflow/tfjs-node') !== 'not installed' ? 'node' : 'wasm';
}

let cached: { env: string; identity: EngineIdentity } | undefined;

/** The identity of the engine numeric stages will use with the current environment variables. */
export function engineIdentity(kernelFiles: (build: KernelBuild) => string = kernelFile): EngineIdentity {
  const envKey = `${process.env.SPECFLOW_BACKEND ?? ''}\0${process.env.SPECFLOW_WASM_FMA ?? ''}`;
  if (cached && cached.env === envKey && kernelFiles === kernelFile) return cached.identity;
  const problem = backendEnvironmentProblem();
  if (problem) throw new Error(problem);
  const name = resolvedBackend();
  const tfjs = Object.fromEntries(TFJS_PACKAGES.map((p) => [p, installedVersion(p)]));
  let identity: EngineIdentity;
  if (name === 'wasm') {
    const files = Object.fromEntries(KERNEL_BUILDS.map((b) => [b, createHash('sha256').update(readFileSync(kernelFiles(b))).digest('hex')]));
    identity = { backend: kernelArithmetic() === 'fma' ? 'wasm+fma' : 'wasm', kernels: { build: activeBuild(), files }, tfjs };
  } else {
    identity = { backend: name, tfjs };
  }
  if (kernelFiles === kernelFile) cached = { env: envKey, identity };
  return identity;
}

/**
 * Makes the stages of this process (and the worker threads it starts later)
 * use the engine the keys were computed for: an unavailable backend is then an
 * error of the stage, never a quiet fallback whose results would be stored
 * under another backend's key.
 */
export function pinEngine(): void {
  const name = resolvedBackend();
  process.env.SPECFLOW_BACKEND = name;
  if (name === 'wasm') process.env.SPECFLOW_WASM_FMA = activeBuild() === 'simd-fma' ? '1' : '0';
}
