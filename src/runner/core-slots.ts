/**
 * The `--jobs` slots of the local executor, counted in cores: a stage that
 * keeps several cores busy (StageDef.cores) takes that many, so stages that
 * each start threads do not together oversubscribe the machine. First come,
 * first served: a wide stage waiting for slots is not overtaken by narrow ones
 * (it would otherwise wait for as long as they keep arriving).
 */
export class CoreSlots {
  private free: number;
  private readonly waiting: { cores: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {
    this.free = capacity;
  }

  /** Waits for `cores` slots (at most the capacity: a stage wider than --jobs takes them all); returns their release. */
  async acquire(cores: number, signal?: AbortSignal): Promise<() => void> {
    const n = Math.max(1, Math.min(Math.floor(cores), this.capacity));
    if (this.waiting.length === 0 && this.free >= n) {
      this.free -= n;
      return this.releaser(n);
    }
    return new Promise((resolve, reject) => {
      const entry = { cores: n, grant: () => { signal?.removeEventListener('abort', onAbort); resolve(this.releaser(n)); } };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        this.dispatch();
        reject(signal!.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** The slots now, without waiting, or undefined (also while a wider stage waits: it is not overtaken). */
  tryAcquire(cores: number): (() => void) | undefined {
    const n = Math.max(1, Math.min(Math.floor(cores), this.capacity));
    if (this.waiting.length || this.free < n) return undefined;
    this.free -= n;
    return this.releaser(n);
  }

  private releaser(n: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.free += n;
      this.dispatch();
    };
  }

  private dispatch(): void {
    while (this.waiting.length && this.free >= this.waiting[0]!.cores) {
      const next = this.waiting.shift()!;
      this.free -= next.cores;
      next.grant();
    }
  }
}
