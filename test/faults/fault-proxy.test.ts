import { expect } from 'chai';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { FaultProxy } from './support/fault-proxy.js';
import { waitFor } from '../support/rabbit.js';

/** A client socket with everything it saw. */
interface Client {
  readonly socket: Socket;
  received: string;
  ended: boolean;
  closed: boolean;
  errorCode: string | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function openClient(port: number): Promise<Client> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const client: Client = { socket, received: '', ended: false, closed: false, errorCode: undefined };
  socket.on('data', (chunk: Buffer) => (client.received += chunk.toString('utf8')));
  socket.on('end', () => (client.ended = true));
  socket.on('close', () => (client.closed = true));
  socket.on('error', (error: NodeJS.ErrnoException) => (client.errorCode = error.code));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return client;
}

/** The fault proxy (test/faults/support/fault-proxy.ts) against a local echo server: no broker needed. */
describe('faults: the TCP fault proxy', function () {
  this.timeout(10_000);
  let echo: Server;
  let echoPort: number;
  /** Server-side sockets, with whether each was reset. */
  const serverSide: { socket: Socket; received: string; reset: boolean; closed: boolean }[] = [];
  let proxy: FaultProxy;
  const clients: Client[] = [];
  const client = async (): Promise<Client> => {
    const opened = await openClient(proxy.port);
    clients.push(opened);
    return opened;
  };

  before(async () => {
    echo = createServer({ allowHalfOpen: true }, (socket) => {
      const entry = { socket, received: '', reset: false, closed: false };
      serverSide.push(entry);
      socket.on('data', (chunk: Buffer) => {
        entry.received += chunk.toString('utf8');
        socket.write(chunk);
      });
      socket.on('error', (error: NodeJS.ErrnoException) => (entry.reset ||= error.code === 'ECONNRESET'));
      socket.on('close', () => (entry.closed = true));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as AddressInfo).port;
  });
  beforeEach(async () => {
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: echoPort } });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    for (const s of serverSide.splice(0)) s.socket.destroy();
    await proxy.stop();
  });
  after(async () => {
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  it('rewrites a URL to point at itself, credentials, vhost and query kept', () => {
    expect(proxy.urlFor('amqp://guest:s%40cret@localhost:5679/%2Fvh?heartbeat=2')).to.equal(`amqp://guest:s%40cret@127.0.0.1:${proxy.port}/%2Fvh?heartbeat=2`);
  });

  it('forwards both ways, and delays each direction by the latency set', async () => {
    const c = await client();
    c.socket.write('fast');
    await waitFor('the echo', () => (c.received === 'fast' ? true : undefined));
    proxy.setLatency(150);
    const started = Date.now();
    c.socket.write('|slow-1');
    c.socket.write('|slow-2');
    await waitFor('the delayed echo', () => (c.received === 'fast|slow-1|slow-2' ? true : undefined));
    // Out and back: two delays. A lower bound only (timers never fire more than a millisecond early).
    expect(Date.now() - started).to.be.at.least(2 * 150 - 2);
  });

  it('blackholed: accepts and holds connections and bytes, forwards and closes nothing; healed: delivers them in order', async () => {
    const before = await client();
    const closedByServer = await client();
    await waitFor('both connected onward', () => (serverSide.filter((s) => !s.closed).length >= 2 ? true : undefined));
    const serverOfClosed = serverSide[serverSide.length - 1];
    const seenByServer = serverSide.length;

    proxy.blackhole(true);
    before.socket.write('held-1');
    before.socket.write('|held-2');
    const during = await client(); // accepted by the proxy, not connected onward
    during.socket.write('held-3');
    // The server closes its side of one connection: the client must not hear of it while blackholed.
    serverOfClosed?.socket.end();
    await sleep(300); // a span in which nothing may happen
    expect(serverSide.length, 'connections reaching the server').to.equal(seenByServer);
    expect(serverSide.map((s) => s.received).join(''), 'bytes reaching the server').to.equal('');
    expect([before, during, closedByServer].map((c) => [c.received, c.ended, c.closed])).to.deep.equal([
      ['', false, false],
      ['', false, false],
      ['', false, false],
    ]);
    expect(proxy.connections).to.equal(3);

    proxy.blackhole(false);
    await waitFor('held bytes delivered and echoed', () => (before.received === 'held-1|held-2' && during.received === 'held-3' ? true : undefined));
    await waitFor('the held close passed on', () => (closedByServer.ended ? true : undefined));
  });

  it('resetAll() destroys both sides of every connection with a reset', async () => {
    const c = await client();
    c.socket.write('hello');
    await waitFor('the echo', () => (c.received === 'hello' ? true : undefined));
    const server = serverSide[serverSide.length - 1];
    expect(proxy.resetAll()).to.equal(1);
    await waitFor('the client reset', () => (c.closed ? true : undefined));
    expect(c.errorCode).to.equal('ECONNRESET');
    await waitFor('the server side reset', () => (server?.closed === true ? true : undefined));
    expect(server?.reset).to.equal(true);
    expect(proxy.connections).to.equal(0);
    // The proxy still accepts new connections afterwards.
    const again = await client();
    again.socket.write('again');
    await waitFor('the echo after the reset', () => (again.received === 'again' ? true : undefined));
  });

  it('passes a refused onward connection on as a reset', async () => {
    const nowhere = await FaultProxy.start({ target: { host: '127.0.0.1', port: 1 } });
    try {
      const c = await openClient(nowhere.port);
      clients.push(c);
      await waitFor('the client reset', () => (c.closed ? true : undefined));
      expect(c.errorCode).to.equal('ECONNRESET');
    } finally {
      await nowhere.stop();
    }
  });
});
