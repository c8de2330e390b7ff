// Benchmarks import the compiled dist/, not src/: a dist/ older than the
// sources times code that is no longer there (it happened: a whole round of
// published figures came from a stale build). This refuses to time it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The newest modification time (ms) of the files under `dir` whose names match `keep`. */
function newest(dir, keep) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, keep));
    else if (keep(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** Oldest of the build's outputs that stand for the TypeScript and the wasm sources. */
function builtAt(root) {
  const outputs = ['dist/cli.js', 'dist/ml/kernels/specflow-kernels.wasm', 'dist/ml/kernels/specflow-kernels-fma.wasm'].map((p) => join(root, p));
  if (!outputs.every((p) => existsSync(p))) return -1;
  return Math.min(...outputs.map((p) => statSync(p).mtimeMs));
}

/** Why dist/ under `root` cannot be benchmarked (missing, or older than a source file), or undefined. */
export function staleBuildProblem(root) {
  const built = builtAt(root);
  if (built < 0) return 'dist/ is missing or incomplete';
  const source = Math.max(newest(join(root, 'src'), (n) => n.endsWith('.ts')), newest(join(root, 'wasm'), (n) => n.endsWith('.ts')));
  if (source > built) return `dist/ is older than the sources (a file under src/ or wasm/ changed ${((source - built) / 1000).toFixed(0)} s after the last build)`;
  return undefined;
}
