import { connect, type Channel, type ChannelModel, type RecoveringChannelModel } from 'amqplib';
import { BrokerUnavailableError } from '../../app/errors.js';
import type { BrokerStatus } from '../../app/ports.js';
import type { Logger } from '../../platform/logger.js';

/** `amqp://user:secret@host` → `amqp://user:***@host`: URLs are logged only like this. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * One recovering connection to RabbitMQ (amqplib's built-in recovery:
 * reconnects with backoff and jitter, for ever once it has connected).
 * Functions registered with `onConnect` run after every (re)connection, so
 * consumers and channels come back by themselves. `isConnected` drives
 * `/readyz` and the 503 that refuses custody while the broker is away.
 */
export class BrokerConnection implements BrokerStatus {
  private model: RecoveringChannelModel | undefined;
  private connected = false;
  private closing = false;
  private readonly setups: ((model: ChannelModel) => Promise<void>)[] = [];

  constructor(
    private readonly url: string,
    private readonly options: { logger: Logger; initialMaxRetries?: number },
  ) {}

  /** Connects, failing after a few attempts if the broker cannot be reached at start-up. */
  async open(): Promise<void> {
    const model = await connect(this.url, {
      recovery: {
        initialDelay: 200,
        maxDelay: 10_000,
        initialMaxRetries: this.options.initialMaxRetries ?? 5,
        setup: async (m: ChannelModel) => {
          for (const setup of this.setups) await setup(m);
        },
      },
    });
    this.model = model;
    this.connected = true;
    const log = this.options.logger;
    model.on('connect', () => {
      this.connected = true;
      log.info('broker connected');
    });
    model.on('disconnect', () => {
      this.connected = false;
      if (!this.closing) log.warn('broker connection lost; reconnecting');
    });
    model.on('reconnect-scheduled', (info: { attempt: number; delay: number }) =>
      log.info('broker reconnect scheduled', { attempt: info.attempt, durationMs: info.delay }),
    );
    model.on('reconnect-failed', () => log.error('broker reconnection gave up'));
    model.on('error', (error: Error) => log.warn('broker connection error', { errorName: error.name }));
    model.on('blocked', () => log.warn('broker blocked publishing (resource alarm)'));
  }

  isConnected(): boolean {
    return this.connected && !this.closing;
  }

  /** Registers work to redo on every connection (consumers, channels); runs it now if connected. */
  async onConnect(setup: (model: ChannelModel) => Promise<void>): Promise<void> {
    this.setups.push(setup);
    if (this.model !== undefined && this.connected) await setup(this.model as unknown as ChannelModel);
  }

  /** Runs `fn` on a short-lived channel; the channel's errors surface as the returned promise's rejection. */
  async withChannel<T>(fn: (channel: Channel) => Promise<T>): Promise<T> {
    if (this.model === undefined || !this.connected) throw new BrokerUnavailableError();
    const channel = await this.model.createChannel();
    channel.on('error', () => undefined); // a channel error also rejects the pending operation, which reports it
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => undefined); // already closed by a channel error
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.model?.close().catch(() => undefined); // the connection may already be gone
  }
}
