/** Progress text of long streaming work: the rate, and an ETA for the whole stage. */
import { describe, expect, it } from 'vitest';
import { rateMessage } from '../../src/util/progress.js';

describe('rateMessage', () => {
  // 1,000 rows in the 10 s since `started`: 100 rows/s
  const started = () => performance.now() - 10_000;

  it('says rows done, the rate and the time left of this count', () => {
    const m = rateMessage('pass 1/1 (steps)', 1_000, 31_000, started());
    expect(m).toMatch(/^pass 1\/1 \(steps\): 1,000\/31,000 spectra · 100 spectra\/s · ETA 5 min$/);
  });

  it('counts the rows of later epochs or passes in the ETA', () => {
    // 30,000 rows left of this epoch + 2 more epochs of 31,000 at 100 rows/s: 920 s
    expect(rateMessage('epoch 1/3', 1_000, 31_000, started(), 2 * 31_000)).toMatch(/ETA 15 min$/);
    // the last row of an epoch, one epoch to go: still an ETA
    expect(rateMessage('epoch 1/2', 31_000, 31_000, performance.now() - 310_000, 31_000)).toMatch(/ETA 5 min$/);
    // done: no ETA
    expect(rateMessage('epoch 2/2', 31_000, 31_000, started())).not.toMatch(/ETA/);
  });
});
