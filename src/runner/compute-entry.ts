/**
 * Computes one StageJob into a store: take the key's lock (or find the entry
 * published meanwhile), check the inputs, run the stage into a temp directory,
 * publish it. The same function serves the local executor, a queue worker and a
 * SLURM batch job, so an entry is produced the same way wherever it is computed.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { changedInputFiles } from './fingerprint.js';
import { describeFsError, fsErrorCode, fsErrorLine, STORE_FATAL_CODES } from './durable.js';
import type { StageMessage, StageTask } from './execute-stage.js';
import type { StageRunner } from './stage-pool.js';
import type { LockInfo, Manifest, Store } from './store.js';
import type { InputArtifact, StageDef } from './stage-api.js';
import { outputLayout, type ComputedBy, type JobOutcome, type StageJob } from './stage-job.js';

export interface ComputeHooks {
  signal: AbortSignal;
  runStage: StageRunner;
  /** Who computes it (this process), as the run record will name it. */
  by?: ComputedBy;
  /** Called once the lock is held and the stage is about to run. */
  onStart?: () => void;
  onMessage?: (m: StageMessage) => void;
  onWaiting?: (holder: LockInfo | undefined) => void;
  /** Register the job's keys in this process's store hold (false where the coordinator already did). */
  hold?: boolean;
}

export function localIdentity(): ComputedBy {
  return { host: hostname(), worker: `pid ${process.pid}` };
}

/** An input entry is not in the store at all: this host's store is not the coordinator's, or the entry was deleted. */
class MissingInput extends Error {}

class CorruptInput extends Error {
  constructor(message: string, readonly input: { key: string; note: string }) {
    super(message);
  }
}

export async function computeEntry(store: Store, def: StageDef, job: StageJob, hooks: ComputeHooks): Promise<JobOutcome> {
  const by = hooks.by ?? localIdentity();
  const { signal } = hooks;
  const interrupted = (): JobOutcome => ({ ...by, status: 'interrupted', seconds: 0, metrics: {}, error: 'interrupted' });
  const cached = (): JobOutcome | undefined => {
    const m = store.readManifest(job.key);
    return m ? { ...by, status: 'cached', seconds: m.seconds, metrics: m.metrics } : undefined;
  };
  const fatal = (error: string): JobOutcome => ({ ...by, status: 'failed', seconds: 0, metrics: {}, error, userError: true, fatal: true });
  if (signal.aborted) return interrupted();
  // gc spares what this process reads and writes
  const heldKeys = hooks.hold !== false ? [job.key, ...Object.values(job.inputs).flat().map((r) => r.key)] : [];
  if (heldKeys.length) await store.holdKeys(heldKeys);
  let started = performance.now();
  let temp: string | undefined;
  let locked = false;
  try {
    const claim = await store.claim(job.key, signal, hooks.onWaiting, job.force);
    if (claim.cached) {
      const r = cached();
      if (r) return r;
    }
    locked = !claim.cached;
    // the entry's seconds are its computing time, not the wait for another run's lock (up to a lease)
    started = performance.now();
    if (claim.quarantined) hooks.onMessage?.({ type: 'log', message: `cached entry was broken (${claim.quarantined[0]}); moved to quarantine/, recomputing` });
    hooks.onStart?.();
    temp = await store.createTemp(job.key);
    const task = await stageTaskFor(store, def, job, temp, signal);
    const outcome = await hooks.runStage(def, task, hooks.onMessage ?? (() => undefined), signal);
    if (signal.aborted) return interrupted();
    if (!outcome.ok) {
      if (outcome.error.code && STORE_FATAL_CODES.has(outcome.error.code)) {
        return fatal(`${store.root}: ${describeFsError(outcome.error)}: stage "${job.stage}" could not write its output`);
      }
      const e = outcome.error;
      return { ...by, status: 'failed', seconds: secondsSince(started), metrics: {}, error: e.user ? e.message : (e.stack ?? e.message), userError: e.user };
    }
    const changed = await changedInputFiles(
      { id: job.stage, type: job.type, def, params: job.params, pathParams: job.pathParams, inputs: {} }, job.pipelineDir, job.material.params, job.stamps,
    );
    if (changed.length) {
      const error = `${changed.join(', ')}: changed while this run was using ${changed.length > 1 ? 'them' : 'it'} (written after the stage's key was made, so the stage may have read other bytes); nothing was stored, run again`;
      return { ...by, status: 'failed', seconds: secondsSince(started), metrics: {}, error, userError: true };
    }
    const seconds = secondsSince(started);
    await store.publish(temp, {
      key: job.key, type: job.type, stage: job.stage, material: job.material,
      outputs: outputLayout(def), metrics: outcome.metrics, seconds, created: new Date().toISOString(),
    }, { replace: job.force, signal });
    temp = undefined;
    return { ...by, status: 'done', seconds, metrics: outcome.metrics };
  } catch (e) {
    if (signal.aborted) return interrupted();
    if (e instanceof MissingInput) {
      const error = `${e.message} as ${by.worker} on ${by.host} sees it: removed meanwhile (\`cache verify --remove\`), or this host's store is not the coordinator's (every host must mount one store at the same path)`;
      return { ...by, status: 'failed', seconds: secondsSince(started), metrics: {}, error, infrastructure: true };
    }
    if (e instanceof CorruptInput) {
      return { ...by, status: 'failed', seconds: secondsSince(started), metrics: {}, error: e.message, userError: true, corruptInput: e.input };
    }
    // outside the stage function, a filesystem error is the store's (full, read-only, permissions)
    if (fsErrorCode(e) && (e as NodeJS.ErrnoException).syscall) return fatal(fsErrorLine(e));
    const err = e as Error;
    return { ...by, status: 'failed', seconds: secondsSince(started), metrics: {}, error: err.stack ?? String(e), infrastructure: true };
  } finally {
    if (temp) await store.discardTemp(temp).catch(() => undefined);
    if (locked) await store.release(job.key).catch(() => undefined);
    // published or not, the entry is the coordinator's now (its own hold names its plan's keys)
    if (heldKeys.length) await store.unholdKeys(heldKeys).catch(() => undefined);
  }
}

/** The serialisable task a stage function runs on: its inputs checked and found in `store`, its outputs in `tempDir`. */
async function stageTaskFor(store: Store, def: StageDef, job: StageJob, tempDir: string, signal: AbortSignal): Promise<StageTask> {
  const outputs: StageTask['outputs'] = {};
  for (const [port, o] of Object.entries(outputLayout(def))) outputs[port] = { path: join(tempDir, o.path), kind: o.kind };
  const inputs: StageTask['inputs'] = {};
  for (const [port, refs] of Object.entries(job.inputs)) {
    const arts: InputArtifact[] = [];
    for (const r of refs) {
      const m = await soundInput(store, r.key, `${r.stage}.${r.port}`, signal);
      const out = m.outputs[r.port]!;
      arts.push({
        path: join(store.entryDir(r.key), out.path), kind: out.kind, from: `${r.stage}.${r.port}`, key: r.key,
        stage: r.stage, variant: r.variant, axes: r.axes, metrics: m.metrics,
        ...(r.metricInfo ? { metricInfo: r.metricInfo } : {}),
        ...(r.usedBy ? { usedBy: r.usedBy, ...(r.replicates ? { replicates: r.replicates } : {}) } : {}),
      });
    }
    inputs[port] = def.inputs[port]?.many || def.gather ? arts : arts[0]!;
  }
  return { type: job.type, id: job.stage, params: job.params, seed: job.seed, inputs, outputs, pipelineDir: job.pipelineDir, ...(job.missing ? { missing: job.missing } : {}) };
}

/** The manifest of an input entry, checked by `Store.readInput`; for a corrupt one the coordinator recomputes its producer. */
async function soundInput(store: Store, key: string, name: string, signal: AbortSignal): Promise<Manifest> {
  const checked = await store.readInput(key, signal);
  if ('manifest' in checked) return checked.manifest;
  if (!checked.problems) throw new MissingInput(`input ${name} (${key.slice(0, 12)}) is not in the store ${store.root}`);
  const problem = checked.problems[0];
  throw new CorruptInput(`input ${name} (entry ${key.slice(0, 12)}) is corrupt: ${problem}${checked.movedTo ? `; moved to ${checked.movedTo}` : ''}; run again to recompute it`, { key, note: `input ${name} is corrupt (${problem})` });
}

export function secondsSince(t0: number): number {
  return Math.round((performance.now() - t0)) / 1000;
}
