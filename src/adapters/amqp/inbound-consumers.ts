import type { ConsumeMessage } from 'amqplib';
import type { ApplyDeliveryEvent } from '../../app/apply-delivery-event.js';
import { CourierError } from '../../app/errors.js';
import type { AckOutcome } from '../../app/receive-ack.js';
import type { BundleParser } from '../../app/receive-message.js';
import type { AckFacts } from '../../domain/ack-rules.js';
import { isAckMessage } from '../../domain/ack-rules.js';
import { isOdsCode, isTrackingId, type OdsCode } from '../../domain/ids.js';
import type { Bundle } from '../../domain/letter-rules.js';
import { topologyNames } from '../../domain/topology-names.js';
import type { Config } from '../../platform/config.js';
import type { Logger } from '../../platform/logger.js';
import type { BrokerConnection } from './broker-connection.js';
import { consumeQueue, type Disposition } from './queue-consumer.js';

type AckReceiver = (bundle: Bundle, practice: (facts: AckFacts) => OdsCode | null) => Promise<AckOutcome>;

/**
 * Acknowledgements from `<p>.inbound` (DESIGN §4). The acking practice is the
 * routing key the practice published with (queues are bound per known
 * practice, so a key is one of the directory's codes). Malformed acks are
 * logged by error code and dropped: they carry nothing that could be applied.
 */
export async function consumeAcks(broker: BrokerConnection, config: Config, parser: BundleParser, receive: AckReceiver, logger: Logger): Promise<void> {
  const log = logger.child({ component: 'acks' });
  await consumeQueue(
    broker,
    topologyNames(config.amqp.prefix).inboundQueue,
    async (message: ConsumeMessage): Promise<Disposition> => {
      const routingKey = message.fields.routingKey;
      const practice = isOdsCode(routingKey) ? routingKey : null;
      const parsed = parser.parse(message.content);
      if (!parsed.ok || !isAckMessage(parsed.bundle)) {
        log.warn('inbound message is not an acknowledgement; dropped', { errorCode: 'malformed-request', ...(practice ? { ods: practice } : {}) });
        return 'ack';
      }
      try {
        await receive(parsed.bundle, () => practice);
        return 'ack';
      } catch (error) {
        if (error instanceof CourierError && (error.code === 'profile-violation' || error.code === 'malformed-request')) {
          log.warn('malformed acknowledgement dropped', { errorCode: error.code, ...(practice ? { ods: practice } : {}) });
          return 'ack';
        }
        throw error; // store trouble: retry
      }
    },
    { prefetch: config.amqp.prefetch, logger: log },
  );
}

/** Letters the broker dead-lettered (delivery limit reached) are escalated (DESIGN §5). */
export async function consumeDeadLetters(broker: BrokerConnection, config: Config, apply: ApplyDeliveryEvent, logger: Logger): Promise<void> {
  const log = logger.child({ component: 'dead-letters' });
  await consumeQueue(
    broker,
    topologyNames(config.amqp.prefix).deadLetterQueue,
    async (message: ConsumeMessage): Promise<Disposition> => {
      const id: unknown = message.properties.headers?.['x-courier-tracking-id'];
      if (typeof id !== 'string' || !isTrackingId(id)) {
        log.warn('dead letter without a Courier tracking id; dropped', { errorCode: 'malformed-request' });
        return 'ack';
      }
      await apply(id, { kind: 'dead-lettered' });
      return 'ack';
    },
    { prefetch: config.amqp.prefetch, logger: log },
  );
}
