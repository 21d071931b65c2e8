/**
 * Shared fixtures for the state machine tests: one letter accepted at T0 with a
 * 24 h filing deadline, the default-like delivery policy, and helpers that
 * replay events the way the app layer will (apply each change to the snapshot).
 */
import type { DeliveryEvent, DeliveryPolicy, Effect, LetterSnapshot, TransitionResult } from '../../src/domain/delivery-events.js';
import type { MessageState } from '../../src/domain/message-state.js';
import { transition } from '../../src/domain/transition.js';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

export const T0 = new Date('2025-03-01T09:00:00.000Z');
export const at = (base: Date, ms: number) => new Date(base.getTime() + ms);
/** Filing deadline of the matrix letters: 24 h after acceptance (ITK003D). */
export const DL = at(T0, 24 * HOUR);
/** When the matrix events happen: an hour after acceptance, well before the deadline. */
export const NOW = at(T0, HOUR);
/** When `deadline-passed` is delivered in the matrix. */
export const AFTER_DL = at(DL, SECOND);

export const POLICY: DeliveryPolicy = {
  infrastructureAckTimeoutMs: 10 * MINUTE,
  backoff: { initialMs: MINUTE, maxMs: HOUR },
  maxAttempts: 5,
};
/** With random 0.5, equal jitter gives 3/4 of the step: attempt 1 → 45 s, 2 → 90 s, 3 → 180 s. */
export const RANDOM = 0.5;

export function snapshot(state: MessageState, attempts: number, nextDeadline: Date | null, deadlineAt = DL): LetterSnapshot {
  return { state, attempts, acceptedAt: T0, deadlineAt, nextDeadline };
}

export const COLUMNS = [
  'published',
  'publish-failed unroutable',
  'publish-failed nacked',
  'infrastructure-ack',
  'business-ack',
  'rejected',
  'transient-error',
  'ack-timeout',
  'retry-due',
  'deadline-passed',
  'dead-lettered',
  'retry',
  'cancel',
  'resolve',
  'resend-requested',
] as const;
export type Column = (typeof COLUMNS)[number];

/** The event of a column for a letter: publish events name the pending attempt (attempts + 1). */
export function eventFor(column: Column, letter: LetterSnapshot): { event: DeliveryEvent; now: Date } {
  const next = letter.attempts + 1;
  const events: Record<Column, DeliveryEvent> = {
    published: { kind: 'published', attempt: next },
    'publish-failed unroutable': { kind: 'publish-failed', attempt: next, failure: 'unroutable' },
    'publish-failed nacked': { kind: 'publish-failed', attempt: next, failure: 'nacked' },
    'infrastructure-ack': { kind: 'infrastructure-ack' },
    'business-ack': { kind: 'business-ack' },
    rejected: { kind: 'rejected', reason: 'fatal-error: 30002 Patient not known here' },
    'transient-error': { kind: 'transient-error', reason: 'transient-error without an ITK response code' },
    'ack-timeout': { kind: 'ack-timeout' },
    'retry-due': { kind: 'retry-due' },
    'deadline-passed': { kind: 'deadline-passed' },
    'dead-lettered': { kind: 'dead-lettered' },
    retry: { kind: 'retry', reason: 'practice system back up', actor: 'jsmith@trust' },
    cancel: { kind: 'cancel', reason: 'sent in error', actor: 'jsmith@trust' },
    resolve: { kind: 'resolve', reason: 'sent on paper', actor: 'jsmith@trust' },
    'resend-requested': { kind: 'resend-requested', reason: 'sequence 41 missing for 10 minutes', actor: 'connector-a81001' },
  };
  return { event: events[column], now: column === 'deadline-passed' ? AFTER_DL : NOW };
}

export function summarise(effect: Effect): string {
  switch (effect.kind) {
    case 'publish':
      return `publish:${effect.attempt}`;
    case 'notify-sender':
      return `notify-sender:${effect.outcome}`;
    default:
      return effect.kind;
  }
}

export function changed(result: TransitionResult) {
  if (result.kind !== 'changed') throw new Error(`expected a change, got ignored (${result.reason})`);
  return result;
}

/** Applies a change to a snapshot, as the store would. */
export function apply(letter: LetterSnapshot, result: TransitionResult): LetterSnapshot {
  if (result.kind === 'ignored') return letter;
  return { ...letter, state: result.state, attempts: result.attempts, deadlineAt: result.deadlineAt, nextDeadline: result.nextDeadline };
}

/** Runs events in order, each at its own time, and returns every result and the final snapshot. */
export function run(start: LetterSnapshot, steps: readonly (readonly [DeliveryEvent, Date])[]) {
  let letter = start;
  const results: TransitionResult[] = [];
  for (const [event, now] of steps) {
    const result = transition(letter, event, now, POLICY, RANDOM);
    results.push(result);
    letter = apply(letter, result);
  }
  return { letter, results };
}

