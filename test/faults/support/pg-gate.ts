import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP gate in front of PostgreSQL, so a fault test can take the database
 * away from one Courier without stopping the shared server other tests use.
 * Courier connects to the gate's port; `cut()` does what a database crash or
 * failover does to it: every open connection is reset and new ones are
 * refused (nothing listens) until `restore()`. Only the gate's own sockets
 * are touched.
 */
export class PgGate {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Connections made through the gate since it opened. */
  connectionsMade = 0;

  private constructor(
    readonly port: number,
    private readonly target: { readonly host: string; readonly port: number },
  ) {}

  /** Opens a gate on a free local port, forwarding to `target` (default the test server on 127.0.0.1:5432). */
  static async open(target: { host: string; port: number } = { host: '127.0.0.1', port: 5432 }): Promise<PgGate> {
    const probe = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const gate = new PgGate(port, target);
    await gate.restore();
    return gate;
  }

  /** `url` (a postgres:// URL) pointed at the gate instead of its own host and port. */
  url(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  get isOpen(): boolean {
    return this.server !== undefined;
  }

  /** Resets every connection through the gate and stops listening: connects are refused until `restore()`. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createServer((client) => this.forward(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Cuts everything and stops for good. */
  async close(): Promise<void> {
    await this.cut();
  }

  private forward(client: Socket): void {
    if (this.server === undefined) {
      client.resetAndDestroy(); // accepted in the instant of a cut
      return;
    }
    this.connectionsMade++;
    const upstream = createConnection({ host: this.target.host, port: this.target.port });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined); // a reset is the point of the gate; the other side is destroyed below
      socket.on('close', () => {
        this.sockets.delete(socket);
        (socket === client ? upstream : client).destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
