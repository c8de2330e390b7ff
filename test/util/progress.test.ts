/** Progress text of long streaming work: the rate, and an ETA for the whole stage. */
import { describe, expect, it } from 'vitest';
import { RateMeter } from '../../src/util/progress.js';

describe('RateMeter', () => {
  it('says rows done, the rate and the time left of this count', () => {
    const m = new RateMeter(20_000, 0);
    // 1,000 rows in 10 s: 100 rows/s; 30,000 left
    expect(m.message('pass 1/1 (steps)', 1_000, 31_000, 0, 10_000)).toBe('pass 1/1 (steps): 1,000/31,000 spectra · 100 spectra/s · ETA 5 min');
  });

  it('counts the rows of later epochs or passes in the ETA', () => {
    // 30,000 rows left of this epoch + 2 more epochs of 31,000 at 100 rows/s: 920 s
    expect(new RateMeter(20_000, 0).message('epoch 1/3', 1_000, 31_000, 62_000, 10_000)).toMatch(/ETA 15 min$/);
    // the last row of an epoch, one epoch to go: still an ETA
    expect(new RateMeter(20_000, 0).message('epoch 1/2', 31_000, 31_000, 31_000, 310_000)).toMatch(/ETA 5 min$/);
    // done: no ETA
    expect(new RateMeter(20_000, 0).message('epoch 2/2', 31_000, 31_000, 0, 310_000)).not.toMatch(/ETA/);
  });

  it('follows a rate that drops: the rate of the last window, not the average since the start', () => {
    const m = new RateMeter(20_000, 0);
    // 1,000 rows/s for 60 s, then 100 rows/s
    let done = 0;
    for (let t = 1; t <= 60; t++) m.message('x', (done += 1_000), 1_000_000, 0, t * 1_000);
    let last = '';
    for (let t = 61; t <= 120; t++) last = m.message('x', (done += 100), 1_000_000, 0, t * 1_000);
    // 66,000 done: the average since the start would say 550 rows/s and ETA 31 min
    expect(last).toBe('x: 66,000/1,000,000 spectra · 100 spectra/s · ETA 2.6 h');
  });
});
