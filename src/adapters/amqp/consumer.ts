import type { Channel, ConsumeMessage, ConsumeMessageFields, MessageProperties } from 'amqplib';
import type { Logger } from '../../platform/logger.js';
import type { BrokerConnection } from './broker-connection.js';
import { brokerErrorContext } from './broker-errors.js';
import type { ManagedChannel } from './managed-channel.js';

/**
 * What to tell the broker once the handler is done: `ack` (done with, for
 * good), `requeue` (put back to try again; on a quorum queue this counts
 * towards `x-delivery-limit`, after which it is dead-lettered), `reject`
 * (never to be retried: dead-lettered if the queue has a dead-letter exchange,
 * otherwise dropped).
 */
export type ConsumeDecision = 'ack' | 'requeue' | 'reject';

export interface Delivery {
  readonly content: Buffer;
  readonly properties: MessageProperties;
  readonly fields: ConsumeMessageFields;
  readonly routingKey: string;
  /** The broker-validated `user_id` property, when the publisher set one. */
  readonly userId?: string;
  readonly redelivered: boolean;
  /** Earlier deliveries of this message (quorum queues' `x-delivery-count`; 0 on the first). */
  readonly deliveryCount: number;
}

export type DeliveryHandler = (delivery: Delivery) => Promise<ConsumeDecision>;

export interface ConsumeOptions {
  readonly logger: Logger;
  /** Unacknowledged deliveries held at once (default 32). */
  readonly prefetch?: number;
  /** Pause before a message is handed back (`requeue`, or a handler error), so an outage is not a hot loop (default 1 s). */
  readonly requeueDelayMs?: number;
  /** How long `stop()` waits for running handlers before closing the channel (default 10 s). */
  readonly stopTimeoutMs?: number;
}

/** A running consumer; it re-subscribes by itself after every reconnection. */
export interface Consumer {
  readonly queue: string;
  /** True while subscribed on an open channel. */
  isConsuming(): boolean;
  /** Handlers currently running. */
  readonly inFlight: number;
  /** Cancels the subscription, lets running handlers finish and settle (up to `stopTimeoutMs`), closes the channel. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Consumes `queue` with bounded prefetch and acknowledges each message to the
 * broker only after `handler`'s promise resolved, on the channel that
 * delivered it. A handler that throws (or rejects) gets its message requeued
 * and logged; nothing it does can crash the process. If the channel is gone
 * by the time a handler finishes, the settle is skipped: the broker has
 * already put the message back and redelivers it, so handlers must be
 * idempotent. Resolves once the first subscription attempt is over
 * (`isConsuming()` says whether it worked; failures are retried).
 */
export async function consume(broker: BrokerConnection, queue: string, handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
  const consumer = new QueueConsumer(broker, queue, handler, options);
  await consumer.start();
  return consumer;
}

class QueueConsumer implements Consumer {
  private readonly channel: ManagedChannel<Channel>;
  private consumerTag: string | undefined;
  private running = 0;
  private stopped: Promise<void> | undefined;

  constructor(
    broker: BrokerConnection,
    readonly queue: string,
    private readonly handler: DeliveryHandler,
    private readonly options: ConsumeOptions,
  ) {
    this.channel = broker.createChannel({ name: queue, setup: (channel) => this.subscribe(channel) });
  }

  get inFlight(): number {
    return this.running;
  }

  async start(): Promise<void> {
    await this.channel.acquire();
  }

  isConsuming(): boolean {
    return this.channel.current !== undefined && this.consumerTag !== undefined && this.stopped === undefined;
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const channel = this.channel.current;
      const tag = this.consumerTag;
      if (channel !== undefined && tag !== undefined) await channel.cancel(tag).catch(() => undefined); // channel already gone
      const deadline = Date.now() + (this.options.stopTimeoutMs ?? 10_000);
      while (this.running > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      await this.channel.close(); // unsettled messages go back to the queue
    })();
    return this.stopped;
  }

  private async subscribe(channel: Channel): Promise<void> {
    this.consumerTag = undefined;
    await channel.prefetch(this.options.prefetch ?? 32);
    const { consumerTag } = await channel.consume(this.queue, (message) => {
      if (message === null) {
        // Cancelled by the broker (queue deleted): drop this channel; a new one re-subscribes when it can.
        this.options.logger.warn('consumer cancelled by the broker; re-subscribing', { component: this.queue });
        channel.close().catch(() => undefined); // already closing
        return;
      }
      void this.handle(channel, message);
    });
    this.consumerTag = consumerTag;
  }

  private async handle(channel: Channel, message: ConsumeMessage): Promise<void> {
    this.running++;
    let decision: ConsumeDecision;
    try {
      decision = await this.handler(toDelivery(message));
    } catch (error) {
      this.options.logger.warn('message handling failed; requeueing', { component: this.queue, errorName: error instanceof Error ? error.name : 'unknown' });
      decision = 'requeue';
    }
    if (decision === 'requeue') await new Promise((resolve) => setTimeout(resolve, this.options.requeueDelayMs ?? 1_000));
    this.settle(channel, message, decision);
    this.running--;
  }

  private settle(channel: Channel, message: ConsumeMessage, decision: ConsumeDecision): void {
    try {
      if (decision === 'ack') channel.ack(message);
      else channel.nack(message, false, decision !== 'reject');
    } catch (error) {
      // The delivering channel closed: the broker has requeued the message and redelivers it.
      this.options.logger.debug('settle skipped, channel gone; the broker redelivers', { component: this.queue, ...brokerErrorContext(error) });
    }
  }
}

function toDelivery(message: ConsumeMessage): Delivery {
  const userId: unknown = message.properties.userId;
  const count: unknown = message.properties.headers?.['x-delivery-count'];
  return {
    content: message.content,
    properties: message.properties,
    fields: message.fields,
    routingKey: message.fields.routingKey,
    ...(typeof userId === 'string' ? { userId } : {}),
    redelivered: message.fields.redelivered,
    deliveryCount: typeof count === 'number' ? count : 0,
  };
}
