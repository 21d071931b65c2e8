import { randomBytes } from 'node:crypto';
import type { ConfirmChannel, Message } from 'amqplib';
import type { Logger } from '../../platform/logger.js';
import type { BrokerConnection } from './broker-connection.js';
import { isClosedChannelError } from './broker-errors.js';
import type { ManagedChannel } from './managed-channel.js';

/**
 * What the broker said about one publish. Only `confirmed` means a queue has
 * it. `returned`: no queue took it (unroutable), although a confirm followed.
 * `nacked` and `connection-lost`: the broker may or may not have it; publish
 * again (after reconnection) and let the receiver dedupe.
 */
export type PublishResult =
  | { readonly outcome: 'confirmed' }
  | { readonly outcome: 'returned'; readonly replyCode: number; readonly replyText: string }
  | { readonly outcome: 'nacked' }
  | { readonly outcome: 'connection-lost' };

export interface PublishProperties {
  readonly messageId?: string;
  readonly contentType?: string;
  readonly type?: string;
  readonly headers?: Readonly<Record<string, string | number>>;
  /** The `user_id` property: RabbitMQ refuses the publish unless it names the connection's user (how a practice proves who it is). */
  readonly userId?: string;
  /** Default true: an unroutable message is `returned`. Off only where no subscriber is fine (status events). */
  readonly mandatory?: boolean;
}

export interface ConfirmPublisherOptions {
  readonly logger: Logger;
  /** Unconfirmed publishes allowed at once (default 256); further ones queue in call order. */
  readonly maxInFlight?: number;
  /** How long `close()` waits for outstanding confirms (default 5 s). */
  readonly closeTimeoutMs?: number;
  /** Names the channel in logs. */
  readonly name?: string;
}

/**
 * Correlates a basic.return with its publish. RabbitMQ sends the return before
 * the confirm of the same message, and only the message comes back, so each
 * publish carries a unique id (messageId is no good: a letter is republished
 * under the same one). Receivers see the header and should ignore it.
 */
export const PUBLISH_ID_HEADER = 'x-courier-publish-id';

const CONFIRMED: PublishResult = { outcome: 'confirmed' };
const NACKED: PublishResult = { outcome: 'nacked' };
const CONNECTION_LOST: PublishResult = { outcome: 'connection-lost' };

interface Job {
  readonly exchange: string;
  readonly routingKey: string;
  readonly body: Buffer;
  readonly properties: PublishProperties;
  readonly resolve: (result: PublishResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Persistent, confirmed publishing with a window of `maxInFlight` unconfirmed
 * publishes (waiting for each confirm in turn is ~25× slower). Publishes go
 * out in call order. Each promise resolves only once the broker has answered
 * for that message, and never rejects for broker trouble: a lost channel or
 * connection resolves every unconfirmed and queued publish `connection-lost`
 * so the caller can publish again after reconnection (the confirm channel is
 * re-created by itself). When amqplib's write buffer is full (`publish()`
 * returned false) nothing more is written until `drain`. It rejects only for
 * a caller error amqplib refuses outright (e.g. headers over 64 KiB).
 */
export class ConfirmPublisher {
  private readonly channel: ManagedChannel<ConfirmChannel>;
  private readonly maxInFlight: number;
  private readonly queue: Job[] = [];
  /** Unconfirmed publishes by publish id; a return marks its entry. */
  private readonly unconfirmed = new Map<string, { returned?: { replyCode: number; replyText: string } }>();
  private readonly instance = randomBytes(6).toString('hex');
  private counter = 0;
  private awaitingDrain = false;
  private drains = 0;
  private awaitingChannel = false;
  private pumpScheduled = false;
  private closed: Promise<void> | undefined;

  constructor(
    broker: BrokerConnection,
    private readonly options: ConfirmPublisherOptions,
  ) {
    this.maxInFlight = options.maxInFlight ?? 256;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) throw new RangeError('maxInFlight must be a positive integer');
    this.channel = broker.createConfirmChannel({
      name: options.name ?? 'publisher',
      setup: (channel) => {
        channel.on('return', (message: Message) => this.onReturn(message));
        return Promise.resolve();
      },
    });
  }

  /** Publishes awaiting the broker's answer, queued ones included. */
  get pending(): number {
    return this.unconfirmed.size + this.queue.length;
  }

  /** How often amqplib's write buffer filled up and publishing waited for `drain`. */
  get drainWaits(): number {
    return this.drains;
  }

  /** Resolves once the confirm channel is open (false when the broker is down). */
  async ready(): Promise<boolean> {
    return (await this.channel.acquire()) !== undefined;
  }

  publish(exchange: string, routingKey: string, body: Buffer, properties: PublishProperties = {}): Promise<PublishResult> {
    if (this.closed !== undefined) return Promise.resolve(CONNECTION_LOST);
    return new Promise<PublishResult>((resolve, reject) => {
      this.queue.push({ exchange, routingKey, body, properties, resolve, reject });
      this.pump();
    });
  }

  /** Waits (up to `closeTimeoutMs`) for outstanding confirms, then closes the channel. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const deadline = Date.now() + (this.options.closeTimeoutMs ?? 5_000);
      while (this.pending > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      await this.channel.close(); // anything still unconfirmed resolves connection-lost
      for (const job of this.queue.splice(0)) job.resolve(CONNECTION_LOST);
    })();
    return this.closed;
  }

  /** Writes queued publishes while the window and amqplib's buffer allow. */
  private pump(): void {
    const channel = this.channel.current;
    if (channel === undefined) {
      this.waitForChannel();
      return;
    }
    while (this.unconfirmed.size < this.maxInFlight && !this.awaitingDrain) {
      const job = this.queue.shift();
      if (job === undefined) return;
      this.send(channel, job);
    }
  }

  /** Settling runs inside amqplib's frame handling: pump on a fresh tick, once. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** No channel: wait for one being opened, or fail the queue `connection-lost` when the broker is down. */
  private waitForChannel(): void {
    if (this.awaitingChannel || this.queue.length === 0) return;
    this.awaitingChannel = true;
    void this.channel.acquire().then((channel) => {
      this.awaitingChannel = false;
      if (channel !== undefined) this.pump();
      else for (const job of this.queue.splice(0)) job.resolve(CONNECTION_LOST);
    });
  }

  private send(channel: ConfirmChannel, job: Job): void {
    const id = `${this.instance}-${++this.counter}`;
    const entry: { returned?: { replyCode: number; replyText: string } } = {};
    const { headers, mandatory, ...properties } = job.properties;
    let written: boolean;
    try {
      written = channel.publish(
        job.exchange,
        job.routingKey,
        job.body,
        { ...properties, persistent: true, mandatory: mandatory ?? true, headers: { ...headers, [PUBLISH_ID_HEADER]: id } },
        (error: unknown) => {
          this.unconfirmed.delete(id);
          // amqplib calls back with an Error('message nacked') for a nack and Error('channel closed') when the channel goes.
          if (entry.returned !== undefined) job.resolve({ outcome: 'returned', ...entry.returned });
          else if (error === null || error === undefined) job.resolve(CONFIRMED);
          else if (error instanceof Error && error.message === 'message nacked') job.resolve(NACKED);
          else job.resolve(CONNECTION_LOST);
          this.schedulePump();
        },
      );
    } catch (error) {
      if (isClosedChannelError(error)) job.resolve(CONNECTION_LOST);
      else job.reject(error);
      return;
    }
    this.unconfirmed.set(id, entry);
    if (!written) this.waitForDrain(channel);
  }

  private waitForDrain(channel: ConfirmChannel): void {
    this.awaitingDrain = true;
    this.drains++;
    const resume = (): void => {
      channel.off('drain', resume);
      channel.off('close', resume);
      this.awaitingDrain = false;
      this.schedulePump();
    };
    channel.on('drain', resume);
    channel.on('close', resume);
  }

  private onReturn(message: Message): void {
    const id: unknown = message.properties.headers?.[PUBLISH_ID_HEADER];
    const entry = typeof id === 'string' ? this.unconfirmed.get(id) : undefined;
    if (entry === undefined) {
      this.options.logger.warn('broker returned a message this publisher does not know', { component: this.options.name ?? 'publisher' });
      return;
    }
    const fields: Record<string, unknown> = { ...message.fields };
    entry.returned = {
      replyCode: typeof fields['replyCode'] === 'number' ? fields['replyCode'] : 0,
      replyText: typeof fields['replyText'] === 'string' ? fields['replyText'] : '',
    };
  }
}
