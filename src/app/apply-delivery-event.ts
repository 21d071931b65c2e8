import type { DeliveryEvent, DeliveryPolicy, LetterSnapshot, TransitionResult } from '../domain/delivery-events.js';
import type { TrackingId } from '../domain/ids.js';
import { transition } from '../domain/transition.js';
import type { Logger } from '../platform/logger.js';
import type { DeliveryObserver } from './delivery-observer.js';
import { noticesFor, type NoticePolicy } from './escalation-notices.js';
import type { Clock, DeliveryStore, MessageRecord, MessageStore } from './ports.js';

export interface ApplyDeliveryEventDeps {
  readonly messages: MessageStore;
  readonly delivery: DeliveryStore;
  readonly policy: DeliveryPolicy;
  /** `deadlines.<event>` in milliseconds: each event's filing window. */
  readonly filingWindows: Readonly<Record<string, number>>;
  readonly clock: Clock;
  /** A number in [0, 1) for backoff jitter; injected so tests can fix it. */
  readonly random: () => number;
  readonly observer: DeliveryObserver;
  /** Which HTTP notifications escalations and rejections call for. */
  readonly notices: NoticePolicy;
  /** Called after a change that queued notifications committed (to wake their sender). */
  readonly onNotificationsQueued?: () => void;
  readonly logger: Logger;
}

export type ApplyDeliveryEvent = (trackingId: TrackingId, event: DeliveryEvent) => Promise<TransitionResult | undefined>;

/**
 * What the state machine sees of a stored letter. `filingWindowMs` is the
 * configured time from acceptance to filed for its event (an operator retry
 * gives the letter that window again); without it the domain falls back to
 * the letter's own `deadlineAt − acceptedAt`.
 */
export function letterSnapshot(record: MessageRecord, filingWindowMs?: number): LetterSnapshot {
  return {
    state: record.state,
    attempts: record.attempts,
    acceptedAt: record.createdAt,
    deadlineAt: record.deadlineAt,
    nextDeadline: record.nextDeadline,
    ...(filingWindowMs === undefined ? {} : { filingWindowMs }),
  };
}

/** Optimistic updates lose only to a concurrent change of the same letter; a few tries always suffice. */
const MAX_TRIES = 5;

/**
 * Loads a letter, asks the pure state machine what `event` does to it, and
 * commits the change with its outbox work (status event, next publish) and
 * HTTP notifications (escalation webhook, response to the sender) in one
 * transaction guarded by the row version. Idempotent: a repeated event
 * is `ignored` by the state machine. Resolves undefined for unknown letters.
 */
export function applyDeliveryEvent(deps: ApplyDeliveryEventDeps): ApplyDeliveryEvent {
  return async (trackingId, event) => {
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      const record = await deps.messages.get(trackingId);
      if (record === undefined) return undefined;
      const now = deps.clock.now();
      const snapshot = letterSnapshot(record, deps.filingWindows[record.event]);
      const result = transition(snapshot, event, now, deps.policy, deps.random());
      if (result.kind === 'ignored') return result;
      const publish = result.effects.find((e) => e.kind === 'publish');
      const emit = result.effects.find((e) => e.kind === 'emit-event');
      const notifications = noticesFor(result.effects, record, result.attempts, now, deps.notices);
      const committed = await deps.delivery.applyChange(trackingId, record.version, {
        state: result.state,
        attempts: result.attempts,
        nextDeadline: result.nextDeadline,
        deadlineAt: result.deadlineAt,
        cause: result.cause,
        at: now,
        ...(publish === undefined ? {} : { publishAttempt: publish.attempt }),
        ...(emit === undefined ? {} : { event: { previousState: emit.from, reason: emit.reason } }),
        ...(notifications.length === 0 ? {} : { notifications }),
      });
      if (committed) {
        if (emit !== undefined) {
          deps.observer.stateChanged(emit.to);
          deps.logger.info('letter state changed', { trackingId, ods: record.destination, state: emit.to, previousState: emit.from, event: event.kind });
        }
        if (notifications.length > 0) deps.onNotificationsQueued?.();
        return result;
      }
    }
    throw new Error(`Letter ${trackingId} kept changing under ${MAX_TRIES} attempts to apply ${event.kind}`);
  };
}
