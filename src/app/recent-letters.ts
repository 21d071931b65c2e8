import type { TrackingId } from '../domain/ids.js';
import { isFinalState } from '../domain/message-state.js';
import type { MessageRecord } from './ports.js';

/** Enough for every letter in flight at a few hundred letters a second with acks seconds behind; about 5 MB when full. */
const DEFAULT_CAPACITY = 8_192;

/**
 * The letters this Courier instance read or changed last, as they were then:
 * a hint that saves the store a read, never the truth.
 *
 * Without it a letter is read from the store once for each of its events
 * (published, 20013, 30001) and once more for each acknowledgement's lookup by
 * MessageHeader.id. With it, the change this instance committed is the
 * snapshot its next event is decided from. Two rules keep that safe:
 * - a state change decided from a snapshot is committed only if the row's
 *   version is still the snapshot's (the optimistic check every change
 *   already has), so a snapshot made stale by another instance or another
 *   path costs one more round, from a fresh read, and no wrong change;
 * - what a lookup by MessageHeader.id takes from here is only what never
 *   changes after acceptance (tracking id, destination).
 *
 * Bounded: the least recently remembered letter goes first, and a letter in
 * a final state is let go at once (nothing more happens to it).
 */
export class RecentLetters {
  readonly #byTrackingId = new Map<TrackingId, MessageRecord>();
  readonly #byMessageHeaderId = new Map<string, TrackingId>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('RecentLetters: capacity must be a positive integer');
  }

  get size(): number {
    return this.#byTrackingId.size;
  }

  /** The letter as this instance last saw it, if it still holds it. */
  get(trackingId: TrackingId): MessageRecord | undefined {
    return this.#byTrackingId.get(trackingId);
  }

  /** The letter with this MessageHeader.id, if held; only its fixed facts (tracking id, destination, …) are to be trusted. */
  byMessageHeaderId(messageHeaderId: string): MessageRecord | undefined {
    const trackingId = this.#byMessageHeaderId.get(messageHeaderId);
    return trackingId === undefined ? undefined : this.#byTrackingId.get(trackingId);
  }

  /** Keeps `record` unless a later version of the letter is held; lets a final letter go. */
  remember(record: MessageRecord): void {
    const held = this.#byTrackingId.get(record.trackingId);
    if (held !== undefined && held.version > record.version) return;
    this.forget(record.trackingId);
    if (isFinalState(record.state)) return;
    this.#byTrackingId.set(record.trackingId, record);
    this.#byMessageHeaderId.set(record.messageHeaderId, record.trackingId);
    if (this.#byTrackingId.size > this.capacity) {
      const oldest = this.#byTrackingId.keys().next();
      if (oldest.done !== true) this.forget(oldest.value);
    }
  }

  forget(trackingId: TrackingId): void {
    const held = this.#byTrackingId.get(trackingId);
    if (held === undefined) return;
    this.#byTrackingId.delete(trackingId);
    this.#byMessageHeaderId.delete(held.messageHeaderId);
  }
}
