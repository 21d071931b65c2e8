import type { ConsumeMessage } from 'amqplib';
import type { Logger } from '../../platform/logger.js';
import type { BrokerConnection } from './broker-connection.js';
import { consume, type Consumer } from './consumer.js';

/** `ack`: done (applied, recorded or refused for good); `retry`: put back and try again later. */
export type Disposition = 'ack' | 'retry';

/**
 * Consumes `queue` through {@link consume}: bounded prefetch, a message is
 * acknowledged only after `handle` resolved (after the state change it caused
 * committed); a handler that throws or asks to retry gets the message back
 * after a one-second pause. Re-established after every reconnection.
 */
export async function consumeQueue(
  broker: BrokerConnection,
  queue: string,
  handle: (message: ConsumeMessage) => Promise<Disposition>,
  options: { prefetch: number; logger: Logger },
): Promise<Consumer> {
  return consume(
    broker,
    queue,
    async (delivery) => ((await handle({ content: delivery.content, fields: delivery.fields, properties: delivery.properties })) === 'ack' ? 'ack' : 'requeue'),
    { prefetch: options.prefetch, logger: options.logger, requeueDelayMs: 1_000 },
  );
}
