import type { SequenceState } from '../../domain/sequence-gaps.js';
import type { ConnectorAck, SinkResult } from '../../domain/sink-outcome.js';

/** One letter as the connector took it off `<prefix>.gp.<ODS>` (DESIGN §3 delivery properties). */
export interface LetterForSink {
  /** The practice's ODS code (the queue it came from). */
  readonly practice: string;
  /** `MessageHeader.id` (the AMQP `messageId`): the key of exactly-once filing. */
  readonly messageHeaderId: string;
  /** `x-courier-tracking-id`, when present. */
  readonly trackingId: string | undefined;
  /** `x-courier-sequence`, when present. */
  readonly sequence: number | undefined;
  /** The AMQP `type`: the ITK event code, e.g. `ITK007D`. */
  readonly eventCode: string | undefined;
  /** The FHIR message Bundle, the bytes exactly as delivered. */
  readonly body: Buffer;
}

/**
 * Where a practice's letters go: a FHIR endpoint or a folder. Contract:
 * - `handOver` never throws for a failure of the practice system (unreachable,
 *   timed out, disk full): it answers `no-answer`, and the connector retries.
 * - It is idempotent per `messageHeaderId`: after a crash the connector may
 *   hand over a letter again without knowing whether the first hand-over
 *   happened, and the practice system must still hold one copy (a folder sink
 *   checks for the files; a FHIR sink relies on conditional create or on
 *   FHIR reliable messaging, where a receiver dedupes on the message id).
 */
export interface LetterSink {
  handOver(letter: LetterForSink): Promise<SinkResult>;
}

/** The practice system's later word on a letter it took: filed in the record, or refused. */
export interface FilingOutcome {
  readonly practice: string;
  readonly messageHeaderId: string;
  readonly outcome: 'filed' | 'rejected';
}

/**
 * Reports filing outcomes that come after the hand-over (a folder sink: the
 * practice system moves the files into `filed/` or `rejected/`). Every outcome
 * is reported at least once per process run; the connector ignores repeats.
 */
export interface FilingWatcher {
  /** Starts watching; `onOutcome` is awaited, one outcome at a time, and a rejection is retried on the next scan. */
  start(onOutcome: (outcome: FilingOutcome) => Promise<void>): void;
  /** Stops watching and waits for a running scan. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Where a letter stands in the connector's own inbox (keyed by MessageHeader.id):
 * - `handing-over`: about to be, or being, handed to the sink. Found after a
 *   restart it means "in doubt": the sink may have it; hand over again
 *   (sinks are idempotent).
 * - `received`: the sink took it and `20013` was sent; a folder sink's
 *   business ack is still to come.
 * - `filed` / `rejected`: the practice system's last word was sent.
 * - `handed-back`: reported `transient-error` after the retry limit; a
 *   redelivery (Courier's next attempt) is handed over afresh.
 */
export type InboxStatus = 'handing-over' | 'received' | 'filed' | 'rejected' | 'handed-back';

export interface InboxEntry {
  readonly messageHeaderId: string;
  readonly practice: string;
  readonly status: InboxStatus;
  /** Hand-overs to the sink so far, across restarts. */
  readonly handOvers: number;
  /** Every ack sent for the letter, in order; a redelivery of a settled letter gets them again. */
  readonly acks: readonly ConnectorAck[];
}

/** The connector's durable inbox and sequence book-keeping (PGlite or PostgreSQL). */
export interface ConnectorInbox {
  find(messageHeaderId: string): Promise<InboxEntry | undefined>;
  /** Write-ahead before a hand-over: creates the entry or moves it to `handing-over`, counting the hand-over. */
  beginHandOver(letter: LetterForSink, at: Date): Promise<InboxEntry>;
  /** Records the outcome and appends the acks about to be sent. */
  settle(messageHeaderId: string, status: Exclude<InboxStatus, 'handing-over'>, acks: readonly ConnectorAck[], at: Date): Promise<void>;
  /** The sequence state per practice, as last saved (missing practices have none). */
  loadSequences(): Promise<Map<string, SequenceState>>;
  /** Saves a practice's new sequence state, given the one it replaces (only the difference is written). */
  saveSequence(practice: string, before: SequenceState | undefined, after: SequenceState): Promise<void>;
  /** Gap numbers already reported, per practice. */
  reportedGaps(practice: string): Promise<Set<number>>;
  markGapReported(practice: string, sequence: number, at: Date): Promise<void>;
  close(): Promise<void>;
}

/** Publishes a practice's acks for a letter to Courier and resolves once the broker confirmed every one; rejects with AckNotConfirmedError when it could not. */
export interface AckSender {
  send(practice: string, respondsTo: string, acks: readonly ConnectorAck[]): Promise<void>;
}

/** Asks Courier to publish a letter again (`POST /api/practices/{ods}/resend`). */
export interface ResendRequester {
  requestResend(practice: string, sequence: number, reason: string): Promise<ResendAnswer>;
}

export type ResendAnswer =
  | { readonly kind: 'answered'; readonly resent: boolean; readonly state: string; readonly trackingId: string }
  | { readonly kind: 'unknown-sequence' }
  /** Courier could not be reached or refused the request; ask again later. */
  | { readonly kind: 'failed'; readonly reason: string };

/** Tells the world a gap stayed open (`courier.events`, routing key `sequence-gap.<ODS>`). */
export interface GapReporter {
  reportGap(practice: string, sequence: number, noticedAt: Date, at: Date): Promise<void>;
}

/** The broker did not confirm an ack (or gap event) after the sender's tries: a broker outage, not a fault of the letter. */
export class AckNotConfirmedError extends Error {
  override readonly name = 'AckNotConfirmedError';
}
