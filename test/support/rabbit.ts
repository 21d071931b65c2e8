import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { createLogger, type Logger } from '../../src/platform/logger.js';

const run = promisify(execFile);

export const TEST_AMQP_URL = process.env['COURIER_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
/** The node behind TEST_AMQP_URL, for `rabbitmqctl -n` (broker state the AMQP protocol cannot show). */
export const TEST_RABBIT_NODE = process.env['COURIER_TEST_RABBIT_NODE'] ?? 'rabbit@localhost';

/** A random AMQP prefix so each test has its own exchanges and queues. */
export function randomPrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/** A debug-level logger whose JSON lines are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', stream }), lines };
}

export async function rabbitmqctl(node: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-n', node, '-q', ...args], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export interface QueueInfo {
  readonly name: string;
  readonly type: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly messages: number;
  readonly messagesReady: number;
  readonly messagesUnacknowledged: number;
}

export interface BindingInfo {
  readonly source: string;
  readonly destination: string;
  readonly routingKey: string;
}

/**
 * A raw broker connection of the test's own, to look at broker state from the
 * outside (never through Courier's adapters) and to clean a prefix up.
 */
export class RabbitProbe {
  private constructor(
    private readonly connection: ChannelModel,
    readonly channel: Channel,
    readonly node: string,
  ) {}

  static async open(url = TEST_AMQP_URL, node = TEST_RABBIT_NODE): Promise<RabbitProbe> {
    const connection = await connect(url);
    connection.on('error', () => undefined); // the test sees failures through its own calls
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    return new RabbitProbe(connection, channel, node);
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

  /** Runs `fn` on a throwaway channel, so a failed passive declare cannot kill `channel`. */
  async withChannel<T>(fn: (channel: Channel) => Promise<T>): Promise<T> {
    const channel = await this.connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => undefined); // closed by the broker after a failed operation
    }
  }

  /** Ready messages (unacknowledged ones excluded), or undefined when the queue does not exist. */
  async messageCount(queue: string): Promise<number | undefined> {
    return this.withChannel(async (channel) => (await channel.checkQueue(queue)).messageCount).catch(() => undefined);
  }

  async exchangeExists(exchange: string): Promise<boolean> {
    return this.withChannel(async (channel) => {
      await channel.checkExchange(exchange);
      return true;
    }).catch(() => false);
  }

  /**
   * Queues under `prefix` as the broker reports them (`rabbitmqctl list_queues`).
   * The message counts here are statistics emitted every few seconds: for
   * exact counts use `messageCount` (a passive declare).
   */
  async queues(prefix: string): Promise<Map<string, QueueInfo>> {
    const rows = JSON.parse(await rabbitmqctl(this.node, 'list_queues', 'name', 'type', 'arguments', 'messages', 'messages_ready', 'messages_unacknowledged', '--formatter', 'json')) as {
      name: string;
      type: string;
      arguments: [string, string, unknown][];
      messages: number;
      messages_ready: number;
      messages_unacknowledged: number;
    }[];
    const result = new Map<string, QueueInfo>();
    for (const row of rows.filter((r) => r.name.startsWith(`${prefix}.`))) {
      result.set(row.name, {
        name: row.name,
        type: row.type,
        arguments: Object.fromEntries(row.arguments.map(([key, , value]) => [key, value])),
        messages: row.messages,
        messagesReady: row.messages_ready,
        messagesUnacknowledged: row.messages_unacknowledged,
      });
    }
    return result;
  }

  /** Exchanges under `prefix` with their types (`rabbitmqctl list_exchanges`). */
  async exchanges(prefix: string): Promise<Map<string, { type: string; durable: boolean }>> {
    const rows = JSON.parse(await rabbitmqctl(this.node, 'list_exchanges', 'name', 'type', 'durable', '--formatter', 'json')) as { name: string; type: string; durable: boolean }[];
    return new Map(rows.filter((r) => r.name.startsWith(`${prefix}.`)).map((r) => [r.name, { type: r.type, durable: r.durable }]));
  }

  /** Bindings from exchanges under `prefix` (`rabbitmqctl list_bindings`). */
  async bindings(prefix: string): Promise<BindingInfo[]> {
    const rows = JSON.parse(await rabbitmqctl(this.node, 'list_bindings', 'source_name', 'destination_name', 'routing_key', '--formatter', 'json')) as {
      source_name: string;
      destination_name: string;
      routing_key: string;
    }[];
    return rows.filter((r) => r.source_name.startsWith(`${prefix}.`)).map((r) => ({ source: r.source_name, destination: r.destination_name, routingKey: r.routing_key }));
  }

  /**
   * Has the broker close the client connections named `connectionName` (the
   * test's own, by its unique `connection_name`), as a network failure or an
   * operator would: a connection fault without stopping the node.
   */
  async forceCloseConnections(connectionName: string): Promise<number> {
    const rows = (await rabbitmqctl(this.node, 'list_connections', 'pid', 'client_properties')).split('\n');
    const pids = rows.filter((row) => row.includes(`{"connection_name","${connectionName}"}`)).map((row) => row.split('\t')[0] ?? '');
    for (const pid of pids) await rabbitmqctl(this.node, 'close_connection', pid, 'closed by a Courier test');
    return pids.length;
  }

  /** Deletes every queue and exchange Courier declares under `prefix`, plus any `extraQueues`. */
  async cleanup(prefix: string, practices: readonly string[], extraQueues: readonly string[] = []): Promise<void> {
    const cleaner = await this.connection.createChannel();
    cleaner.on('error', () => undefined);
    for (const queue of [...practices.map((p) => `${prefix}.gp.${p}`), `${prefix}.dead-letter`, `${prefix}.inbound`, ...extraQueues]) {
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

/** The first port from `from` nothing listens on (another test's node may hold the preferred one). */
async function freePort(from: number): Promise<number> {
  for (let port = from; port < from + 50; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}..${from + 49}`);
}

/**
 * Whether a process with this pid is running. A zombie counts as dead: a
 * detached node's parent is init, which on some machines (this one's
 * firecracker init) never reaps it. Without /proc, signal 0 decides.
 */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).charAt(0); // after "pid (comm) "
    return state !== 'Z' && state !== 'X';
  } catch {
    // no /proc entry: gone, or no /proc on this system
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, not ours to signal
  }
}

/**
 * A RabbitMQ node of the test's own (TESTING.md recipe) for fault tests that
 * stop the broker; the shared node on 5672 is never touched. This machine's
 * /etc/rabbitmq/rabbitmq.conf pins `listeners.tcp.local` to 5672, which beats
 * RABBITMQ_NODE_PORT, so the node gets a config file of its own naming its
 * port (without it the node dies with eaddrinuse). rabbitmq-server drops to
 * the rabbitmq user, so its directory is chowned to that user.
 */
export class OwnRabbitNode {
  private constructor(
    readonly node: string,
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  static async start(name: string, preferredPort = 5679): Promise<OwnRabbitNode> {
    const port = await freePort(preferredPort);
    const dir = await mkdtemp(join(tmpdir(), 'courier-amqp-node-'));
    await writeFile(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\n`);
    await run('mkdir', ['-p', join(dir, 'mnesia'), join(dir, 'log')]);
    await run('chown', ['-R', 'rabbitmq:rabbitmq', dir]);
    const own = new OwnRabbitNode(`${name}@localhost`, port, dir);
    await own.launch();
    return own;
  }

  /** Starts the node (again) on its port and data directory and waits until it is up. */
  private async launch(): Promise<void> {
    await run('rabbitmq-server', ['-detached'], {
      env: {
        ...process.env,
        RABBITMQ_NODENAME: this.node,
        RABBITMQ_NODE_PORT: String(this.port),
        RABBITMQ_DIST_PORT: String(this.port + 20_000),
        RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
        RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
        RABBITMQ_LOG_BASE: join(this.dir, 'log'),
        RABBITMQ_PID_FILE: join(this.dir, 'pid'),
      },
    });
    // Until the node has registered with epmd, await_startup fails at once: retry for a while.
    await waitFor(`node ${this.node} to start`, () => this.ctl('await_startup', '--timeout', '60').then(() => true, () => undefined), 90_000);
  }

  /** The OS pid of the node's Erlang VM (beam.smp), from the pid file the node writes; undefined when it is not running. */
  async pid(): Promise<number | undefined> {
    const text = await readFile(join(this.dir, 'pid'), 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  }

  /**
   * SIGKILLs the node's Erlang VM, as a crash or the OOM killer would: no
   * clean shutdown, sockets reset by the kernel. Resolves once the process is
   * gone. Only this node's own pid (its pid file) is signalled.
   */
  async kill(): Promise<void> {
    const pid = await this.pid();
    if (pid === undefined) throw new Error(`node ${this.node} is not running (no live pid in its pid file)`);
    process.kill(pid, 'SIGKILL');
    await waitFor(`node ${this.node} (pid ${pid}) to die`, () => (isAlive(pid) ? undefined : true), 30_000);
    await rm(join(this.dir, 'pid'), { force: true }); // a later pid() must not find a reused number
  }

  /** Starts a stopped or killed node again on the same port and data directory (durable queues and messages kept). */
  async restart(): Promise<void> {
    await this.launch();
  }

  async ctl(...args: string[]): Promise<string> {
    return rabbitmqctl(this.node, ...args);
  }

  /** Stops the node (killing it if it will not stop) and removes its files. */
  async stop(): Promise<void> {
    await this.ctl('stop').catch(() => undefined); // already down: nothing to stop
    const pid = await this.pid();
    if (pid !== undefined) process.kill(pid, 'SIGKILL'); // still running (a launch that never came up): never leave it behind
    await rm(this.dir, { recursive: true, force: true });
  }
}
