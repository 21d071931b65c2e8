import { EventEmitter } from 'node:events';
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type RecoveringChannelModel } from 'amqplib';
import { BrokerUnavailableError } from '../../app/errors.js';
import type { BrokerStatus } from '../../app/ports.js';
import type { Logger } from '../../platform/logger.js';
import { brokerErrorContext } from './broker-errors.js';
import { amqplibSocket, coalesceWritesPerTick } from './coalesced-writes.js';
import { ManagedChannel, type ManagedChannelOptions } from './managed-channel.js';

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

/** `url` with `?heartbeat=<seconds>` added (amqplib reads the proposal only from the URL), unless it has one or none is wanted. */
export function withHeartbeat(url: string, seconds: number | undefined): string {
  if (seconds === undefined) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url; // amqplib reports the bad URL itself
  }
  if (parsed.searchParams.has('heartbeat')) return url;
  parsed.searchParams.set('heartbeat', String(seconds));
  return parsed.toString();
}

export interface BrokerConnectionOptions {
  readonly logger: Logger;
  /** Failed attempts before `open()` gives up at start-up (default 5); once connected it retries for ever. */
  readonly initialMaxRetries?: number;
  /** Reconnection backoff (exponential with jitter); defaults 200 ms to 10 s. */
  readonly reconnectDelay?: { readonly initialMs: number; readonly maxMs: number };
  /** Shown in the broker's connection list (default `courier`). */
  readonly connectionName?: string;
  /**
   * Heartbeat timeout to propose, in whole seconds (config `amqp.heartbeat`); a `heartbeat`
   * query parameter in the URL wins. Unset: the broker's (RabbitMQ: 60 s). Only heartbeats
   * notice a connection that went silent without closing.
   */
  readonly heartbeatSeconds?: number;
  /**
   * How long connecting may stay silent, TCP connect and AMQP handshake
   * included (default 10 s). Without it a peer that accepts the connection
   * and never answers (a half-dead load balancer, a blackholed route) would
   * hold amqplib's one reconnection attempt for ever.
   */
  readonly connectTimeoutMs?: number;
}

/** Events: `connected` after every (re)connection, `disconnected` when the connection is lost. */
export interface BrokerEvents {
  connected: [model: ChannelModel];
  disconnected: [error: Error];
}

/**
 * One recovering connection to RabbitMQ, on amqplib's built-in recovery
 * (reconnects with exponential backoff and jitter, for ever once it has
 * connected). amqplib brings back the connection, not its channels, so:
 * - `createChannel` / `createConfirmChannel` return a {@link ManagedChannel}
 *   that is re-created, and its `setup` (prefetch, consume, listeners) re-run,
 *   after every reconnection and after a channel-only failure. Consumers and
 *   publishers are built on these and so come back by themselves.
 * - `onConnect` registers work run inside amqplib's `setup` hook: it must
 *   succeed before the connection counts as up (a failure drops that
 *   connection and retries). Use it only for what readiness depends on.
 * `isConnected` and `isBlocked` drive `/readyz` and the 503 that refuses
 * custody while the broker is away or blocks publishing. Every connection
 * `error` is handled (logged).
 */
export class BrokerConnection extends EventEmitter<BrokerEvents> implements BrokerStatus {
  private recovering: RecoveringChannelModel | undefined;
  private model: ChannelModel | undefined;
  /** The broker sent connection.blocked (resource alarm) and not yet connection.unblocked. */
  private blocked = false;
  private opened: Promise<void> | undefined;
  private closed: Promise<void> | undefined;
  private readonly setups: ((model: ChannelModel) => Promise<void>)[] = [];
  private readonly channels = new Set<{ close(): Promise<void> }>();

  constructor(
    private readonly url: string,
    private readonly options: BrokerConnectionOptions,
  ) {
    super();
    this.setMaxListeners(0); // one `connected` listener per managed channel, however many consumers there are
  }

  /** Builds and opens a connection. */
  static async open(url: string, options: BrokerConnectionOptions): Promise<BrokerConnection> {
    const broker = new BrokerConnection(url, options);
    await broker.open();
    return broker;
  }

  /**
   * Connects; rejects with BrokerUnavailableError when the broker cannot be
   * reached within `initialMaxRetries` attempts. Idempotent.
   */
  open(): Promise<void> {
    this.opened ??= this.connect();
    return this.opened;
  }

  isConnected(): boolean {
    return this.model !== undefined && this.closed === undefined;
  }

  /**
   * True between the broker's connection.blocked and connection.unblocked: a
   * disk or memory alarm stops publishing, and RabbitMQ stops reading the
   * connection (publishes wait unconfirmed). A new connection starts unblocked.
   */
  isBlocked(): boolean {
    return this.blocked && this.isConnected();
  }

  /** The live connection, or undefined while it is down. */
  currentModel(): ChannelModel | undefined {
    return this.closed === undefined ? this.model : undefined;
  }

  /** A plain channel kept open across reconnections (see {@link ManagedChannel}). */
  createChannel(options: ManagedChannelOptions<Channel>): ManagedChannel<Channel> {
    return this.manage((model) => model.createChannel(), options);
  }

  /** A confirm-mode channel kept open across reconnections (see {@link ManagedChannel}). */
  createConfirmChannel(options: ManagedChannelOptions<ConfirmChannel>): ManagedChannel<ConfirmChannel> {
    return this.manage((model) => model.createConfirmChannel(), options);
  }

  /** Registers work to redo on every connection, inside amqplib's `setup` hook; runs it now if connected. */
  async onConnect(setup: (model: ChannelModel) => Promise<void>): Promise<void> {
    this.setups.push(setup);
    const model = this.currentModel();
    if (model !== undefined) await setup(model);
  }

  /** Runs `fn` on a short-lived channel; the channel's errors surface as the returned promise's rejection. */
  async withChannel<T>(fn: (channel: Channel) => Promise<T>): Promise<T> {
    const model = this.currentModel();
    if (model === undefined) throw new BrokerUnavailableError();
    const channel = await model.createChannel();
    channel.on('error', () => undefined); // a channel error also rejects the pending operation, which reports it
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => undefined); // already closed by a channel error
    }
  }

  /** Closes every managed channel, then the connection; stops reconnecting. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await Promise.all([...this.channels].map((channel) => channel.close()));
      await this.recovering?.close().catch(() => undefined); // the connection may already be gone
      await this.opened?.catch(() => undefined); // an open cut short by close() has nothing left to close
      this.model = undefined;
    })();
    return this.closed;
  }

  private manage<C extends Channel>(create: (model: ChannelModel) => Promise<C>, options: ManagedChannelOptions<C>): ManagedChannel<C> {
    const channel = new ManagedChannel<C>(this, create, { ...options, logger: this.options.logger });
    this.channels.add(channel);
    if (this.closed !== undefined) void channel.close();
    return channel;
  }

  private async connect(): Promise<void> {
    const delay = this.options.reconnectDelay ?? { initialMs: 200, maxMs: 10_000 };
    const recovering = await connect(withHeartbeat(this.url, this.options.heartbeatSeconds), {
      // TCP_NODELAY on: with Nagle's algorithm a publish (written as method, header and body frames)
      // waits for the peer's delayed ACK, ~40 ms per confirm round trip instead of ~1 ms. Every
      // sequential confirm (an ack the practice must see confirmed before it settles a letter, the
      // relay's last publishes of a round) pays it; amqp-confirm-publisher.test.ts checks it.
      noDelay: true,
      keepAlive: true,
      timeout: this.options.connectTimeoutMs ?? 10_000, // connect + handshake only: amqplib clears it once the connection is open
      clientProperties: { connection_name: this.options.connectionName ?? 'courier' },
      recovery: {
        waitForConnect: false, // listeners go on before the first attempt
        initialDelay: delay.initialMs,
        maxDelay: delay.maxMs,
        initialMaxRetries: this.options.initialMaxRetries ?? 5,
        setup: async (model: ChannelModel) => {
          for (const setup of [...this.setups]) await setup(model);
        },
      },
    });
    this.recovering = recovering;
    this.listen(recovering);
    if (this.closed !== undefined) await recovering.close(); // close() came first; waitForConnect now rejects
    try {
      await recovering.waitForConnect();
    } catch (error) {
      throw new BrokerUnavailableError(error);
    }
  }

  private listen(recovering: RecoveringChannelModel): void {
    const log = this.options.logger;
    const url = maskUrl(this.url);
    recovering.on('connect', (model: ChannelModel) => {
      const socket = amqplibSocket(model.connection);
      if (socket === undefined) log.warn('broker socket not found under amqplib; its writes are not coalesced');
      else coalesceWritesPerTick(socket);
      this.model = model;
      this.blocked = false;
      log.info('broker connected', { url });
      this.emit('connected', model);
    });
    recovering.on('disconnect', (error: Error) => {
      this.model = undefined;
      this.blocked = false;
      if (this.closed === undefined) log.warn('broker connection lost; reconnecting', { url, ...brokerErrorContext(error) });
      this.emit('disconnected', error);
    });
    recovering.on('connect-failed', (error: Error) => log.warn('broker connection attempt failed', { url, ...brokerErrorContext(error) }));
    recovering.on('reconnect-scheduled', (info: { attempt: number; delay: number }) =>
      log.info('broker reconnect scheduled', { attempt: info.attempt, durationMs: info.delay }),
    );
    recovering.on('reconnect-failed', (error: Error) => log.error('broker reconnection gave up', { url, ...brokerErrorContext(error) }));
    recovering.on('error', (error: Error) => log.warn('broker connection error', brokerErrorContext(error)));
    recovering.on('handler-error', (error: Error, event: string) => log.error('broker event listener threw', { event, errorName: error.name }));
    recovering.on('blocked', () => {
      this.blocked = true;
      log.warn('broker blocked publishing (resource alarm); refusing new letters until it unblocks');
    });
    recovering.on('unblocked', () => {
      this.blocked = false;
      log.info('broker unblocked publishing');
    });
  }
}
