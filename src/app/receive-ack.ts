import { checkAck, type AckFacts } from '../domain/ack-rules.js';
import { mapAck } from '../domain/ack-mapping.js';
import type { OdsCode } from '../domain/ids.js';
import type { Logger } from '../platform/logger.js';
import type { ApplyDeliveryEvent } from './apply-delivery-event.js';
import { ProfileViolationError } from './errors.js';
import type { Bundle } from '../domain/letter-rules.js';
import type { Clock, DeliveryStore } from './ports.js';

/** What happened to an acknowledgement; every ack is recorded whatever the outcome. */
export interface AckOutcome {
  readonly applied: boolean;
  /** For the ack log and the answer: ids, codes and states only. */
  readonly outcome: string;
}

export interface ReceiveAckDeps {
  readonly delivery: DeliveryStore;
  readonly apply: ApplyDeliveryEvent;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * DESIGN §4: apply one acknowledgement. `practice` is who the transport says
 * sent it (the AMQP routing key / broker user, or the HTTP sender); it must
 * be the letter's destination. Acks for unknown letters, from the wrong
 * practice, unrecognised or repeated change nothing and are recorded.
 * Malformed acks throw (422) and are not recorded: they carry no ids to trust.
 */
export function receiveAck(deps: ReceiveAckDeps): (bundle: Bundle, practice: (facts: AckFacts) => OdsCode | null) => Promise<AckOutcome> {
  return async (bundle, practiceOf) => {
    const checked = checkAck(bundle);
    if (!checked.ok) throw new ProfileViolationError(checked.issues);
    const ack = checked.ack;
    const practice = practiceOf(ack);
    const letter = await deps.delivery.findByMessageHeaderId(ack.respondsTo);
    const result = await decide(deps, ack, practice, letter?.destination, letter?.trackingId);
    await deps.delivery.recordAck({
      trackingId: letter?.trackingId ?? null,
      messageHeaderId: ack.messageHeaderId,
      respondsTo: ack.respondsTo,
      practice,
      code: ack.code,
      itkCodes: ack.itkCodes.slice(0, 20),
      outcome: result.outcome,
      receivedAt: deps.clock.now(),
    });
    deps.logger.info('acknowledgement received', { messageHeaderId: ack.messageHeaderId, ...(letter ? { trackingId: letter.trackingId } : {}), ...(practice ? { ods: practice } : {}), reason: result.outcome });
    return result;
  };
}

async function decide(deps: ReceiveAckDeps, ack: AckFacts, practice: OdsCode | null, destination: OdsCode | undefined, trackingId: Parameters<ApplyDeliveryEvent>[0] | undefined): Promise<AckOutcome> {
  if (trackingId === undefined || destination === undefined) return { applied: false, outcome: 'recorded without effect: no letter with that MessageHeader.id' };
  if (practice !== destination) return { applied: false, outcome: 'refused: the acknowledging practice is not the letter destination' };
  const mapped = mapAck(ack);
  if (mapped.kind === 'unrecognised') return { applied: false, outcome: `recorded without effect: ${mapped.reason}` };
  const result = await deps.apply(trackingId, mapped.event);
  if (result === undefined || result.kind === 'ignored') return { applied: false, outcome: `recorded without effect: ${result?.reason ?? 'letter not found'}` };
  return { applied: true, outcome: `applied: ${result.state}` };
}
