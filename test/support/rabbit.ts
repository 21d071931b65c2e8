import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';

export const TEST_AMQP_URL = process.env['COURIER_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

/**
 * A raw broker connection of the test's own, to look at broker state from the
 * outside (never through Courier's adapters) and to clean a prefix up.
 */
export class RabbitProbe {
  private constructor(
    private readonly connection: ChannelModel,
    readonly channel: Channel,
  ) {}

  static async open(): Promise<RabbitProbe> {
    const connection = await connect(TEST_AMQP_URL);
    const channel = await connection.createChannel();
    return new RabbitProbe(connection, channel);
  }

  /** Collects every message arriving on `queue` (acking them) into the returned array. */
  async collect(queue: string): Promise<ConsumeMessage[]> {
    const received: ConsumeMessage[] = [];
    await this.channel.consume(queue, (message) => {
      if (message === null) return;
      received.push(message);
      this.channel.ack(message);
    });
    return received;
  }

  /** A temporary queue bound to `exchange` with `pattern`, collected into the returned array. */
  async tap(exchange: string, pattern: string): Promise<ConsumeMessage[]> {
    const { queue } = await this.channel.assertQueue('', { exclusive: true, autoDelete: true });
    await this.channel.bindQueue(queue, exchange, pattern);
    return this.collect(queue);
  }

  /** Deletes every queue and exchange Courier declares under `prefix`. */
  async cleanup(prefix: string, practices: readonly string[]): Promise<void> {
    const cleaner = await this.connection.createChannel();
    cleaner.on('error', () => undefined);
    for (const queue of [...practices.map((p) => `${prefix}.gp.${p}`), `${prefix}.dead-letter`, `${prefix}.inbound`]) {
      await cleaner.deleteQueue(queue).catch(() => undefined);
    }
    for (const exchange of ['outbound', 'dead-letter', 'inbound', 'events']) await cleaner.deleteExchange(`${prefix}.${exchange}`).catch(() => undefined);
    await cleaner.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** Polls `check` until it returns a value other than undefined, or fails after `ms`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
