import type { OutgoingMessage, PublishOutcome, Publisher } from '../../app/ports.js';
import type { DeliveryObserver } from '../../app/delivery-observer.js';
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

  /**
   * `lettersExchange`: publishes there are letters, all others status events
   * (for the observer's labels).
   */
  constructor(
    broker: BrokerConnection,
    private readonly options: { maxInFlight: number; logger: Logger; observer: DeliveryObserver; lettersExchange: string },
  ) {
    this.publisher = new ConfirmPublisher(broker, { maxInFlight: options.maxInFlight, logger: options.logger, name: 'outbox-publisher' });
  }

  /** Waits for the confirm channel to open (it is created with the publisher and re-created after reconnection). */
  async start(): Promise<void> {
    await this.publisher.ready();
  }

  async publish(message: OutgoingMessage): Promise<PublishOutcome> {
    const started = performance.now();
    const result = await this.publisher.publish(message.exchange, message.routingKey, message.body, {
      mandatory: message.mandatory,
      contentType: message.contentType,
      ...(message.messageId === undefined ? {} : { messageId: message.messageId }),
      ...(message.type === undefined ? {} : { type: message.type }),
      ...(message.headers === undefined ? {} : { headers: message.headers }),
    });
    const what = message.exchange === this.options.lettersExchange ? 'letter' : 'status-event';
    this.options.observer.published(what, result.outcome, (performance.now() - started) / 1000);
    return result.outcome;
  }

  /** Waits briefly for outstanding confirms, then closes the channel. Idempotent. */
  close(): Promise<void> {
    return this.publisher.close();
  }
}
