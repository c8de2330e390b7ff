// Preloaded with `node --import ./bench/peak-rss.mjs`: when the process exits, write its
// peak resident set size (kB, worker threads included) to $SPECFLOW_PEAK_RSS_FILE.
import { writeFileSync } from 'node:fs';

const file = process.env.SPECFLOW_PEAK_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
