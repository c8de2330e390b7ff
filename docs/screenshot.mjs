// Screenshots of a report for the README: node docs/screenshot.mjs REPORT/index.html OUT.png [WIDTH] [HEIGHT] [--full]
// Uses Debian's Chromium through playwright-core (as the browser tests do); nothing is downloaded.
import { chromium } from 'playwright-core';

const [file, out, width = '1400', height = '1000', full] = process.argv.slice(2);
if (!file || !out) {
  console.error('usage: node docs/screenshot.mjs REPORT/index.html OUT.png [WIDTH] [HEIGHT] [--full]');
  process.exit(1);
}
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: Number(width), height: Number(height) } });
  await page.goto(`file://${file.startsWith('/') ? file : `${process.cwd()}/${file}`}`);
  await page.screenshot({ path: out, fullPage: full === '--full' });
} finally {
  await browser.close();
}
