import type { DeliveryEvent, LetterSnapshot } from './delivery-events.js';
import { isFinalState } from './message-state.js';

export type TimerEvent = Extract<DeliveryEvent, { kind: 'ack-timeout' | 'retry-due' | 'deadline-passed' }>;

/**
 * The timer event due for a letter at `now`, or undefined when none is.
 * The filing deadline comes first: past `deadlineAt` the answer is always
 * `deadline-passed`, whatever else is pending (DESIGN §5: "the deadline wins
 * over pending retries"). Otherwise `nextDeadline` means the ack timeout in
 * `dispatched` and the end of the backoff in `retrying`; `received` and
 * `delivered` wait for the filing deadline only. Final letters and `escalated` ones
 * (waiting for a person) have no timers.
 */
export function dueTimerEvent(letter: LetterSnapshot, now: Date): TimerEvent | undefined {
  if (isFinalState(letter.state) || letter.state === 'escalated') return undefined;
  if (now.getTime() >= letter.deadlineAt.getTime()) return { kind: 'deadline-passed' };
  if (letter.nextDeadline === null || now.getTime() < letter.nextDeadline.getTime()) return undefined;
  if (letter.state === 'dispatched') return { kind: 'ack-timeout' };
  if (letter.state === 'retrying') return { kind: 'retry-due' };
  return undefined; // received / delivered wait for the filing deadline only
}
