/** Progress text for long, row-by-row work: throughput and time left. */

/**
 * Rows per second over the last `windowMs` of updates (the average since the start until
 * the window is full), so that the rate and ETA follow a rate that changes — a loaded
 * machine, a slower phase — instead of averaging it away since the start.
 */
export class RateMeter {
  private readonly times: number[];
  private readonly counts: number[] = [0];

  constructor(private readonly windowMs = 20_000, startedMs = performance.now()) {
    this.times = [startedMs];
  }

  /**
   * `label: 40,000/100,000 spectra · 12,300 spectra/s · ETA 5 s`. `after`: rows the stage still
   * has to go through once this count is done (later epochs or passes), so that the ETA is
   * the stage's time left at the current rate, not this epoch's or pass's.
   */
  message(label: string, done: number, total: number, after = 0, now = performance.now()): string {
    this.times.push(now);
    this.counts.push(done);
    // keep the newest sample at least windowMs old as the window's start
    while (this.times.length > 2 && now - this.times[1]! >= this.windowMs) {
      this.times.shift();
      this.counts.shift();
    }
    const seconds = (now - this.times[0]!) / 1000;
    const rate = seconds > 0 ? (done - this.counts[0]!) / seconds : 0;
    const left = total - done + after;
    const eta = rate > 0 && left > 0 ? ` · ETA ${formatSeconds(left / rate)}` : '';
    return `${label}: ${done.toLocaleString('en')}/${total.toLocaleString('en')} spectra · ${Math.round(rate).toLocaleString('en')} spectra/s${eta}`;
  }
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
