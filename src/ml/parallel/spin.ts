/**
 * Brief spinning before sleeping at a barrier. A thread that sleeps in
 * Atomics.wait (or awaits Atomics.waitAsync, which also goes through the event
 * loop) is woken by the kernel's scheduler, and on a 2-core machine the waker's
 * core may be the one it is woken on: tens of microseconds when a core is
 * idle, milliseconds under load. The two training threads of a step reach each
 * barrier within about a millisecond of each other when nothing else runs, so
 * watching the flag for a moment first usually sees it change without
 * sleeping; a longer wait then sleeps as before, so a thread never burns more
 * than SPIN_MS of CPU per wait.
 */

/** How long a thread watches a flag before it sleeps (ms): SPECFLOW_TEAM_SPIN_MS (0 sleeps at once, for
 * before/after benchmarks; each thread reads it, the workers inherit the training thread's environment), else 0.25. */
export const SPIN_MS = spinMs(process.env.SPECFLOW_TEAM_SPIN_MS);

/** SPECFLOW_TEAM_SPIN_MS's value: a number of milliseconds from 0 to 10, else the default. */
export function spinMs(setting: string | undefined): number {
  const ms = setting === undefined || setting.trim() === '' ? NaN : Number(setting);
  return Number.isFinite(ms) && ms >= 0 && ms <= 10 ? ms : 0.25;
}

/**
 * Watches `a[i]` while it holds `seen`, for at most `ms`; returns the value it holds
 * then (`seen` when it did not change: the caller sleeps).
 */
export function spinWhile(a: Int32Array, i: number, seen: number, ms = SPIN_MS): number {
  let v = Atomics.load(a, i);
  if (v !== seen || ms <= 0) return v;
  const until = performance.now() + ms;
  // performance.now() costs more than a load: look at the clock every 64 loads
  for (let k = 1; ; k++) {
    v = Atomics.load(a, i);
    if (v !== seen) return v;
    if ((k & 63) === 0 && performance.now() > until) return v;
  }
}
