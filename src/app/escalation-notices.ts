import type { Effect } from '../domain/delivery-events.js';
import { senderResponse } from '../domain/sender-response.js';
import type { MessageRecord, NewNotification } from './ports.js';

export interface NoticePolicy {
  /** Whether an escalation webhook is configured (its URL is resolved when sending). */
  readonly webhook: boolean;
  /** Whether senders with an http(s) `source.endpoint` are sent FHIR responses. */
  readonly notifySenders: boolean;
  /** This Courier as the source of its responses. */
  readonly courierEndpoint: string;
  /** Fresh ids for response messages. */
  readonly newId: () => string;
}

/** The escalation webhook body: ids, codes, states and times only. */
export interface EscalationWebhookBody {
  readonly type: 'letter-escalated';
  readonly trackingId: string;
  readonly messageHeaderId: string;
  readonly destination: string;
  readonly event: string;
  readonly attempts: number;
  readonly reason: string;
  readonly at: string;
  /** Where the letter's tracking view is, relative to Courier's base URL. */
  readonly location: string;
}

/**
 * DESIGN §5 escalation and §4 sender responses: the HTTP notifications a
 * state change's effects call for. `escalate` → the webhook (when
 * configured); `notify-sender` → a FHIR response message to the sender's
 * http(s) endpoint (when the letter has one and it is enabled).
 */
export function noticesFor(effects: readonly Effect[], letter: MessageRecord, attempts: number, at: Date, policy: NoticePolicy): NewNotification[] {
  const notices: NewNotification[] = [];
  for (const effect of effects) {
    if (effect.kind === 'escalate' && policy.webhook) {
      const body: EscalationWebhookBody = {
        type: 'letter-escalated',
        trackingId: letter.trackingId,
        messageHeaderId: letter.messageHeaderId,
        destination: letter.destination,
        event: letter.event,
        attempts,
        reason: effect.reason,
        at: at.toISOString(),
        location: `/api/messages/${letter.trackingId}`,
      };
      notices.push({ kind: 'escalation-webhook', url: null, payload: body, practice: letter.destination });
    }
    if (effect.kind === 'notify-sender' && policy.notifySenders && letter.replyTo !== null) {
      const responseId = policy.newId();
      const payload = senderResponse({
        responseId,
        outcomeId: policy.newId(),
        respondsTo: letter.messageHeaderId,
        outcome: effect.outcome,
        reason: effect.reason,
        at,
        senderEndpoint: letter.replyTo,
        courierEndpoint: policy.courierEndpoint,
      });
      notices.push({ kind: 'sender-response', url: letter.replyTo, payload, practice: letter.destination });
    }
  }
  return notices;
}
