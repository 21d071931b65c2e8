import type { ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../../platform/logger.js';
import type { BrokerConnection } from './broker-connection.js';

/** `ack`: done (applied, recorded or refused for good); `retry`: put back and try again later. */
export type Disposition = 'ack' | 'retry';

/** Pause before handing a message back, so an outage (store down) is not a hot loop. */
const RETRY_PAUSE_MS = 1000;

/**
 * Consumes `queue` with bounded prefetch, acknowledging a message to the
 * broker only after `handle` resolved, i.e. after the state change it caused
 * committed. A handler that throws or asks to retry gets the message back
 * (nack + requeue). The consumer is re-established after every reconnection.
 */
export async function consumeQueue(
  broker: BrokerConnection,
  queue: string,
  handle: (message: ConsumeMessage) => Promise<Disposition>,
  options: { prefetch: number; logger: Logger },
): Promise<void> {
  await broker.onConnect(async (model: ChannelModel) => {
    const channel = await model.createChannel();
    channel.on('error', (error: Error) => options.logger.warn('consumer channel error', { errorName: error.name, component: queue }));
    await channel.prefetch(options.prefetch);
    const settle = (message: ConsumeMessage, disposition: Disposition): void => {
      try {
        if (disposition === 'ack') channel.ack(message);
        else channel.nack(message, false, true);
      } catch {
        // channel gone: the broker redelivers the unacknowledged message on another channel
      }
    };
    await channel.consume(queue, (message) => {
      if (message === null) return; // consumer cancelled by the broker (queue deleted)
      handle(message)
        .catch((error: unknown) => {
          options.logger.warn('message handling failed; will retry', { errorName: error instanceof Error ? error.name : 'unknown', component: queue });
          return 'retry' as const;
        })
        .then(async (disposition) => {
          if (disposition === 'retry') await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
          settle(message, disposition);
        })
        .catch(() => undefined); // settle never throws; this only satisfies the no-floating-promise rule
    });
  });
}
