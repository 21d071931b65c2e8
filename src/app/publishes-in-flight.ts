import type { TrackingId } from '../domain/ids.js';

/** Longest an acknowledgement waits for its letter's publish to settle (a safety net: every publish settles, by confirm, nack or connection loss). */
const DEFAULT_MAX_WAIT_MS = 5_000;

/**
 * The letters this instance is publishing: from the publish until the
 * broker's answer and the state change it causes (`published`) are done.
 *
 * A practice system can acknowledge a letter before the broker's confirm of
 * that very publish reaches Courier. Applied at once, the ack takes the
 * letter from `received` straight to `delivered` (the state machine allows
 * it), the later `published` is ignored, and the history and the status
 * events lack `dispatched`. An ack for a letter in flight here therefore
 * waits until its publish has settled, so the letter's history reads
 * received → dispatched → delivered in the order things happened. Publishes
 * by another instance are not seen here; for those the state machine's
 * tolerance of the race still holds.
 */
export class PublishesInFlight {
  readonly #settling = new Map<TrackingId, Promise<void>>();

  constructor(private readonly maxWaitMs = DEFAULT_MAX_WAIT_MS) {}

  get size(): number {
    return this.#settling.size;
  }

  /** True while `trackingId`'s publish has not settled. */
  has(trackingId: TrackingId): boolean {
    return this.#settling.has(trackingId);
  }

  /** Marks `trackingId` as being published until `settled` resolves or rejects; returns `settled`. */
  track<T>(trackingId: TrackingId, settled: Promise<T>): Promise<T> {
    const done: Promise<void> = settled.then(
      () => undefined,
      () => undefined,
    );
    this.#settling.set(trackingId, done);
    void done.then(() => {
      if (this.#settling.get(trackingId) === done) this.#settling.delete(trackingId);
    });
    return settled;
  }

  /** Resolves once no publish of the letter is in flight here: at once when none is, at the latest after maxWaitMs. */
  async settled(trackingId: TrackingId): Promise<void> {
    const pending = this.#settling.get(trackingId);
    if (pending === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.maxWaitMs);
      timer.unref();
    });
    try {
      await Promise.race([pending, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
