/**
 * A worker's failure that the training thread's many short waits can watch
 * without piling up. `Promise.race([wait, failed])` against a promise that
 * stays pending for the whole training adds a reaction to it per call, which
 * keeps the race's promise and its value alive until the training ends: the
 * two barrier waits of every step leaked ~450 bytes a step (2-thread dense
 * training, heap after GC, 960 steps). Here a wait registers a listener and
 * removes it as soon as it settles.
 */
export class Failure {
  private error: Error | undefined;
  private readonly listeners = new Set<(e: Error) => void>();

  /** Records the failure (the first one counts) and rejects every wait in progress with it. */
  fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    for (const reject of this.listeners) reject(e);
    this.listeners.clear();
  }

  /** Waits in progress (for tests: none once they have settled). */
  get waiting(): number {
    return this.listeners.size;
  }

  /** `p`'s value, or a rejection with the failure if that comes first (or came before). */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.error) return Promise.reject(this.error);
    return new Promise<T>((resolve, reject) => {
      this.listeners.add(reject);
      p.then(
        (v) => { this.listeners.delete(reject); resolve(v); },
        (e: unknown) => { this.listeners.delete(reject); reject(e); },
      );
    });
  }
}
