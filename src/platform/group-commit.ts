/**
 * Group commit: single-item calls made while a flush is running wait and
 * go to the store together in the next flush, so N concurrent callers cost
 * one round trip (and one WAL flush) instead of N. An idle batcher flushes
 * a lone call at once: no added latency at low load, batches form only
 * under load, by themselves, as large as the load is.
 *
 * Contract for `flush`: it gets 1..maxBatch items and resolves one result
 * per item, in order — `{ value }` or `{ error }` — or rejects, which fails
 * every item of that batch with the same error. Items with equal `key`
 * (e.g. one letter's tracking id) never share a flush: the later one waits
 * for the next, so a flush may treat its items as independent.
 */
export type ItemResult<T> = { readonly value: T } | { readonly error: unknown };

export interface GroupCommitOptions<In> {
  /** Most items per flush. */
  readonly maxBatch: number;
  /** Flushes allowed at once (default 1). More overlap round trips; they may contend on the same rows. */
  readonly concurrency?: number;
  /** Items with the same key go to different flushes, in submission order. */
  readonly key?: (item: In) => string;
}

interface Pending<In, Out> {
  readonly item: In;
  readonly resolve: (value: Out) => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommit<In, Out> {
  readonly #queue: Pending<In, Out>[] = [];
  /** Keys of items in a flush now: a later item with one of them waits. */
  readonly #busyKeys = new Set<string>();
  #running = 0;

  constructor(
    private readonly flush: (items: readonly In[]) => Promise<readonly ItemResult<Out>[]>,
    private readonly options: GroupCommitOptions<In>,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError('maxBatch must be a positive integer');
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#startFlushes();
    });
  }

  /** Items waiting for a flush (not counting those in one). */
  get waiting(): number {
    return this.#queue.length;
  }

  #startFlushes(): void {
    while (this.#running < (this.options.concurrency ?? 1)) {
      const batch = this.#takeBatch();
      if (batch.length === 0) return;
      this.#running++;
      void this.#run(batch);
    }
  }

  /** The oldest waiting items, up to maxBatch, skipping (and keeping queued) any whose key is taken. */
  #takeBatch(): Pending<In, Out>[] {
    const batch: Pending<In, Out>[] = [];
    const keyOf = this.options.key;
    const keys = new Set<string>();
    for (let i = 0; i < this.#queue.length && batch.length < this.options.maxBatch; ) {
      const pending = this.#queue[i] as Pending<In, Out>;
      const key = keyOf?.(pending.item);
      if (key !== undefined && (keys.has(key) || this.#busyKeys.has(key))) {
        i++;
        continue;
      }
      if (key !== undefined) keys.add(key);
      batch.push(pending);
      this.#queue.splice(i, 1);
    }
    for (const key of keys) this.#busyKeys.add(key);
    return batch;
  }

  async #run(batch: readonly Pending<In, Out>[]): Promise<void> {
    try {
      const results = await this.flush(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`group commit: flush answered ${results.length} results for ${batch.length} items`);
      batch.forEach((pending, i) => {
        const result = results[i] as ItemResult<Out>;
        if ('error' in result) pending.reject(result.error);
        else pending.resolve(result.value);
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      const keyOf = this.options.key;
      if (keyOf !== undefined) for (const pending of batch) this.#busyKeys.delete(keyOf(pending.item));
      this.#running--;
      this.#startFlushes();
    }
  }
}
