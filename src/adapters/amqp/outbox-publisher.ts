import type { ConfirmChannel, ChannelModel } from 'amqplib';
import type { OutgoingMessage, PublishOutcome, Publisher } from '../../app/ports.js';
import type { Logger } from '../../platform/logger.js';
import type { BrokerConnection } from './broker-connection.js';

const PUBLISH_ID_HEADER = 'x-courier-publish-id';

/**
 * Confirmed publishing with a window of `maxInFlight` unconfirmed publishes
 * (waiting for each confirm in turn gives ~40 msgs/s here). Every publish is
 * persistent; `mandatory` ones that the broker returns resolve `returned`
 * even though a confirm follows (RabbitMQ sends basic.return before the ack).
 * When `publish()` reports a full buffer, later publishes wait for `drain`.
 * A lost channel resolves every unconfirmed publish `connection-lost`; the
 * confirm channel is re-created after each reconnection.
 */
export class OutboxPublisher implements Publisher {
  private channel: ConfirmChannel | undefined;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly returned = new Set<string>();
  private drained: Promise<void> | undefined;
  private counter = 0;

  constructor(
    private readonly broker: BrokerConnection,
    private readonly options: { maxInFlight: number; logger: Logger },
  ) {}

  async start(): Promise<void> {
    await this.broker.onConnect((model) => this.openChannel(model));
  }

  private async openChannel(model: ChannelModel): Promise<void> {
    const channel = await model.createConfirmChannel();
    channel.on('return', (message: { properties: { headers?: Record<string, unknown> } }) => {
      const id = message.properties.headers?.[PUBLISH_ID_HEADER];
      if (typeof id === 'string') this.returned.add(id);
    });
    channel.on('error', (error: Error) => this.options.logger.warn('publish channel error', { errorName: error.name }));
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    this.channel = channel;
  }

  async publish(message: OutgoingMessage): Promise<PublishOutcome> {
    while (this.inFlight >= this.options.maxInFlight) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      if (this.drained !== undefined) await this.drained;
      return await this.send(message);
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  private send(message: OutgoingMessage): Promise<PublishOutcome> {
    const channel = this.channel;
    if (channel === undefined) return Promise.resolve('connection-lost');
    const publishId = `${process.pid}-${++this.counter}`;
    return new Promise<PublishOutcome>((resolve) => {
      const onConfirm = (error: unknown): void => {
        if (this.returned.delete(publishId)) resolve('returned');
        else if (error === null || error === undefined) resolve('confirmed');
        else resolve(this.channel === channel ? 'nacked' : 'connection-lost');
      };
      try {
        const ok = channel.publish(
          message.exchange,
          message.routingKey,
          message.body,
          {
            persistent: true,
            mandatory: message.mandatory,
            contentType: message.contentType,
            ...(message.messageId === undefined ? {} : { messageId: message.messageId }),
            ...(message.type === undefined ? {} : { type: message.type }),
            headers: { ...message.headers, [PUBLISH_ID_HEADER]: publishId },
          },
          onConfirm,
        );
        if (!ok) this.waitForDrain(channel);
      } catch {
        resolve('connection-lost'); // the channel closed under us: publish again after reconnection
      }
    });
  }

  private waitForDrain(channel: ConfirmChannel): void {
    this.drained ??= new Promise<void>((resolve) => {
      const done = (): void => {
        channel.off('drain', done);
        channel.off('close', done);
        this.drained = undefined;
        resolve();
      };
      channel.on('drain', done);
      channel.on('close', done);
    });
  }
}
