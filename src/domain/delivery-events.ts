import type { MessageState } from './message-state.js';
import type { BackoffPolicy } from './retry-policy.js';

/**
 * Everything that can happen to a letter after acceptance, as input to
 * `transition()` (DESIGN §4, §5). Events say what happened, never what to do
 * about it: the decision is the state machine's.
 *
 * Reasons and causes are Courier-written text, ITK codes or an operator's
 * note: they go into history and onto `courier.events`, so callers must never
 * put clinical content (NHS numbers, names, letter text) into them.
 * Operator events (`retry`, `cancel`, `resolve`) carry the person's note as
 * `reason` and who they are as `actor` (an operator identifier such as
 * `jsmith@trust`); both go into the history cause and the status event.
 * `resend-requested` carries the same two from the practice's connector.
 */
export type DeliveryEvent =
  /** The broker confirmed attempt `attempt` and did not return it. */
  | { readonly kind: 'published'; readonly attempt: number }
  /**
   * Attempt `attempt` did not count: the broker returned it as unroutable
   * (mandatory publish with no queue bound for the practice) or nacked it.
   */
  | { readonly kind: 'publish-failed'; readonly attempt: number; readonly failure: PublishFailure }
  /** `ok` + 20013: the practice system received the letter. */
  | { readonly kind: 'infrastructure-ack' }
  /** `ok` + 30001/30004, or `ok` without an ITK code: filed in the patient record. */
  | { readonly kind: 'business-ack' }
  /** `fatal-error` or a negative ITK code: the practice refuses the letter. */
  | { readonly kind: 'rejected'; readonly reason: string }
  /** `transient-error`: the practice asks to try again later. */
  | { readonly kind: 'transient-error'; readonly reason: string }
  /** Timer: no infrastructure ack by `nextDeadline` in `dispatched`. */
  | { readonly kind: 'ack-timeout' }
  /** Timer: the backoff ended (`nextDeadline` reached in `retrying`). */
  | { readonly kind: 'retry-due' }
  /** Timer: the filing deadline (`deadlineAt`) has passed. */
  | { readonly kind: 'deadline-passed' }
  /**
   * The broker dead-lettered a copy of the letter; `brokerReason` is its
   * `x-first-death-reason` (`delivery_limit`, `rejected`, `expired`, …) when known.
   */
  | { readonly kind: 'dead-lettered'; readonly brokerReason?: string }
  /** A person asked for another attempt now. */
  | { readonly kind: 'retry'; readonly reason: string; readonly actor: string }
  /** A person withdrew the letter (e.g. sent in error). */
  | { readonly kind: 'cancel'; readonly reason: string; readonly actor: string }
  /** A person closed the letter by other means (e.g. sent on paper, confirmed by phone). */
  | { readonly kind: 'resolve'; readonly reason: string; readonly actor: string }
  /**
   * The practice's connector asks for the letter again: its
   * `x-courier-sequence` stayed missing. `actor` names the connector (or
   * the person behind it), `reason` says why (e.g. `sequence 41 missing for 10 minutes`).
   */
  | { readonly kind: 'resend-requested'; readonly reason: string; readonly actor: string };

export type DeliveryEventKind = DeliveryEvent['kind'];

/** One entry per event kind: a kind added to `DeliveryEvent` but not here (or listed here but not there) is a compile error. */
const EVENT_KINDS: { readonly [K in DeliveryEventKind]: null } = {
  published: null,
  'publish-failed': null,
  'infrastructure-ack': null,
  'business-ack': null,
  rejected: null,
  'transient-error': null,
  'ack-timeout': null,
  'retry-due': null,
  'deadline-passed': null,
  'dead-lettered': null,
  retry: null,
  cancel: null,
  resolve: null,
  'resend-requested': null,
};

/** Every event kind, for code and tests that must enumerate them (the state diagram, the state × event matrix). */
export const DELIVERY_EVENT_KINDS = Object.freeze(Object.keys(EVENT_KINDS)) as readonly DeliveryEventKind[];

/** `unroutable`: returned by the broker; `nacked`: negatively confirmed. */
export type PublishFailure = 'unroutable' | 'nacked';

/** The events an acknowledgement can turn into (see ack-mapping.ts). */
export type AckEvent = Extract<DeliveryEvent, { kind: 'infrastructure-ack' | 'business-ack' | 'rejected' | 'transient-error' }>;

/** What the state machine needs to know about a stored letter. */
export interface LetterSnapshot {
  readonly state: MessageState;
  /** Broker-confirmed publish attempts so far (0 before the first). */
  readonly attempts: number;
  /** When the letter was accepted: the start of its filing window. */
  readonly acceptedAt: Date;
  /** The filing deadline: `deadlines.<eventCode>` after acceptance, unless renewed by an operator retry. */
  readonly deadlineAt: Date;
  /**
   * The letter's filing window (`deadlines.<eventCode>`), in milliseconds: what
   * an operator retry gives it afresh. When absent it is taken as
   * `deadlineAt − acceptedAt`, which is right only until a first operator retry
   * has moved `deadlineAt`: every later retry would then get a longer window.
   */
  readonly filingWindowMs?: number;
  /** When the letter must next move on; null in final states and in `escalated`. */
  readonly nextDeadline: Date | null;
}

/** Delivery settings (`delivery.*` in config), in milliseconds. */
export interface DeliveryPolicy {
  readonly infrastructureAckTimeoutMs: number;
  readonly backoff: BackoffPolicy;
  readonly maxAttempts: number;
}

/** Work the app layer must carry out after storing a change, in order. */
export type Effect =
  /** Publish the letter as attempt `attempt` (same MessageHeader.id, same sequence). */
  | { readonly kind: 'publish'; readonly attempt: number }
  /** Publish a status event on `<prefix>.events` (every change of state has exactly one). */
  | { readonly kind: 'emit-event'; readonly from: MessageState; readonly to: MessageState; readonly reason: string }
  /** Put the letter in front of a person: webhook and work list. */
  | { readonly kind: 'escalate'; readonly reason: string }
  /** Tell the sending trust the letter did not get through. */
  | { readonly kind: 'notify-sender'; readonly outcome: 'rejected' | 'escalated'; readonly reason: string };

export type TransitionResult =
  /**
   * The stored letter changes. `state` may equal the current state (a retry
   * being published, a nacked publish rescheduled): then there is no
   * `emit-event` effect, since nothing an observer tracks has changed.
   */
  | {
      readonly kind: 'changed';
      readonly state: MessageState;
      readonly attempts: number;
      readonly deadlineAt: Date;
      readonly nextDeadline: Date | null;
      /** For history and logs: why the letter moved. */
      readonly cause: string;
      readonly effects: readonly Effect[];
    }
  /** The event is legal but changes nothing (late, duplicate, stale or not applicable); record it with `reason`. */
  | { readonly kind: 'ignored'; readonly reason: string };
