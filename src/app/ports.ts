import type { LetterFacts } from '../domain/letter.js';
import type { MessageState } from '../domain/message-state.js';
import type { PracticeActivity } from '../domain/practice-silence.js';
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
  /** The sender's http(s) `MessageHeader.source.endpoint`, or null. */
  readonly replyTo: string | null;
}

export interface HistoryEntry {
  readonly at: Date;
  readonly from: MessageState | null;
  readonly to: MessageState;
  readonly cause: string | null;
}

/** Outcome of trying to take a letter into custody. */
/** What duplicate detection compares (DESIGN §2 step 5). */
export type LetterIdentity = Pick<NewLetter, 'messageHeaderId' | 'sender' | 'bundleIdentifier' | 'contentHash'>;

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
  /** The held letter `accept` would answer as this one's duplicate, without writing anything. */
  findDuplicate(letter: LetterIdentity): Promise<Extract<AcceptOutcome, { kind: 'duplicate' }> | undefined>;
  get(trackingId: TrackingId): Promise<MessageRecord | undefined>;
  /** The letter numbered `sequence` for practice `destination` (at most one: the pair is unique), whatever its state. */
  findBySequence(destination: OdsCode, sequence: number): Promise<MessageRecord | undefined>;
  history(trackingId: TrackingId): Promise<readonly HistoryEntry[]>;
  /** The stored bytes of the letter, exactly as accepted. */
  body(trackingId: TrackingId): Promise<Uint8Array | undefined>;
  list(filter: MessageFilter, now: Date): Promise<MessagePage>;
  /** The acknowledgements received for this letter, oldest first (whatever they did). */
  acks(trackingId: TrackingId): Promise<readonly AckRecord[]>;
  /** The HTTP notifications this letter caused, oldest first, delivered or not. */
  notifications(trackingId: TrackingId): Promise<readonly NotificationRecord[]>;
  /** Open letters per practice and state, and the outbox backlog: what the gauges in /metrics show. */
  deliveryStats(): Promise<DeliveryStats>;
  /** Rejects when the store cannot answer a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Letters of one practice in one non-final state (`escalated` included: it waits for a person). */
export interface OpenLetters {
  readonly destination: OdsCode;
  readonly state: MessageState;
  readonly count: number;
  /** When the oldest of them was accepted. */
  readonly oldestAcceptedAt: Date;
}

export interface DeliveryStats {
  readonly open: readonly OpenLetters[];
  /** Outbox rows not yet confirmed by the broker, by kind. */
  readonly outbox: { readonly dispatch: number; readonly event: number };
}

/** Whether the broker can take publishes now; custody is refused (503) while it cannot. */
export interface BrokerStatus {
  isConnected(): boolean;
  /**
   * True while the broker has blocked publishing on the connection (a disk or
   * memory alarm): publishes wait unconfirmed until it unblocks, so a letter
   * taken now would only swell the outbox.
   */
  isBlocked(): boolean;
}

/** A change decided by the domain's `transition`, to be committed with its outbox work. */
export interface LetterChange {
  readonly state: MessageState;
  readonly attempts: number;
  readonly nextDeadline: Date | null;
  readonly deadlineAt: Date;
  readonly cause: string;
  readonly at: Date;
  /** Publish this attempt number (adds a `dispatch` outbox row). */
  readonly publishAttempt?: number;
  /** HTTP notifications the change calls for (escalation webhook, response to the sender). */
  readonly notifications?: readonly NewNotification[];
  /** Status event to publish (adds an `event` outbox row); absent when the state did not change. */
  readonly event?: { readonly previousState: MessageState; readonly reason: string | null };
}

/** One letter to publish, claimed from the outbox. */
export interface DispatchWork {
  readonly outboxId: number;
  readonly trackingId: TrackingId;
  readonly messageHeaderId: string;
  readonly destination: OdsCode;
  readonly event: string;
  readonly sequence: number;
  readonly attempt: number;
  readonly body: Uint8Array;
}

/** One status event to publish, claimed from the outbox. */
export interface EventWork {
  /** Shared by the events stored in one row: the row is done with when all of them are. */
  readonly outboxId: number;
  readonly routingKey: string;
  readonly body: unknown;
}

/** An acknowledgement as received, for the evidence trail (ack_log). */
export interface AckRecord {
  readonly trackingId: TrackingId | null;
  readonly messageHeaderId: string;
  readonly respondsTo: string;
  readonly practice: string | null;
  readonly code: 'ok' | 'transient-error' | 'fatal-error';
  readonly itkCodes: readonly string[];
  /** What Courier did with it: applied, ignored (and why), refused (and why). */
  readonly outcome: string;
  readonly receivedAt: Date;
}

/** One letter's change, valid only while the letter still has `expectedVersion`. */
export interface VersionedChange {
  readonly trackingId: TrackingId;
  readonly expectedVersion: number;
  readonly change: LetterChange;
}

/**
 * The delivery side of the store: the outbox relay, state changes and acks.
 * Contract: `applyChange` commits the state row, a history entry and its
 * outbox rows in one transaction, and only if the row still has
 * `expectedVersion` (returns false otherwise, changing nothing).
 * `applyChanges` does that for many letters (distinct tracking ids) in one
 * transaction, each change on its own version check: the result says, per
 * change and in order, whether it was committed. `claimOutbox` claims at
 * most `limit` rows (one row may hold several events); claimed rows are
 * invisible to other claimers until `leaseUntil`.
 */
export interface DeliveryStore {
  claimOutbox(limit: number, now: Date, leaseUntil: Date): Promise<{ dispatches: DispatchWork[]; events: EventWork[] }>;
  completeOutbox(ids: readonly number[]): Promise<void>;
  releaseOutbox(ids: readonly number[]): Promise<void>;
  applyChange(trackingId: TrackingId, expectedVersion: number, change: LetterChange): Promise<boolean>;
  applyChanges(changes: readonly VersionedChange[]): Promise<boolean[]>;
  /** The stored letters among `trackingIds` (unknown ids are left out), in no particular order. */
  letters(trackingIds: readonly TrackingId[]): Promise<readonly MessageRecord[]>;
  findByMessageHeaderId(messageHeaderId: string): Promise<MessageRecord | undefined>;
  /** Letters whose `nextDeadline` has passed, oldest deadline first. */
  due(now: Date, limit: number): Promise<readonly MessageRecord[]>;
  recordAck(ack: AckRecord): Promise<void>;
}

/**
 * Durable timers (DESIGN §5): every non-final letter's `nextDeadline` is in
 * the store, so timers survive restarts and a sweeper catches up after
 * downtime. A claimed letter is hidden from other claimers until `leaseUntil`
 * or until released; a claim does not change the letter's version.
 */
export interface TimerStore {
  /** Letters whose `nextDeadline` has passed and that no one else holds, soonest first. */
  claimDue(now: Date, limit: number, leaseUntil: Date): Promise<readonly MessageRecord[]>;
  releaseTimers(trackingIds: readonly TrackingId[]): Promise<void>;
}

export type NotificationKind = 'escalation-webhook' | 'sender-response' | 'practice-alarm-webhook';

/** An HTTP notification to send, written in the transaction that caused it. */
export interface NewNotification {
  readonly kind: NotificationKind;
  /** Where to POST; null means the configured escalation webhook, resolved when sending. */
  readonly url: string | null;
  /** The JSON body: ids, codes, states and times only. */
  readonly payload: unknown;
  readonly practice?: string;
}

export interface PendingNotification {
  readonly id: number;
  readonly kind: NotificationKind;
  readonly url: string | null;
  readonly payload: unknown;
  /** Failed sends so far. */
  readonly attempts: number;
  readonly trackingId: TrackingId | null;
}

/** A notification as the tracking view shows it: what was sent, and whether it arrived. */
export interface NotificationRecord {
  readonly kind: NotificationKind;
  readonly createdAt: Date;
  readonly attempts: number;
  readonly deliveredAt: Date | null;
  readonly lastError: string | null;
  /** When the next try is due (meaningless once delivered). */
  readonly nextAttemptAt: Date;
}

/**
 * Durable HTTP notifications, retried until delivered (never dropped, never
 * silent: failures stay in `attempts` / `lastError` and in the metrics).
 * Claims hide a notification from other senders until `leaseUntil`.
 */
export interface NotificationStore {
  enqueue(notifications: readonly NewNotification[], trackingId: TrackingId | null, at: Date): Promise<void>;
  claimDue(now: Date, limit: number, leaseUntil: Date): Promise<readonly PendingNotification[]>;
  delivered(id: number, at: Date, note?: string): Promise<void>;
  failed(id: number, error: string, retryAt: Date): Promise<void>;
  forLetter(trackingId: TrackingId): Promise<readonly NotificationRecord[]>;
  /** Undelivered notifications per kind, with the age of the oldest. */
  pending(): Promise<readonly { readonly kind: NotificationKind; readonly count: number; readonly oldestCreatedAt: Date }[]>;
}

/** A practice alarm raised or cleared, with the status event and notifications it causes. */
export interface PracticeAlarmChange {
  readonly ods: string;
  readonly at: Date;
  /** Published on `<p>.events` with routing key `<state>.<ods>`: `practice-silent` or `practice-heard`. */
  readonly event: { readonly state: 'practice-silent' | 'practice-heard' } & Record<string, unknown>;
  readonly notifications: readonly NewNotification[];
}

/** What the silent-practice check reads and writes. */
export interface PracticeStore {
  /** Per practice that has letters waiting or has ever acked: what it has waiting, and when it last spoke. */
  activity(): Promise<ReadonlyMap<string, PracticeActivity>>;
  /** Practices whose alarm is up, with when it was raised. */
  activeAlarms(): Promise<ReadonlyMap<string, Date>>;
  /** Raises the alarm and writes its work, unless it is already up; true when this call raised it. */
  raise(change: PracticeAlarmChange): Promise<boolean>;
  /** Clears a raised alarm and writes its work; true when this call cleared it. */
  clear(change: PracticeAlarmChange): Promise<boolean>;
  /** DESIGN §6 reconciliation of one practice's letters (all time). */
  reconciliation(ods: string): Promise<PracticeReconciliation>;
}

export interface PracticeReconciliation {
  /** Accepted for the practice. */
  readonly accepted: number;
  /** Published to it at least once. */
  readonly sent: number;
  /** Its system confirmed receipt (delivered, filed or rejected). */
  readonly delivered: number;
  readonly filed: number;
  readonly rejected: number;
  /** Not in a final state (escalated included). */
  readonly open: number;
  readonly escalated: number;
  /** When the oldest open letter was accepted, or null. */
  readonly oldestOpenAcceptedAt: Date | null;
}

/**
 * What the broker said about one publish. Only `confirmed` means the broker
 * has it; `returned` means no queue took it (unroutable) although a confirm
 * followed; `nacked` and `connection-lost` mean "publish again later".
 */
export type PublishOutcome = 'confirmed' | 'returned' | 'nacked' | 'connection-lost';

export interface OutgoingMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly body: Buffer;
  /** Letters are mandatory (an unroutable letter is a failure); status events are not. */
  readonly mandatory: boolean;
  readonly messageId?: string;
  readonly type?: string;
  readonly contentType: string;
  readonly headers?: Readonly<Record<string, string | number>>;
}

/** Persistent, confirmed publishing with many publishes in flight. */
export interface Publisher {
  publish(message: OutgoingMessage): Promise<PublishOutcome>;
}
