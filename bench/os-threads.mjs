// The process's OS threads from /proc (Linux): CPU time, time waiting for a CPU
// and context switches of each, so that a training's threads can be told
// apart from the V8/Node helper threads (JIT compilation, GC) and the
// profiler's own threads, and a thread that is slow from one that is preempted.
import { readdirSync, readFileSync } from 'node:fs';

/** Every thread of this process now: tid → { comm, cpu and runqueue wait (ms), voluntary and involuntary switches }. */
export function osThreads() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const [cpu, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
      const switches = (kind) => Number(new RegExp(`^${kind}_ctxt_switches:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      out.set(tid, { comm: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(), cpu: cpu / 1e6, wait: wait / 1e6, vol: switches('voluntary'), invol: switches('nonvoluntary') });
    } catch {
      // the thread ended while being read
    }
  }
  return out;
}

/**
 * Per epoch between two snapshots: the training thread (this process's main thread), its workers (threads
 * busy for at least a quarter of the training thread's CPU), the profiler's threads and the other (helper) threads.
 */
export function threadsPerEpoch(a, b, epochs) {
  const main = String(process.pid);
  const rows = [...b].map(([tid, v]) => {
    const u = a.get(tid) ?? { cpu: 0, wait: 0, vol: 0, invol: 0 };
    return { tid, comm: v.comm, cpu: (v.cpu - u.cpu) / epochs, wait: (v.wait - u.wait) / epochs, vol: (v.vol - u.vol) / epochs, invol: (v.invol - u.invol) / epochs };
  });
  const mainCpu = rows.find((r) => r.tid === main)?.cpu ?? 0;
  const kind = (r) => (r.tid === main ? 'training thread' : r.comm.startsWith('v8:Prof') ? 'profiler' : r.cpu >= mainCpu / 4 ? 'worker' : 'helpers');
  return rows.filter((r) => r.cpu >= 0.5).map((r) => ({ ...r, kind: kind(r) }));
}

/** Lines for threadsPerEpoch's rows: each training thread and worker on its own, helpers and profiler threads summed. */
export function describeThreads(rows) {
  const lines = [];
  for (const r of rows.filter((x) => x.kind === 'training thread' || x.kind === 'worker')) {
    lines.push(`  ${r.kind.padEnd(15)} ${r.cpu.toFixed(0).padStart(6)} ms CPU, ${r.wait.toFixed(0).padStart(5)} ms waiting for a CPU, ${r.vol.toFixed(0)} voluntary / ${r.invol.toFixed(0)} forced switches per epoch`);
  }
  for (const k of ['helpers', 'profiler']) {
    const of = rows.filter((x) => x.kind === k);
    if (of.length) lines.push(`  ${`${k} (${of.length})`.padEnd(15)} ${of.reduce((s, r) => s + r.cpu, 0).toFixed(0).padStart(6)} ms CPU per epoch`);
  }
  return lines;
}
