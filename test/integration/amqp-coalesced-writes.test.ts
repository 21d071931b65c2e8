import { expect } from 'chai';
import { connect } from 'amqplib';
import { createServer, Socket, type Server } from 'node:net';
import { once } from 'node:events';
import { amqplibSocket, coalesceWritesPerTick } from '../../src/adapters/amqp/coalesced-writes.js';
import { TEST_AMQP_URL } from '../support/rabbit.js';

/** The writes of one tick leave as one, in order, at the end of that tick (src/adapters/amqp/coalesced-writes.ts). */
describe('AMQP socket writes coalesced per tick', () => {
  let server: Server;
  let received: Buffer[];
  let peerClosed: Promise<unknown>;
  let sockets: Socket[];
  beforeEach(async () => {
    received = [];
    sockets = [];
    server = createServer((peer) => {
      sockets.push(peer);
      peer.on('data', (chunk: Buffer) => received.push(chunk));
      peerClosed = once(peer, 'close');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  afterEach(async () => {
    for (const socket of sockets) socket.destroy(); // a failed test leaves its connection open, and close waits for it
    server.close();
    await once(server, 'close');
  });

  const connected = async (): Promise<Socket> => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const socket = new Socket();
    sockets.push(socket);
    socket.setNoDelay(true);
    socket.connect(address.port, '127.0.0.1');
    await once(socket, 'connect');
    return socket;
  };

  it('holds what a tick writes, then sends all of it in order when the tick ends', async () => {
    const socket = await connected();
    coalesceWritesPerTick(socket);
    const frames = Array.from({ length: 50 }, (_, i) => Buffer.from(`frame ${i};`));
    for (const frame of frames) socket.write(frame);
    expect(socket.writableCorked, 'held during the tick').to.equal(1);
    expect(socket.writableLength).to.equal(Buffer.concat(frames).length);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(socket.writableCorked, 'released when the tick ends').to.equal(0);
    socket.end();
    await peerClosed;
    expect(Buffer.concat(received).toString()).to.equal(Buffer.concat(frames).toString());
  });

  it('holds each later tick\'s writes again, and leaves a socket destroyed in the tick alone', async () => {
    const socket = await connected();
    coalesceWritesPerTick(socket);
    socket.write('one;');
    await new Promise((resolve) => process.nextTick(resolve));
    socket.write('two;');
    expect(socket.writableCorked).to.equal(1);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(socket.writableCorked).to.equal(0);
    socket.write('three;');
    socket.destroy();
    await new Promise((resolve) => process.nextTick(resolve)); // the release must not throw on a destroyed socket
    await peerClosed;
    expect(Buffer.concat(received).toString()).to.equal('one;two;');
  });

  it('finds the socket under a real amqplib connection (the property amqplib does not type)', async () => {
    const model = await connect(TEST_AMQP_URL);
    try {
      expect(amqplibSocket(model.connection)).to.be.instanceOf(Socket);
      expect(amqplibSocket(undefined)).to.equal(undefined);
      expect(amqplibSocket({ stream: 'not a socket' })).to.equal(undefined);
    } finally {
      await model.close();
    }
  });
});
