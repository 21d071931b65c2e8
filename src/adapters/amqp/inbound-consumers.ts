import type { ConsumeMessage } from 'amqplib';
import type { ApplyDeliveryEvent } from '../../app/apply-delivery-event.js';
import { CourierError } from '../../app/errors.js';
import type { AckSender, ReceiveAck } from '../../app/receive-ack.js';
import type { BundleParser } from '../../app/receive-message.js';
import { isAckMessage } from '../../domain/ack-rules.js';
import { isOdsCode, isTrackingId } from '../../domain/ids.js';
import { topologyNames } from '../../domain/topology-names.js';
import type { Config, Practice } from '../../platform/config.js';
import type { Logger } from '../../platform/logger.js';
import type { BrokerConnection } from './broker-connection.js';
import { consumeQueue, type Disposition } from './queue-consumer.js';

/**
 * The sender of an ack taken from `<p>.inbound` (DESIGN §4): the routing key,
 * which must be a directory practice, and where that practice has a
 * configured broker user, the broker-validated `user_id` must be that user.
 * RabbitMQ refuses a publish whose `user_id` is not the connection's user, so
 * a present `user_id` is proof; an absent one proves nothing.
 */
export function amqpAckSender(routingKey: string, userId: string | undefined, practices: readonly Practice[]): AckSender {
  const practice = practices.find((p) => p.ods === routingKey);
  if (practice === undefined) return { ods: null, refusal: 'the routing key is not a known practice' };
  if (practice.brokerUser === undefined || practice.brokerUser === userId) return { ods: practice.ods };
  return {
    ods: practice.ods,
    refusal: userId === undefined ? 'no broker user_id, and this practice must ack as its own broker user' : 'the broker user_id is not this practice\'s user',
  };
}

/**
 * Acknowledgements from `<p>.inbound` (DESIGN §4). The acking practice is the
 * routing key the practice published with (queues are bound per known
 * practice, so a key is one of the directory's codes). Malformed acks are
 * logged by error code and dropped: they carry nothing that could be applied.
 */
export async function consumeAcks(broker: BrokerConnection, config: Config, parser: BundleParser, receive: ReceiveAck, logger: Logger): Promise<void> {
  const log = logger.child({ component: 'acks' });
  await consumeQueue(
    broker,
    topologyNames(config.amqp.prefix).inboundQueue,
    async (message: ConsumeMessage): Promise<Disposition> => {
      const routingKey = message.fields.routingKey;
      const practice = isOdsCode(routingKey) ? routingKey : null;
      const userId: unknown = message.properties.userId;
      const sender = amqpAckSender(routingKey, typeof userId === 'string' ? userId : undefined, config.practices);
      const parsed = parser.parse(message.content);
      if (!parsed.ok || !isAckMessage(parsed.bundle)) {
        log.warn('inbound message is not an acknowledgement; dropped', { errorCode: 'malformed-request', ...(practice ? { ods: practice } : {}) });
        return 'ack';
      }
      try {
        await receive(parsed.bundle, () => sender);
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
      const reason: unknown = message.properties.headers?.['x-first-death-reason'];
      await apply(id, { kind: 'dead-lettered', ...(typeof reason === 'string' ? { brokerReason: reason } : {}) });
      return 'ack';
    },
    { prefetch: config.amqp.prefetch, logger: log },
  );
}
