/** Progress text for long, row-by-row work: throughput and time left. */

/**
 * `label: 40,000/100,000 spectra · 12,300 spectra/s · ETA 5 s`. `after`: rows the stage still
 * has to go through once this count is done (later epochs or passes), so that the ETA is
 * the stage's time left at the current rate, not this epoch's or pass's.
 */
export function rateMessage(label: string, done: number, total: number, startedMs: number, after = 0): string {
  const seconds = (performance.now() - startedMs) / 1000;
  const rate = seconds > 0 ? done / seconds : 0;
  const left = total - done + after;
  const eta = rate > 0 && left > 0 ? ` · ETA ${formatSeconds(left / rate)}` : '';
  return `${label}: ${done.toLocaleString('en')}/${total.toLocaleString('en')} spectra · ${Math.round(rate).toLocaleString('en')} spectra/s${eta}`;
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
