/**
 * The states a letter can be in (DESIGN §5). Final states never change again;
 * `escalated` is not final but waits for a person, so it has no deadline.
 */
export const MESSAGE_STATES = [
  'received',
  'dispatched',
  'delivered',
  'filed',
  'retrying',
  'rejected',
  'escalated',
  'cancelled',
  'resolved',
] as const;

export type MessageState = (typeof MESSAGE_STATES)[number];

const FINAL: ReadonlySet<MessageState> = new Set<MessageState>(['filed', 'rejected', 'cancelled', 'resolved']);

export function isMessageState(value: string): value is MessageState {
  return (MESSAGE_STATES as readonly string[]).includes(value);
}

export function isFinalState(state: MessageState): boolean {
  return FINAL.has(state);
}

/** States that carry a deadline: everything not final and not waiting for a person. */
export function hasDeadline(state: MessageState): boolean {
  return !FINAL.has(state) && state !== 'escalated';
}
