import { checkAck, type AckFacts } from '../domain/ack-rules.js';
import { mapAck } from '../domain/ack-mapping.js';
import type { OdsCode, TrackingId } from '../domain/ids.js';
import type { Bundle } from '../domain/letter-rules.js';
import type { Logger } from '../platform/logger.js';
import type { ApplyDeliveryEvent } from './apply-delivery-event.js';
import type { AckKind, AckResult, DeliveryObserver } from './delivery-observer.js';
import { ProfileViolationError } from './errors.js';
import type { Clock, DeliveryStore } from './ports.js';
import type { PublishesInFlight } from './publishes-in-flight.js';

/** What happened to an acknowledgement; every ack is recorded whatever the outcome. */
export interface AckOutcome {
  readonly applied: boolean;
  readonly result: AckResult;
  /** For the ack log and the answer: ids, codes and states only. */
  readonly outcome: string;
}

/**
 * Who the transport says sent an ack: the practice (AMQP routing key, HTTP
 * sender), and `refusal` when the transport's own evidence contradicts it
 * (e.g. a broker `user_id` that is not the practice's configured user).
 */
export interface AckSender {
  readonly ods: OdsCode | null;
  readonly refusal?: string;
}

export type ReceiveAck = (bundle: Bundle, senderOf: (facts: AckFacts) => AckSender) => Promise<AckOutcome>;

export interface ReceiveAckDeps {
  readonly delivery: DeliveryStore;
  readonly apply: ApplyDeliveryEvent;
  readonly clock: Clock;
  readonly observer: DeliveryObserver;
  /** An ack for a letter this instance is still publishing waits for that publish to settle (see PublishesInFlight). */
  readonly inFlight?: PublishesInFlight;
  readonly logger: Logger;
}

/**
 * DESIGN §4: apply one acknowledgement. The sender must be the letter's
 * destination practice. Acks for unknown letters, from the wrong or an
 * unproven practice, unrecognised or repeated change nothing and are
 * recorded. Malformed acks throw (422) and are not recorded: they carry no
 * ids to trust.
 */
export function receiveAck(deps: ReceiveAckDeps): ReceiveAck {
  return async (bundle, senderOf) => {
    const checked = checkAck(bundle);
    if (!checked.ok) throw new ProfileViolationError(checked.issues);
    const ack = checked.ack;
    const sender = senderOf(ack);
    const letter = await deps.delivery.findByMessageHeaderId(ack.respondsTo);
    if (letter !== undefined) await deps.inFlight?.settled(letter.trackingId);
    const mapped = mapAck(ack);
    const kind: AckKind = mapped.kind === 'event' ? mapped.event.kind : 'unrecognised';
    const outcome = await decide(deps, sender, mapped, letter?.destination, letter?.trackingId);
    await deps.delivery.recordAck({
      trackingId: letter?.trackingId ?? null,
      messageHeaderId: ack.messageHeaderId,
      respondsTo: ack.respondsTo,
      practice: sender.ods,
      code: ack.code,
      itkCodes: ack.itkCodes.slice(0, 20),
      outcome: outcome.outcome,
      receivedAt: deps.clock.now(),
    });
    deps.observer.acknowledged(kind, outcome.result);
    // Every ack is in the ack log; applied ones at debug, the rest (refused, unknown, repeated) at info.
    deps.logger[outcome.result === 'applied' ? 'debug' : 'info']('acknowledgement received', {
      messageHeaderId: ack.messageHeaderId,
      ...(letter ? { trackingId: letter.trackingId } : {}),
      ...(sender.ods ? { ods: sender.ods } : {}),
      reason: outcome.outcome,
    });
    return outcome;
  };
}

async function decide(
  deps: ReceiveAckDeps,
  sender: AckSender,
  mapped: ReturnType<typeof mapAck>,
  destination: OdsCode | undefined,
  trackingId: TrackingId | undefined,
): Promise<AckOutcome> {
  if (trackingId === undefined || destination === undefined) return noEffect('unknown-letter', 'no letter with that MessageHeader.id');
  if (sender.refusal !== undefined) return { applied: false, result: 'refused', outcome: `refused: ${sender.refusal}` };
  if (sender.ods !== destination) return { applied: false, result: 'refused', outcome: 'refused: the acknowledging practice is not the letter destination' };
  if (mapped.kind === 'unrecognised') return noEffect('no-effect', mapped.reason);
  const result = await deps.apply(trackingId, mapped.event);
  if (result === undefined) return noEffect('unknown-letter', 'letter not found');
  if (result.kind === 'ignored') return noEffect('no-effect', result.reason);
  return { applied: true, result: 'applied', outcome: `applied: ${result.state}` };
}

function noEffect(result: AckResult, reason: string): AckOutcome {
  return { applied: false, result, outcome: `recorded without effect: ${reason}` };
}
