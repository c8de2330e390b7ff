/**
 * Spread independent chunks of work over worker threads (both cores), for code in
 * src/data that streams a table batch by batch. It knows nothing of stages or the
 * scheduler: a worker module exports `default(input) => output`, and when that
 * module has no compiled `.js` (tests importing TypeScript sources) the same
 * function runs inline, so results never depend on where a chunk ran.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { move, transferableSymbol, valueSymbol } from 'piscina';

export class ChunkPool<I, O> {
  private pool: import('piscina').Piscina | undefined;
  private readonly file: string;
  readonly threads: number;

  /**
   * `worker`: URL of the compiled worker module; `inline`: the same function, for when it is absent.
   * Threads: SPECFLOW_CHUNK_THREADS when set (0 runs every chunk inline), else up to 2 (this machine's cores).
   */
  constructor(worker: URL, private readonly inline: (input: I) => O | Promise<O>, threads?: number) {
    this.file = fileURLToPath(worker);
    const forced = Number(process.env.SPECFLOW_CHUNK_THREADS);
    const wanted = threads ?? (process.env.SPECFLOW_CHUNK_THREADS && Number.isInteger(forced) && forced >= 0 ? forced : Math.min(2, availableParallelism()));
    this.useWorkers = wanted > 0 && existsSync(this.file);
    this.threads = Math.max(1, wanted);
  }

  private readonly useWorkers: boolean;

  async run(input: I, transfer: ArrayBuffer[] = []): Promise<O> {
    if (!this.useWorkers) return this.inline(input);
    if (!this.pool) {
      const { Piscina } = await import('piscina');
      this.pool = new Piscina({ filename: this.file, maxThreads: this.threads, minThreads: 0, idleTimeout: 30_000 });
    }
    return (await this.pool.run(input, { transferList: transfer })) as O;
  }

  async destroy(): Promise<void> {
    await this.pool?.destroy();
    this.pool = undefined;
  }
}

/**
 * For a worker module's return value: `buffers` (the value's own, used by nothing else
 * afterwards) are transferred to the calling thread instead of copied.
 */
export function transferring<T>(value: T, buffers: ArrayBuffer[]): T {
  if (buffers.length === 0) return value;
  return move({ [transferableSymbol]: buffers, [valueSymbol]: value } as never) as T;
}

/**
 * Run `work` over `items` with up to `depth` in flight, handing results to `consume`
 * in item order (so folds over the results are the same whatever the timing).
 */
export async function inOrder<T, R>(items: AsyncIterable<T>, depth: number, work: (item: T) => Promise<R>, consume: (result: R, item: T) => void | Promise<void>): Promise<void> {
  const inFlight: { item: T; result: Promise<R> }[] = [];
  try {
    for await (const item of items) {
      const result = work(item);
      result.catch(() => undefined); // observed below, in order
      inFlight.push({ item, result });
      if (inFlight.length >= depth) {
        const head = inFlight.shift()!;
        await consume(await head.result, head.item);
      }
    }
    while (inFlight.length > 0) {
      const head = inFlight.shift()!;
      await consume(await head.result, head.item);
    }
  } finally {
    await Promise.allSettled(inFlight.map((f) => f.result));
  }
}
