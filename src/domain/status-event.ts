import type { MessageState } from './message-state.js';

/**
 * The status event published on `<prefix>.events` for every state change,
 * acceptance included (DESIGN §3). Ids, codes and times only: no clinical content.
 */
export interface StatusEvent {
  readonly trackingId: string;
  readonly messageHeaderId: string;
  readonly state: MessageState;
  readonly previousState: MessageState | null;
  /** ISO 8601 UTC. */
  readonly at: string;
  readonly reason: string | null;
}

/** An event together with its topic routing key `<state>.<ODS>`. */
export interface RoutedStatusEvent {
  readonly routingKey: string;
  readonly body: StatusEvent;
}

export function statusEvent(
  letter: { readonly trackingId: string; readonly messageHeaderId: string; readonly destination: string },
  state: MessageState,
  previousState: MessageState | null,
  at: Date,
  reason: string | null,
): RoutedStatusEvent {
  return {
    routingKey: `${state}.${letter.destination}`,
    body: { trackingId: letter.trackingId, messageHeaderId: letter.messageHeaderId, state, previousState, at: at.toISOString(), reason },
  };
}
