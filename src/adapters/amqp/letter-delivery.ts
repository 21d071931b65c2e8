import type { LetterForSink } from '../../app/connector/ports.js';
import type { Delivery } from './consumer.js';

/**
 * Reads a letter off a practice queue (DESIGN §3 delivery properties), or
 * says why it cannot be one. Only `messageId` is required: it is the
 * MessageHeader.id exactly-once filing is keyed on.
 */
export function letterFromDelivery(practice: string, delivery: Delivery): { ok: true; letter: LetterForSink } | { ok: false; reason: string } {
  const messageId: unknown = delivery.properties.messageId;
  if (typeof messageId !== 'string' || messageId === '') return { ok: false, reason: 'no messageId (MessageHeader.id) property' };
  const headers = delivery.properties.headers ?? {};
  const sequence: unknown = headers['x-courier-sequence'];
  const trackingId: unknown = headers['x-courier-tracking-id'];
  const type: unknown = delivery.properties.type;
  return {
    ok: true,
    letter: {
      practice,
      messageHeaderId: messageId,
      trackingId: typeof trackingId === 'string' ? trackingId : undefined,
      sequence: typeof sequence === 'number' && Number.isSafeInteger(sequence) && sequence >= 1 ? sequence : undefined,
      eventCode: typeof type === 'string' ? type : undefined,
      body: delivery.content,
    },
  };
}
