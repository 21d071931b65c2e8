import type { LetterFacts } from '../domain/letter.js';
import type { MessageState } from '../domain/message-state.js';
import type { OdsCode, TrackingId } from '../domain/ids.js';

/** The clock is a port so the domain and use cases can be tested at any instant. */
export interface Clock {
  now(): Date;
}

/** A letter ready to be taken into custody: facts, exact bytes and timing. */
export interface NewLetter extends LetterFacts {
  readonly trackingId: TrackingId;
  /** The Bundle exactly as received (after gzip decoding): the bytes delivered to the practice. */
  readonly body: Uint8Array;
  readonly acceptedAt: Date;
  /** When the letter must be filed by (`deadlines.<event>` from acceptance). */
  readonly deadlineAt: Date;
}

/** One stored letter without its body. */
export interface MessageRecord {
  readonly trackingId: TrackingId;
  readonly messageHeaderId: string;
  readonly bundleIdentifier: string | null;
  readonly sender: string;
  readonly event: string;
  readonly destination: OdsCode;
  readonly state: MessageState;
  /** Incremented by every change; used for optimistic updates. */
  readonly version: number;
  /** Publish attempts made so far (0 until the first publish). */
  readonly attempts: number;
  /** Per-practice sequence number, 1, 2, … gap-free, assigned on acceptance. */
  readonly sequence: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** When the letter must next move on; null in final states and in `escalated`. */
  readonly nextDeadline: Date | null;
  /** The filing deadline fixed at acceptance. */
  readonly deadlineAt: Date;
}

export interface HistoryEntry {
  readonly at: Date;
  readonly from: MessageState | null;
  readonly to: MessageState;
  readonly cause: string | null;
}

/** Outcome of trying to take a letter into custody. */
export type AcceptOutcome =
  | { readonly kind: 'accepted'; readonly record: MessageRecord }
  /**
   * A letter with the same `MessageHeader.id`, or the same sender and
   * `Bundle.identifier`, is already held. `sameContent` compares content hashes.
   */
  | { readonly kind: 'duplicate'; readonly trackingId: TrackingId; readonly sameContent: boolean };

export interface MessageFilter {
  readonly state?: MessageState;
  readonly destination?: OdsCode;
  /** Only letters accepted at or after this instant. */
  readonly since?: Date;
  /** Only letters whose `nextDeadline` is before `now`. */
  readonly overdue?: boolean;
  /** Page size, 1..500. */
  readonly limit: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  readonly cursor?: string;
}

export interface MessagePage {
  readonly items: readonly MessageRecord[];
  readonly nextCursor: string | null;
}

/**
 * Durable storage of letters, their history and the outbox.
 *
 * Contract (checked by test/integration/store-contract.ts against every adapter):
 * - `accept` writes the letter row (state `received`, sequence = next for its
 *   destination), its first history entry (from null), a `dispatch` outbox row
 *   and a `received` event outbox row in ONE transaction; either all are
 *   stored or none are.
 * - Per-destination sequences start at 1 and have no gaps, even when
 *   transactions roll back or run concurrently.
 * - Duplicates (same `messageHeaderId`, or same `sender` + non-null
 *   `bundleIdentifier`) are reported, never stored twice, also under races.
 * - Lists are ordered oldest first (createdAt, then trackingId).
 */
export interface MessageStore {
  accept(letter: NewLetter): Promise<AcceptOutcome>;
  get(trackingId: TrackingId): Promise<MessageRecord | undefined>;
  history(trackingId: TrackingId): Promise<readonly HistoryEntry[]>;
  /** The stored bytes of the letter, exactly as accepted. */
  body(trackingId: TrackingId): Promise<Uint8Array | undefined>;
  list(filter: MessageFilter, now: Date): Promise<MessagePage>;
  /** Rejects when the store cannot answer a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Whether the broker connection is currently up; used to refuse custody (503) while it is not. */
export interface BrokerStatus {
  isConnected(): boolean;
}
