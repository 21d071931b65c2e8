import type { AckEvent } from '../domain/delivery-events.js';
import type { MessageState } from '../domain/message-state.js';
import type { PublishOutcome } from './ports.js';

/** What an acknowledgement meant: the event it maps to, or `unrecognised` (an ok with unknown ITK codes). */
export type AckKind = AckEvent['kind'] | 'unrecognised';

/**
 * What became of an acknowledgement: `applied` changed the letter; `no-effect`
 * (a repeat, a late infrastructure ack, an unrecognised code); `refused` (not
 * from the letter's practice); `unknown-letter` (no letter has that id).
 */
export type AckResult = 'applied' | 'no-effect' | 'refused' | 'unknown-letter';

/** What the delivery side reports for metrics; the Prometheus adapter implements it. Codes only. */
export interface DeliveryObserver {
  /** One publish answered by the broker, with the time from publish to its answer. */
  published(what: 'letter' | 'status-event', outcome: PublishOutcome, seconds: number): void;
  /** A letter's state changed (committed). */
  stateChanged(to: MessageState): void;
  acknowledged(kind: AckKind, result: AckResult): void;
}

