import type { OutgoingMessage, PublishOutcome, Publisher } from '../../app/ports.js';
import type { Logger } from '../../platform/logger.js';
import type { BrokerConnection } from './broker-connection.js';
import { ConfirmPublisher } from './confirm-publisher.js';

/**
 * The app's `Publisher` port on a {@link ConfirmPublisher}: confirmed,
 * persistent, windowed publishing whose confirm channel comes back by itself
 * after a reconnection. `returned` is reported even though a confirm follows.
 */
export class OutboxPublisher implements Publisher {
  private readonly publisher: ConfirmPublisher;

  constructor(broker: BrokerConnection, options: { maxInFlight: number; logger: Logger }) {
    this.publisher = new ConfirmPublisher(broker, { maxInFlight: options.maxInFlight, logger: options.logger, name: 'outbox-publisher' });
  }

  /** Waits for the confirm channel to open (it is created with the publisher and re-created after reconnection). */
  async start(): Promise<void> {
    await this.publisher.ready();
  }

  async publish(message: OutgoingMessage): Promise<PublishOutcome> {
    const result = await this.publisher.publish(message.exchange, message.routingKey, message.body, {
      mandatory: message.mandatory,
      contentType: message.contentType,
      ...(message.messageId === undefined ? {} : { messageId: message.messageId }),
      ...(message.type === undefined ? {} : { type: message.type }),
      ...(message.headers === undefined ? {} : { headers: message.headers }),
    });
    return result.outcome;
  }

  /** Waits briefly for outstanding confirms, then closes the channel. Idempotent. */
  close(): Promise<void> {
    return this.publisher.close();
  }
}
