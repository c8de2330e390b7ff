// Runs every bench/*.bench.mjs in its own Node process, one after another, so
// that one benchmark's heap and threads never disturb the next one's timings.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { staleBuildProblem } from './fresh-build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here).filter((f) => f.endsWith('.bench.mjs')).sort()
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
const stale = staleBuildProblem(join(here, '..'));
if (stale && !process.env.BENCH_ALLOW_STALE) {
  console.error(`bench: ${stale}; run \`npm run build\` first (\`npm run bench\` does), or set BENCH_ALLOW_STALE=1 to time it anyway`);
  process.exit(1);
}
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f} ===`);
  const r = spawnSync(process.execPath, [join(here, f)], { stdio: 'inherit' });
  if (r.status !== 0) { failed++; console.log(`!!! ${f} exited with ${r.status}`); }
}
process.exit(failed ? 1 : 0);
