import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Failure } from '../../src/ml/parallel/failure.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Whether `value`, handed to `wait` as what the awaited promise resolves to, is still reachable once the wait has settled. */
async function keptAlive(wait: (p: Promise<object>) => Promise<object>): Promise<boolean> {
  let ref!: WeakRef<object>;
  await (async () => {
    const value = { payload: new Array(1000).fill(1) };
    ref = new WeakRef(value);
    await wait(Promise.resolve(value));
  })();
  // let the promise jobs finish, then collect (twice: WeakRefs are cleared across a turn)
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return ref.deref() !== undefined;
}

describe('Failure (a worker failure the barrier waits watch)', () => {
  it('resolves with the awaited value and keeps no listener once settled', async () => {
    const f = new Failure();
    await expect(f.race(Promise.resolve(7))).resolves.toBe(7);
    await expect(f.race(Promise.reject(new Error('own')))).rejects.toThrow('own');
    expect(f.waiting).toBe(0);
  });

  it('rejects a wait in progress with the failure, and later waits at once', async () => {
    const f = new Failure();
    const never = new Promise<number>(() => undefined);
    const waiting = f.race(never);
    expect(f.waiting).toBe(1);
    f.fail(new Error('thread 1 died'));
    f.fail(new Error('a second failure is ignored'));
    await expect(waiting).rejects.toThrow('thread 1 died');
    expect(f.waiting).toBe(0);
    await expect(f.race(Promise.resolve(1))).rejects.toThrow('thread 1 died');
  });

  it('does not keep a settled wait\'s value alive, as Promise.race against a pending promise does', async () => {
    // the check itself: Promise.race against a promise that never settles keeps the value (what the team leaked a step)
    const pending = new Promise<never>(() => undefined);
    expect(await keptAlive((p) => Promise.race([p, pending]))).toBe(true);
    const f = new Failure();
    expect(await keptAlive((p) => f.race(p))).toBe(false);
  });
});
