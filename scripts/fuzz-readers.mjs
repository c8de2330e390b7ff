#!/usr/bin/env node
/**
 * Mutation fuzzer for the file readers (not part of `npm test`; needs `npm run build`).
 *
 *   node scripts/fuzz-readers.mjs [--seed 1] [--per-file 2000] [--only dm3] [--timeout 10000] [--keep /tmp/fuzz-cases]
 *
 * For every real file (shared instrument data, test fixtures) it makes `--per-file` mutants — truncations,
 * byte flips, size/count fields set to 0 / 2^31 / 2^40 / -1, blocks duplicated, removed or swapped, and for
 * text: lines removed, duplicated, swapped or garbled, numbers replaced — and reads each through the path
 * `specflow run`/`show` take (readInstrumentBytes + toSpectraTable; parseCsv + assemble; loadArrowFile;
 * loadJcampFiles). Mutants are rebuilt from (seed, file, index) in a child process, so a hang (> --timeout ms)
 * or a dead child costs one mutant, and every case can be replayed with --only FILE --case N. The HDF5
 * reader gets --timeout − 2 s through SPECFLOW_HDF5_TIMEOUT, so that its own deadline answers first.
 *
 * Outcomes: `read` (same shape as the original), `read-other` (a different shape: listed for review),
 * `read-nonfinite` (NaN/Inf in values the original did not have), `located` (a StageError/UserError, one line,
 * naming the file), and the failures: `unlocated` (a user error not naming the file), `crash` (any other
 * exception), `hang`, `died` (the child process died), `huge` (peak RSS grew by more than 1 GB).
 * Exit status 1 when any failure was seen. The first mutant of each distinct failure is saved under --keep.
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = resolve(arg('dist', join(ROOT, 'dist'))); // --dist: another build (e.g. the base commit's) to compare
const INSTRUMENTS = join(ROOT, '..', '..', 'shared', 'data', 'instruments');
const SHARED = existsSync(INSTRUMENTS) ? INSTRUMENTS : join(ROOT, '..', 'shared', 'data', 'instruments');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const SEED = Number(arg('seed', '1'));
const PER_FILE = Number(arg('per-file', '2000'));
const ONLY = arg('only', '');
const CASE = arg('case', undefined);
const TIMEOUT = Number(arg('timeout', '10000'));
const KEEP = arg('keep', '/tmp/fuzz-cases');
const HUGE_KB = 1024 * 1024; // peak RSS growth that counts as "allocated gigabytes from a declared size"

/** The corpus: [path, how it is read]. */
function corpus() {
  const out = [];
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(SHARED);
  walk(join(ROOT, 'test', 'fixtures', 'formats'));
  for (const f of ['jcamp/glucose-1.jdx', 'jcamp-other/nm-units.jdx', 'wide-quirks.csv', 'wide-semicolon-desc.csv', 'long-common.csv', 'wide.arrow', 'list-column.arrow', 'wide-lz4.arrow']) {
    out.push(join(ROOT, 'test', 'fixtures', 'data', f));
  }
  return out.filter((p) => existsSync(p) && (!ONLY || p.includes(ONLY))).map((path) => ({ path, kind: kindOf(path) }));
}

function kindOf(path) {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return basename(path).startsWith('long') ? 'csv-long' : 'csv';
  if (ext === '.arrow') return 'arrow';
  if (ext === '.jdx') return 'jcamp';
  return 'instrument';
}
const isText = (path) => ['.msa', '.xml', '.csv', '.jdx'].includes(extname(path).toLowerCase());

// ---------------------------------------------------------------- mutants

const { Rng, deriveSeed } = await import(join(DIST, 'util/random.js'));

/** The mutant's generator: uniform in [0, 1), from (seed, file name, index) alone. */
function prng(path, index) {
  const rng = new Rng(deriveSeed(SEED, 'fuzz', basename(path), index));
  return () => rng.uniform();
}

/** Offsets whose 4-byte value (either byte order) is a small positive number: likely a size, count or offset. */
function fieldOffsets(bytes) {
  const out = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i + 4 <= bytes.length; i++) {
    const be = v.getUint32(i, false);
    const le = v.getUint32(i, true);
    if ((be > 0 && be <= bytes.length * 4) || (le > 0 && le <= bytes.length * 4)) out.push(i);
  }
  return out;
}

const BIG32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x40000000];
const BIG64 = [0n, 2n ** 31n, 2n ** 40n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n];

function binaryMutant(bytes, rnd, fields) {
  const n = bytes.length;
  const int = (k) => Math.floor(rnd() * k);
  const op = int(10);
  let b = bytes.slice();
  let what;
  switch (op) {
    case 0: { const at = int(n); b = b.subarray(0, at); what = `truncated to ${at}`; break; }
    case 1: case 2: {
      const k = 1 + int(4);
      const at = [];
      for (let i = 0; i < k; i++) { const p = int(n); b[p] ^= 1 << int(8); at.push(p); }
      what = `bits flipped at ${at.join(',')}`; break;
    }
    case 3: case 4: {
      const p = fields.length ? fields[int(fields.length)] : int(n - 4);
      const val = BIG32[int(BIG32.length)];
      new DataView(b.buffer).setUint32(p, val, rnd() < 0.5);
      what = `u32 at ${p} set to ${val}`; break;
    }
    case 5: {
      const p = fields.length ? Math.max(0, Math.min(n - 8, fields[int(fields.length)] - 4 * int(2))) : int(n - 8);
      const val = BIG64[int(BIG64.length)];
      new DataView(b.buffer).setBigUint64(p, val, rnd() < 0.5);
      what = `u64 at ${p} set to ${val}`; break;
    }
    case 6: { // duplicate a block
      const len = 1 + int(Math.min(n, 64 + int(4096)));
      const from = int(n - len + 1);
      const to = int(n);
      b = concat(b.subarray(0, to), bytes.subarray(from, from + len), b.subarray(to));
      what = `block ${from}+${len} duplicated at ${to}`; break;
    }
    case 7: { // remove a block
      const len = 1 + int(Math.min(n - 1, 1 + int(4096)));
      const from = int(n - len + 1);
      b = concat(b.subarray(0, from), b.subarray(from + len));
      what = `block ${from}+${len} removed`; break;
    }
    case 8: { // swap two blocks
      const len = 1 + int(Math.min(n >> 2, 1 + int(2048)));
      const a = int(n - 2 * len);
      const c = a + len + int(n - a - 2 * len + 1);
      b.set(bytes.subarray(c, c + len), a);
      b.set(bytes.subarray(a, a + len), c);
      what = `blocks ${a} and ${c} (${len} bytes) swapped`; break;
    }
    default: { // a run of random bytes
      const len = 1 + int(16);
      const at = int(n - len);
      for (let i = 0; i < len; i++) b[at + i] = int(256);
      what = `${len} random bytes at ${at}`; break;
    }
  }
  return { bytes: b, what };
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const NUMBERS = ['0', '-1', '2147483648', '1099511627776', '-2147483649', '1e308', '1e400', 'NaN', '', 'x', '-0', '0.5', '1,5'];

function textMutant(bytes, rnd, fields) {
  const int = (k) => Math.floor(rnd() * k);
  if (rnd() < 0.3) return binaryMutant(bytes, rnd, fields);
  const text = Buffer.from(bytes).toString('latin1');
  const lines = text.split('\n');
  const n = lines.length;
  const i = int(n);
  const j = int(n);
  let what;
  switch (int(7)) {
    case 0: { const k = 1 + int(3); lines.splice(i, k); what = `lines ${i + 1}..${i + k} removed`; break; }
    case 1: { const k = 1 + int(3); lines.splice(i, 0, ...lines.slice(i, i + k)); what = `lines ${i + 1}..${i + k} duplicated`; break; }
    case 2: { [lines[i], lines[j]] = [lines[j], lines[i]]; what = `lines ${i + 1} and ${j + 1} swapped`; break; }
    case 3: { // garble characters of a line
      const l = lines[i].split('');
      const k = 1 + int(4);
      for (let t = 0; t < k && l.length; t++) l[int(l.length)] = String.fromCharCode([32, 44, 59, 9, 35, 60, 62, 34, 61, 45, 46, 101, 48 + int(10), int(256)][int(14)]);
      lines[i] = l.join('');
      what = `line ${i + 1} garbled`; break;
    }
    case 4: case 5: { // replace a number on a line
      const nums = [...lines[i].matchAll(/[-+]?\d+(\.\d+)?([eE][-+]?\d+)?/g)];
      if (!nums.length) { lines.splice(i, 1); what = `line ${i + 1} removed`; break; }
      const m = nums[int(nums.length)];
      const rep = NUMBERS[int(NUMBERS.length)];
      lines[i] = lines[i].slice(0, m.index) + rep + lines[i].slice(m.index + m[0].length);
      what = `line ${i + 1}: "${m[0]}" → "${rep}"`; break;
    }
    default: { lines[i] = lines[i].slice(0, int(lines[i].length + 1)); what = `line ${i + 1} cut short`; break; }
  }
  return { bytes: new Uint8Array(Buffer.from(lines.join('\n'), 'latin1')), what };
}

function mutant(entry, original, fields, index) {
  const rnd = prng(entry.path, index);
  return isText(entry.path) ? textMutant(original, rnd, fields) : binaryMutant(original, rnd, fields);
}

// ---------------------------------------------------------------- child: read mutants

async function child() {
  const { readInstrumentBytes } = await import(join(DIST, 'data/formats/detect.js'));
  const { toSpectraTable } = await import(join(DIST, 'data/formats/to-table.js'));
  const { parseCsv } = await import(join(DIST, 'data/load/csv-parse.js'));
  const { rawFromCsv } = await import(join(DIST, 'data/load/raw-table.js'));
  const { assembleWide, assembleLong, checkMetadataNames } = await import(join(DIST, 'data/load/assemble.js'));
  const { loadArrowFile } = await import(join(DIST, 'data/load/arrow-source.js'));
  const { loadJcampFiles } = await import(join(DIST, 'data/load/jcamp-source.js'));
  const tmp = mkdtempSync(join(tmpdir(), 'fuzz-'));
  const opts = { onNan: 'error' };

  /** The table a `load`-family stage would write, from `bytes` named `file`. */
  async function read(kind, bytes, file) {
    if (kind === 'instrument') {
      const { table, notes } = toSpectraTable([await readInstrumentBytes(bytes, file)]);
      // non-finite values the load stage logs are not passed on silently
      if (notes.some((n) => n.includes('NaN or ±Infinity'))) table.saidNonFinite = true;
      return table;
    }
    if (kind === 'csv' || kind === 'csv-long') {
      const csv = parseCsv(Buffer.from(bytes).toString('utf8'), file, 'auto');
      const raw = rawFromCsv(file, csv.header, csv.rows, csv.lines, csv.headerLine);
      const t = (kind === 'csv-long' ? assembleLong(raw, opts) : assembleWide(raw, opts)).table;
      checkMetadataNames(t, file);
      return t;
    }
    const path = join(tmp, file);
    writeFileSync(path, bytes);
    const t = (await (kind === 'arrow' ? loadArrowFile(path, opts) : loadJcampFiles([path], opts))).table;
    checkMetadataNames(t, file);
    return t;
  }

  function shape(t) {
    const problems = [];
    if (!Number.isSafeInteger(t.n) || t.n < 1) problems.push(`n=${t.n}`);
    if (t.ragged) {
      if (t.ragged.y.length !== t.n) problems.push('ragged rows ≠ n');
    } else {
      if (!Number.isSafeInteger(t.d) || t.d < 1) problems.push(`d=${t.d}`);
      if (t.spectra.length !== t.n * t.d) problems.push(`spectra ${t.spectra.length} ≠ ${t.n}×${t.d}`);
      if (t.axis.length !== t.d) problems.push(`axis ${t.axis.length} ≠ d ${t.d}`);
      if (!t.axis.every(Number.isFinite)) problems.push('axis not finite');
    }
    if (t.ids.length !== t.n) problems.push('ids ≠ n');
    for (const [k, c] of Object.entries(t.columns)) if (c.length !== t.n) problems.push(`column ${k} ≠ n`);
    let nonfinite = 0;
    const ys = t.ragged ? t.ragged.y : [t.spectra];
    for (const y of ys) for (const v of y) if (!Number.isFinite(v)) nonfinite++;
    return { n: t.n, d: t.d, nonfinite: t.saidNonFinite ? 0 : nonfinite, problems };
  }

  const originals = new Map();
  const base = process.resourceUsage().maxRSS;
  process.on('message', async (m) => {
    const entry = m.entry;
    const file = basename(entry.path);
    if (!originals.has(entry.path)) {
      const bytes = new Uint8Array(readFileSync(entry.path));
      // An original the readers refuse (a DM image stack) is fine: its mutants must be refused too, or read.
      const t = await read(entry.kind, bytes, file).then(shape, (e) => ({ n: -1, d: -1, nonfinite: 0, refused: String(e?.message ?? e) }));
      originals.set(entry.path, { bytes, fields: fieldOffsets(bytes), shape: t });
    }
    const o = originals.get(entry.path);
    for (const index of m.indices) {
      const mu = mutant(entry, o.bytes, o.fields, index);
      let r;
      try {
        const t = shape(await read(entry.kind, mu.bytes, file));
        if (t.problems.length) r = { outcome: 'crash', sig: `inconsistent table: ${t.problems.join('; ')}` };
        else if (t.nonfinite > o.shape.nonfinite) r = { outcome: 'read-nonfinite', sig: `${t.nonfinite} non-finite values` };
        else if (t.n !== o.shape.n || t.d !== o.shape.d) r = { outcome: 'read-other', sig: `${t.n}×${t.d} (original ${o.shape.n}×${o.shape.d})` };
        else r = { outcome: 'read' };
      } catch (e) {
        const name = e?.name;
        const msg = String(e?.message ?? e);
        if ((name === 'StageError' || name === 'UserError' || name === 'PipelineError') && !msg.includes('\n')) {
          r = msg.includes(file) ? { outcome: 'located', sig: msg } : { outcome: 'unlocated', sig: msg };
        } else {
          const frame = (String(e?.stack ?? '').split('\n').find((l) => l.includes('/dist/') || l.includes('node_modules')) ?? '').trim();
          r = { outcome: 'crash', sig: `${name}: ${msg.split('\n')[0]} ${frame.replace(/^at /, '@ ').replace(ROOT, '')}` };
        }
      }
      if (process.resourceUsage().maxRSS - base > HUGE_KB) r = { outcome: 'huge', sig: `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB` };
      process.send({ index, what: mu.what, ...r });
      if (r.outcome === 'huge') process.exit(0);
    }
    process.send({ done: true });
  });
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  process.send({ ready: true });
}

// ---------------------------------------------------------------- parent: schedule, watch, report

const FAIL = new Set(['crash', 'unlocated', 'hang', 'died', 'huge']);

async function parent() {
  const files = corpus();
  if (!files.length) throw new Error('no files to fuzz');
  const totals = {};
  const sigs = new Map(); // outcome + normalised signature → { count, example }
  mkdirSync(KEEP, { recursive: true });
  const started = Date.now();
  for (const entry of files) {
    const indices = CASE !== undefined ? [Number(CASE)] : Array.from({ length: PER_FILE }, (_, i) => i);
    const counts = await runFile(entry, indices, (res) => {
      totals[res.outcome] = (totals[res.outcome] ?? 0) + 1;
      if (res.outcome === 'read' || res.outcome === 'located') return;
      const norm = (res.sig ?? '').replace(/\d+(\.\d+)?/g, 'N').replace(/"[^"]*"/g, '"…"');
      const key = `${res.outcome} ${entry.kind === 'instrument' ? extname(entry.path) : entry.kind} ${norm}`;
      const s = sigs.get(key) ?? { count: 0, example: `${basename(entry.path)} --case ${res.index} (${res.what}): ${res.sig}` };
      if (s.count === 0 && FAIL.has(res.outcome)) {
        const o = new Uint8Array(readFileSync(entry.path));
        const mu = mutant(entry, o, isText(entry.path) ? fieldOffsets(o) : fieldOffsets(o), res.index);
        const name = `${res.outcome}-${createHash('sha1').update(key).digest('hex').slice(0, 8)}-${basename(entry.path)}`;
        writeFileSync(join(KEEP, name), mu.bytes);
        s.example += `  [saved ${join(KEEP, name)}]`;
      }
      s.count++;
      sigs.set(key, s);
    });
    console.log(`${basename(entry.path).padEnd(44)} ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  console.log(`\ntotal (${files.length} files × ${CASE !== undefined ? 1 : PER_FILE} mutants, seed ${SEED}, ${((Date.now() - started) / 1000).toFixed(0)} s): ${Object.entries(totals).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const order = ['crash', 'unlocated', 'hang', 'died', 'huge', 'read-nonfinite', 'read-other'];
  for (const o of order) {
    const list = [...sigs.entries()].filter(([k]) => k.startsWith(`${o} `)).sort((a, b) => b[1].count - a[1].count);
    if (!list.length) continue;
    console.log(`\n${o}: ${list.length} distinct`);
    for (const [k, s] of list.slice(0, o.startsWith('read') ? 15 : 100)) console.log(`  ${String(s.count).padStart(5)}  ${k.slice(o.length + 1)}\n         e.g. ${s.example}`);
  }
  const failures = order.slice(0, 5).reduce((s, o) => s + (totals[o] ?? 0), 0);
  console.log(`\nfailures: ${failures}`);
  process.exitCode = failures ? 1 : 0;
}

/** Runs `indices` of one file in a child; a hang or a dead child costs one mutant, then a new child goes on. */
function runFile(entry, indices, onResult) {
  const counts = {};
  return new Promise((done) => {
    let next = 0;
    const record = (res) => {
      counts[res.outcome] = (counts[res.outcome] ?? 0) + 1;
      onResult(res);
    };
    const start = () => {
      if (next >= indices.length) return done(counts);
      const c = fork(fileURLToPath(import.meta.url), ['--child', ...process.argv.slice(2)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, SPECFLOW_HDF5_TIMEOUT: String(Math.max(1, (TIMEOUT - 2000) / 1000)) } });
      let stderr = '';
      c.stderr.on('data', (d) => { stderr += d; });
      let timer;
      let finished = false;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          finished = true;
          record({ index: indices[next], outcome: 'hang', what: '', sig: `no answer in ${TIMEOUT} ms` });
          next++;
          c.kill('SIGKILL');
        }, TIMEOUT);
      };
      c.on('message', (m) => {
        if (m.ready) { arm(); c.send({ entry, indices: indices.slice(next) }); return; }
        if (m.done) { finished = true; clearTimeout(timer); c.kill(); return; }
        record(m);
        next++;
        arm();
      });
      c.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (!finished && next < indices.length) {
          // died on this mutant unless it just reported itself as huge and left
          const last = stderr.trim().split('\n').slice(-1)[0] ?? '';
          if (code !== 0) { record({ index: indices[next], outcome: 'died', what: '', sig: `exit ${code ?? signal}: ${last.slice(0, 200)}` }); next++; }
        }
        start();
      });
    };
    start();
  });
}

if (process.argv.includes('--child')) await child();
else await parent();
