import { createServer, connect, type Server, type Socket } from 'node:net';

export interface FaultProxyOptions {
  /** Where connections are forwarded (e.g. a test's own RabbitMQ node). */
  readonly target: { readonly host: string; readonly port: number };
}

/** One direction of a proxied connection: bytes read from `from`, waiting to be written to `to`. */
interface Lane {
  readonly queue: { readonly chunk: Buffer; readonly due: number }[];
  /** `from` sent FIN (or ended): end `to` once the queue is written. */
  ended: boolean;
  /** `from` died without a FIN (error, reset): reset `to` once the queue is written. */
  broken: boolean;
  timer: NodeJS.Timeout | undefined;
}

interface Link {
  readonly client: Socket;
  /** Undefined until the proxy connects onward (not while blackholed: nothing reaches the target). */
  upstream: Socket | undefined;
  upstreamUp: boolean;
  readonly toUpstream: Lane;
  readonly toClient: Lane;
}

const newLane = (): Lane => ({ queue: [], ended: false, broken: false, timer: undefined });

/**
 * A TCP fault proxy for the faults suite (issue 6), between a client (Courier)
 * and a server (the test's own RabbitMQ node), in the spirit of Toxiproxy:
 * - `setLatency(ms)` delays every chunk, each direction, by `ms` (order kept);
 * - `blackhole(true)` keeps accepting connections and reading bytes but
 *   forwards nothing and closes nothing, either way, so both ends see a
 *   healthy TCP connection that has gone silent: only an application-level
 *   timeout (AMQP heartbeats) can tell. Connections accepted meanwhile are
 *   not connected onward. `blackhole(false)` is the partition healing: what
 *   was held is delivered in order (as TCP retransmission would), held
 *   connections are connected onward, and a close that happened meanwhile
 *   is passed on;
 * - `resetAll()` destroys every live connection, both sides, with a TCP RST.
 * It touches nothing but the sockets it accepted and opened itself.
 */
export class FaultProxy {
  private readonly links = new Set<Link>();
  private latencyMs = 0;
  private holding = false;
  /** Connections accepted since start. */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    private readonly options: FaultProxyOptions,
    readonly port: number,
  ) {}

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ allowHalfOpen: true });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('proxy has no TCP address'));
        else resolve(address.port);
      });
    });
    const proxy = new FaultProxy(server, options, port);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** `url` (amqp://user:pass@host:port/vhost?query) pointed at the proxy instead, all else kept. */
  urlFor(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  /** Live connections (accepted, not yet closed or reset). */
  get connections(): number {
    return this.links.size;
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  blackhole(on: boolean): void {
    this.holding = on;
    if (on) return;
    for (const link of this.links) {
      if (link.upstream === undefined) this.connectOnward(link);
      else this.pumpBoth(link);
    }
  }

  /** Resets (RST) both sides of every live connection; returns how many connections that was. */
  resetAll(): number {
    const count = this.links.size;
    for (const link of [...this.links]) this.drop(link);
    return count;
  }

  /** Resets every connection and stops listening. */
  async stop(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.accepted++;
    const link: Link = { client, upstream: undefined, upstreamUp: false, toUpstream: newLane(), toClient: newLane() };
    this.links.add(link);
    client.setNoDelay(true);
    this.read(link, client, link.toUpstream);
    if (!this.holding) this.connectOnward(link);
  }

  private connectOnward(link: Link): void {
    const upstream = connect({ host: this.options.target.host, port: this.options.target.port, allowHalfOpen: true });
    link.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.once('connect', () => {
      link.upstreamUp = true;
      this.pumpBoth(link);
    });
    this.read(link, upstream, link.toClient);
  }

  /** Everything `socket` says or does goes into `lane`, to be passed on by `pump`. */
  private read(link: Link, socket: Socket, lane: Lane): void {
    socket.on('data', (chunk: Buffer) => {
      lane.queue.push({ chunk, due: Date.now() + this.latencyMs });
      this.pumpBoth(link);
    });
    socket.on('end', () => {
      lane.ended = true;
      this.pumpBoth(link);
    });
    socket.on('error', () => {
      lane.broken = true; // reported to the other side as a reset, once what it sent before is passed on
    });
    socket.on('close', () => {
      if (!lane.ended) lane.broken = true;
      this.pumpBoth(link);
    });
  }

  private pumpBoth(link: Link): void {
    if (!this.links.has(link)) return;
    if (link.upstreamUp && link.upstream !== undefined) this.pump(link.toUpstream, link.upstream);
    else if (link.upstream === undefined && !this.holding && (link.toUpstream.ended || link.toUpstream.broken)) link.client.destroy(); // gone before it was connected onward
    this.pump(link.toClient, link.client);
    if (link.client.destroyed && (link.upstream === undefined || link.upstream.destroyed)) this.forget(link);
  }

  /** Writes what is due from `lane` to `to`; passes an end or a reset on once the lane is empty. Nothing while blackholed. */
  private pump(lane: Lane, to: Socket): void {
    if (this.holding || to.destroyed) return;
    clearTimeout(lane.timer);
    lane.timer = undefined;
    const now = Date.now();
    while (lane.queue.length > 0) {
      const head = lane.queue[0];
      if (head === undefined) break;
      if (head.due > now) {
        lane.timer = setTimeout(() => this.pump(lane, to), head.due - now);
        return;
      }
      lane.queue.shift();
      to.write(head.chunk);
    }
    if (lane.broken) to.resetAndDestroy();
    else if (lane.ended && !to.writableEnded) to.end();
  }

  private drop(link: Link): void {
    for (const lane of [link.toUpstream, link.toClient]) {
      clearTimeout(lane.timer);
      lane.queue.length = 0;
    }
    this.forget(link);
    if (!link.client.destroyed) link.client.resetAndDestroy();
    if (link.upstream !== undefined && !link.upstream.destroyed) link.upstream.resetAndDestroy();
  }

  private forget(link: Link): void {
    this.links.delete(link);
  }
}
