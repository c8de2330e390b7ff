// Preloaded with `node --import ./bench/peak-rss.mjs`: when the process exits, write its
// peak resident set size (kB, worker threads included) to $SPECFLOW_PEAK_RSS_FILE.
//
// With $SPECFLOW_STAGE_RSS_FILE also set, the peak per stage: the process's RSS is
// sampled every 200 ms and charged to the stage(s) running at the time, as told by the
// run's plain progress lines on stderr (`▶ id` starts a stage, `✓ id` / `✗ id` ends it).
// Sampled, so a spike shorter than 200 ms can escape a stage's figure (never the
// whole-process peak, which the kernel keeps). Written as JSON {stage: MB}.
import { writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.SPECFLOW_PEAK_RSS_FILE;
const stageFile = process.env.SPECFLOW_STAGE_RSS_FILE;

if (isMainThread && file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));

if (isMainThread && stageFile) {
  const running = new Set();
  const peak = {};
  const sample = () => {
    const mb = process.memoryUsage.rss() / 2 ** 20;
    for (const s of running) peak[s] = Math.max(peak[s] ?? 0, mb);
  };
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (chunk, ...rest) => {
    for (const line of String(chunk).split('\n')) {
      const m = /^\[[\d:]+\] ([▶✓✗!]) (\S+)/u.exec(line);
      if (!m) continue;
      sample();
      if (m[1] === '▶') running.add(m[2]);
      else running.delete(m[2]);
    }
    return write(chunk, ...rest);
  };
  setInterval(sample, 200).unref();
  process.on('exit', () => {
    sample();
    writeFileSync(stageFile, JSON.stringify(Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v)]))));
  });
}
