import { BrokerUnavailableError, DuplicateConflictError, MalformedRequestError, ProfileViolationError } from './errors.js';
import type { BrokerStatus, Clock, MessageStore } from './ports.js';
import type { IngestObserver } from './ingest-observer.js';
import type { TrackingId } from '../domain/ids.js';
import type { Bundle, LetterDirectory } from '../domain/letter-rules.js';
import { checkLetter } from '../domain/letter-rules.js';
import { isAckMessage } from '../domain/ack-rules.js';
import type { ValidationIssue } from '../domain/validation-issue.js';
import type { Logger } from '../platform/logger.js';

/**
 * Turns raw bytes into a schema-valid R4 Bundle or says why not (400): strict
 * JSON (no duplicate keys, bounded depth) then the HL7 R4 JSON schema.
 */
export interface BundleParser {
  parse(body: Uint8Array): { ok: true; bundle: Bundle } | { ok: false; issues: ValidationIssue[] };
}

export interface ReceiveMessageDeps {
  readonly directory: LetterDirectory;
  readonly store: MessageStore;
  readonly broker: BrokerStatus;
  readonly clock: Clock;
  readonly newTrackingId: () => TrackingId;
  /** Milliseconds from acceptance to the filing deadline, by event code. */
  readonly deadlines: Readonly<Record<string, number>>;
  readonly observer: IngestObserver;
  readonly logger: Logger;
}

export type ReceiveResult =
  | { readonly kind: 'accepted'; readonly trackingId: TrackingId }
  | { readonly kind: 'duplicate'; readonly trackingId: TrackingId }
  | { readonly kind: 'ack'; readonly applied: boolean; readonly outcome: string };

/**
 * `$process-message` (DESIGN §2 and §4): parse and schema-check once, then a
 * message whose MessageHeader carries `response` is an acknowledgement and
 * everything else a letter.
 */
export function processMessage(deps: {
  readonly parser: BundleParser;
  readonly letter: (body: Uint8Array, bundle: Bundle, startedAt: number) => Promise<ReceiveResult>;
  readonly ack: (bundle: Bundle) => Promise<ReceiveResult>;
}): (body: Uint8Array) => Promise<ReceiveResult> {
  return async (body) => {
    const startedAt = performance.now();
    const parsed = deps.parser.parse(body);
    if (!parsed.ok) throw new MalformedRequestError('The body is not a valid FHIR R4 Bundle', parsed.issues);
    return isAckMessage(parsed.bundle) ? deps.ack(parsed.bundle) : deps.letter(body, parsed.bundle, startedAt);
  };
}

/**
 * DESIGN §2: validate, dedupe and take custody of one letter. Custody means
 * the letter, its state row, its history entry and its outbox rows are
 * committed in one transaction; only then does this resolve `accepted`.
 * Every refusal throws a CourierError and leaves the store unchanged.
 */
export function receiveMessage(deps: ReceiveMessageDeps): (body: Uint8Array, bundle: Bundle, startedAt: number) => Promise<ReceiveResult> {
  return async (body, bundle, started) => {
    const checked = checkLetter(bundle, deps.directory);
    deps.observer.validated((performance.now() - started) / 1000);
    if (!checked.ok) {
      throw new ProfileViolationError(checked.issues);
    }
    const facts = checked.facts;
    const deadlineMs = deps.deadlines[facts.event];
    if (deadlineMs === undefined) throw new Error(`No deadline configured for supported event ${facts.event}`);
    const acceptedAt = deps.clock.now();
    // Duplicates are answered before the broker check (DESIGN §2: step 5 before 6): a resend
    // of a letter already held is answered 200 even while the broker is away or blocked, so the sender stops.
    const outcome = deps.broker.isConnected() && !deps.broker.isBlocked()
      ? await deps.store.accept({ ...facts, trackingId: deps.newTrackingId(), body, acceptedAt, deadlineAt: new Date(acceptedAt.getTime() + deadlineMs) })
      : await deps.store.findDuplicate(facts);
    if (outcome === undefined) throw new BrokerUnavailableError();
    const log = deps.logger.child({ messageHeaderId: facts.messageHeaderId, ods: facts.destination, event: facts.event });
    if (outcome.kind === 'accepted') {
      deps.observer.accepted(facts.event);
      log.info('letter accepted', { trackingId: outcome.record.trackingId, sequence: outcome.record.sequence });
      return { kind: 'accepted', trackingId: outcome.record.trackingId };
    }
    if (!outcome.sameContent) {
      log.warn('duplicate MessageHeader.id with different content refused', { trackingId: outcome.trackingId });
      throw new DuplicateConflictError(outcome.trackingId);
    }
    deps.observer.duplicate();
    log.info('duplicate letter acknowledged without resending', { trackingId: outcome.trackingId });
    return { kind: 'duplicate', trackingId: outcome.trackingId };
  };
}
