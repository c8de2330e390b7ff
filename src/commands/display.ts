/**
 * What a person sees while a pipeline runs: per-stage progress bars on a
 * terminal (cli-progress), plain timestamped lines otherwise (CI logs, pipes).
 */
import type { SchedulerEvent } from '../runner/scheduler.js';
import { taskLabel } from '../runner/plan.js';

export { taskLabel };
import type { ProgressEvent } from '../runner/stage-api.js';
import type { LockInfo } from '../runner/store.js';

export interface Display {
  handle(e: SchedulerEvent): void;
  stop(): void;
}

function describeProgress(e: ProgressEvent): string {
  const parts: string[] = [];
  if (e.epoch !== undefined) parts.push(`epoch ${e.epoch}${e.epochs ? `/${e.epochs}` : ''}`);
  if (e.loss !== undefined) parts.push(`loss ${fmt(e.loss)}`);
  if (e.val_loss !== undefined) parts.push(`val ${fmt(e.val_loss)}`);
  if (e.message) parts.push(e.message);
  if (!parts.length && e.fraction !== undefined) parts.push(`${Math.round(e.fraction * 100)}%`);
  return parts.join('  ');
}

function fmt(x: number): string {
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(4) : x.toExponential(3);
}

function finishLine(label: string, e: Extract<SchedulerEvent, { type: 'finish' }>): string {
  const r = e.result;
  const without = r.missing ? `  without ${[...new Set(r.missing.map((m) => m.variant))].join(', ')} (failed upstream)` : '';
  switch (r.status) {
    case 'cached': return `= ${label}  (cached)${without}`;
    case 'done': return `✓ ${label}  ${r.seconds.toFixed(1)}s${without}`;
    // the error itself is printed once, in the run's summary
    case 'failed': return r.fatal ? `✗ ${label}  stopped: the run cannot go on` : `✗ ${label}  failed`;
    case 'skipped': return `- ${label}  skipped (upstream "${r.blockedBy}" failed)`;
    default: return `! ${label}  interrupted`;
  }
}

/** Lines on stderr so that stdout stays clean for --json. */
export function plainDisplay(variants: number, write: (s: string) => void = (s) => process.stderr.write(s)): Display {
  const lastProgress = new Map<string, number>();
  const stamp = (): string => new Date().toISOString().slice(11, 19);
  return {
    handle(e) {
      const label = taskLabel(e.task, variants);
      if (e.type === 'start') write(`[${stamp()}] ▶ ${label}  (${e.task.stage.type})${e.by ? `  on ${e.by.worker}` : ''}\n`);
      else if (e.type === 'finish') write(`[${stamp()}] ${finishLine(label, e)}\n`);
      else if (e.type === 'waiting') write(`[${stamp()}] … ${label}  ${waitingFor(e.holder)}\n`);
      else if (e.type === 'log') write(`[${stamp()}]   ${label}: ${e.message}\n`);
      else if (e.type === 'progress') {
        // a line per few seconds per stage at most: logs stay readable
        const now = Date.now();
        const last = lastProgress.get(e.task.key) ?? 0;
        const isLast = e.event.epochs !== undefined && e.event.epoch === e.event.epochs;
        if (now - last >= 3000 || isLast) {
          lastProgress.set(e.task.key, now);
          write(`[${stamp()}]   ${label}: ${describeProgress(e.event)}\n`);
        }
      }
    },
    stop() { /* nothing buffered */ },
  };
}

export async function ttyDisplay(variants: number): Promise<Display> {
  const { default: cliProgress } = await import('cli-progress');
  const multi = new cliProgress.MultiBar({
    format: ' {bar} {percentage}% | {label} | {status}',
    hideCursor: true,
    clearOnComplete: true,
    stopOnComplete: false,
    barsize: 24,
    stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, ReturnType<typeof multi.create>>();
  return {
    handle(e) {
      const label = taskLabel(e.task, variants);
      if (e.type === 'start') {
        bars.set(e.task.key, multi.create(100, 0, { label, status: `${e.task.stage.type}${e.by ? ` on ${e.by.worker}` : ''}` }));
      } else if (e.type === 'progress') {
        const bar = bars.get(e.task.key);
        const fraction = e.event.fraction ?? (e.event.epoch !== undefined && e.event.epochs ? e.event.epoch / e.event.epochs : undefined);
        bar?.update(fraction !== undefined ? Math.round(fraction * 100) : bar.getProgress() * 100, { label, status: describeProgress(e.event) });
      } else if (e.type === 'finish') {
        const bar = bars.get(e.task.key);
        if (bar) { multi.remove(bar); bars.delete(e.task.key); }
        multi.log(`${finishLine(label, e)}\n`);
      } else if (e.type === 'waiting') {
        multi.log(`… ${label}  ${waitingFor(e.holder)}\n`);
      } else if (e.type === 'log') {
        multi.log(`  ${label}: ${e.message}\n`);
      }
    },
    stop() {
      multi.update(); // flush lines logged since the last redraw, or stop() loses them
      multi.stop();
    },
  };
}

/**
 * Who holds a lock we wait for, and how long the wait can last: a holder on
 * another host is never judged dead from here, only its lease can lapse, so
 * the user learns that a crashed holder costs one lease and no manual step.
 */
function waitingFor(holder: LockInfo | undefined): string {
  const who = holder ? `pid ${holder.owner.pid} on ${holder.owner.host}` : 'another process';
  const lease = holder && Number.isFinite(holder.lease_ms) ? `${Math.round(holder.lease_ms / 100) / 10} s` : 'a lease';
  return `waiting for ${who}, which is computing it (if it stops renewing its lock for ${lease}, this run takes over)`;
}
