import type { Channel, ChannelModel } from 'amqplib';
import type { Logger } from '../../platform/logger.js';
import { brokerErrorContext } from './broker-errors.js';

/** What a managed channel needs from the connection: the live model, and word of every new one. */
export interface ChannelSource {
  /** The connection's current model, or undefined while it is down. */
  currentModel(): ChannelModel | undefined;
  on(event: 'connected', listener: (model: ChannelModel) => void): unknown;
  off(event: 'connected', listener: (model: ChannelModel) => void): unknown;
}

export interface ManagedChannelOptions<C extends Channel> {
  /** Names the channel in logs (e.g. the queue it consumes). */
  readonly name: string;
  /**
   * Runs on every new channel before it is handed out: prefetch, consume,
   * `return` listeners. If it fails (a missing queue closes the channel with
   * 404), that channel is dropped and a fresh one is tried after a pause.
   */
  readonly setup?: (channel: C) => Promise<void>;
}

/** The channel (or its connection) closed while `setup` ran; a fresh one is tried (retry or next 'connected'). */
class ChannelLostDuringSetupError extends Error {
  override readonly name = 'ChannelLostDuringSetupError';
  constructor() {
    super('channel closed while it was being set up');
  }
}

const RETRY_INITIAL_MS = 200;
const RETRY_MAX_MS = 5_000;

/**
 * One amqplib channel kept open for as long as it is wanted. amqplib's
 * recovery brings the connection back but not the channels on it; this
 * re-creates the channel (and re-runs `setup`) after every reconnection, and
 * also after a channel-only failure (a channel error closes just the channel
 * while the connection stays up), with a growing pause so a persistent error
 * such as a deleted queue is not a hot loop. Channel `error` events are
 * always handled (logged); an unhandled one would crash the process.
 */
export class ManagedChannel<C extends Channel> {
  private channel: C | undefined;
  private opening: Promise<C | undefined> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed: Promise<void> | undefined;
  private readonly onConnected = (): void => void this.open();

  constructor(
    private readonly source: ChannelSource,
    private readonly create: (model: ChannelModel) => Promise<C>,
    private readonly options: ManagedChannelOptions<C> & { readonly logger: Logger },
  ) {
    source.on('connected', this.onConnected);
    void this.open();
  }

  /** The open channel, or undefined while there is none (connection down, or re-opening). */
  get current(): C | undefined {
    return this.channel;
  }

  /** The open channel; waits for an opening in progress; undefined when there is no connection. Never rejects. */
  async acquire(): Promise<C | undefined> {
    if (this.channel !== undefined) return this.channel;
    return this.opening ?? this.open();
  }

  /** Closes the channel and stops re-opening it. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.source.off('connected', this.onConnected);
      clearTimeout(this.retryTimer);
      await this.opening;
      const channel = this.channel;
      this.channel = undefined;
      await channel?.close().catch(() => undefined); // already closed with its connection
    })();
    return this.closed;
  }

  private open(): Promise<C | undefined> {
    if (this.closed !== undefined) return Promise.resolve(undefined);
    if (this.channel !== undefined) return Promise.resolve(this.channel);
    this.opening ??= this.attempt().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async attempt(): Promise<C | undefined> {
    const model = this.source.currentModel();
    if (model === undefined) return undefined; // the next 'connected' event opens it
    const log = this.options.logger;
    let channel: C | undefined;
    try {
      channel = await this.create(model);
      let lost = false;
      const markLost = (): void => void (lost = true);
      channel.once('close', markLost);
      this.watch(channel);
      await this.options.setup?.(channel);
      channel.off('close', markLost);
      // A channel that closed before it was handed out must not be handed out: its own 'close'
      // listener ignores channels not yet current, so it would stay `current` for ever, dead, and
      // the next 'connected' would find a channel and open none. It happens when the connection
      // drops while `setup` runs (a setup that does not fail on a closed channel, or a setup
      // reply and the broker's connection.close read in one go: both are handled before this
      // continuation runs). The model check covers a connection lost before the listener went on.
      if (lost || this.source.currentModel() !== model) throw new ChannelLostDuringSetupError();
      if (this.closed !== undefined) {
        await channel.close().catch(() => undefined); // closed while opening; nobody wants it
        return undefined;
      }
      this.channel = channel;
      this.failures = 0;
      log.debug('channel open', { component: this.options.name });
      return channel;
    } catch (error) {
      log.warn('channel could not be opened; retrying', { component: this.options.name, ...brokerErrorContext(error) });
      await channel?.close().catch(() => undefined); // usually already closed by the error
      this.scheduleRetry();
      return undefined;
    }
  }

  private watch(channel: C): void {
    const log = this.options.logger;
    channel.on('error', (error: Error) => log.warn('channel error', { component: this.options.name, ...brokerErrorContext(error) }));
    channel.on('handler-error', (error: Error, event: string) =>
      log.error('channel event listener threw', { component: this.options.name, event, errorName: error.name }),
    );
    channel.on('close', () => {
      if (this.channel !== channel) return; // a channel that never got handed out
      this.channel = undefined;
      if (this.closed === undefined) this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.closed !== undefined || this.retryTimer !== undefined) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** this.failures);
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.open();
    }, delay);
  }
}
