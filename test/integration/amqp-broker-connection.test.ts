import { expect } from 'chai';
import { createServer, type AddressInfo } from 'node:net';
import { BrokerConnection, maskUrl, withHeartbeat } from '../../src/adapters/amqp/broker-connection.js';
import { consume, type Delivery } from '../../src/adapters/amqp/consumer.js';
import { ConfirmPublisher } from '../../src/adapters/amqp/confirm-publisher.js';
import { declareTopology } from '../../src/adapters/amqp/topology.js';
import { BrokerUnavailableError } from '../../src/app/errors.js';
import type { OdsCode } from '../../src/domain/ids.js';
import { captureLogger, randomPrefix, RabbitProbe, TEST_AMQP_URL, waitFor } from '../support/rabbit.js';

const A = 'A81001' as OdsCode;

describe('BrokerConnection', function () {
  this.timeout(60_000);
  const prefix = randomPrefix();
  let probe: RabbitProbe;

  before(async () => {
    probe = await RabbitProbe.open();
  });
  after(async () => {
    await probe?.cleanup(prefix, [A]);
    await probe?.close();
  });

  it('masks the password of a URL, and only the password', () => {
    expect(maskUrl('amqp://courier:s3cret@rabbit.example:5672/vhost')).to.equal('amqp://courier:***@rabbit.example:5672/vhost');
    expect(maskUrl('amqps://guest@host')).to.equal('amqps://guest@host');
    expect(maskUrl('not a url with secret')).to.equal('(unparseable URL)');
  });

  it('proposes the configured heartbeat through the URL, unless the URL names one', () => {
    expect(withHeartbeat('amqp://guest:s%40cret@host:5672/%2Fvh?frameMax=4096', 10)).to.equal('amqp://guest:s%40cret@host:5672/%2Fvh?frameMax=4096&heartbeat=10');
    expect(withHeartbeat('amqp://host?heartbeat=30', 10)).to.equal('amqp://host?heartbeat=30');
    expect(withHeartbeat('amqp://host', undefined)).to.equal('amqp://host');
  });

  it('runs the connection on the heartbeat it proposed', async () => {
    const broker = await BrokerConnection.open(TEST_AMQP_URL, { logger: captureLogger().logger, heartbeatSeconds: 7 });
    try {
      // amqplib keeps the negotiated value on the connection without typing it.
      const connection = broker.currentModel()?.connection as { heartbeat?: unknown } | undefined;
      expect(connection?.heartbeat).to.equal(7);
    } finally {
      await broker.close();
    }
  });

  it('opens, reports itself connected, logs the URL masked, and closes idempotently', async () => {
    const log = captureLogger();
    const broker = await BrokerConnection.open(TEST_AMQP_URL, { logger: log.logger });
    expect(broker.isConnected()).to.equal(true);
    await Promise.all([broker.close(), broker.close()]);
    await broker.close();
    expect(broker.isConnected()).to.equal(false);
    const connected = log.lines.find((line) => line.includes('broker connected'));
    expect(connected).to.include(maskUrl(TEST_AMQP_URL));
    const password = new URL(TEST_AMQP_URL).password;
    if (password !== '') for (const line of log.lines) expect(line).to.not.include(`:${password}@`);
  });

  it('fails fast with BrokerUnavailableError when nothing listens, without an unhandled error', async () => {
    const log = captureLogger();
    const started = Date.now();
    const error: unknown = await BrokerConnection.open('amqp://guest:guest@127.0.0.1:1', {
      logger: log.logger,
      initialMaxRetries: 2,
      reconnectDelay: { initialMs: 50, maxMs: 100 },
    }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(BrokerUnavailableError);
    expect(Date.now() - started).to.be.lessThan(5_000);
    expect(log.lines.some((line) => line.includes('broker connection attempt failed'))).to.equal(true);
  });

  it('gives up on a peer that accepts the connection and never answers the handshake (connect timeout), instead of waiting for ever', async () => {
    const silent = createServer(() => undefined); // accepts, says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const port = (silent.address() as AddressInfo).port;
    try {
      const error: unknown = await BrokerConnection.open(`amqp://guest:guest@127.0.0.1:${port}`, {
        logger: captureLogger().logger,
        initialMaxRetries: 1,
        connectTimeoutMs: 300,
        reconnectDelay: { initialMs: 50, maxMs: 100 },
      }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(BrokerUnavailableError);
    } finally {
      silent.close();
    }
  });

  it('reconnects after the broker drops the connection, re-creating managed channels, consumers and onConnect work', async () => {
    const name = `courier-test-${prefix}`;
    const log = captureLogger();
    const broker = await BrokerConnection.open(TEST_AMQP_URL, { logger: log.logger, connectionName: name, reconnectDelay: { initialMs: 50, maxMs: 500 } });
    try {
      await broker.withChannel((channel) => declareTopology(channel, prefix, [A], { deliveryLimit: 10 }));
      const events: string[] = [];
      broker.on('connected', () => events.push('connected'));
      broker.on('disconnected', () => events.push('disconnected'));
      let setups = 0;
      await broker.onConnect(() => Promise.resolve(void setups++));
      const seen: Delivery[] = [];
      const consumer = await consume(broker, `${prefix}.gp.${A}`, (delivery) => Promise.resolve(void seen.push(delivery)).then(() => 'ack' as const), {
        logger: log.logger,
      });
      const publisher = new ConfirmPublisher(broker, { logger: log.logger });
      expect(setups).to.equal(1);

      expect(await probe.forceCloseConnections(name)).to.equal(1);
      await waitFor('disconnected then connected', () => (events.join(',') === 'disconnected,connected' ? true : undefined), 15_000);
      expect(setups).to.equal(2);
      await waitFor('the consumer to be back', () => (consumer.isConsuming() ? true : undefined), 15_000);
      expect(await publisher.publish(`${prefix}.outbound`, A, Buffer.from('after'))).to.deep.equal({ outcome: 'confirmed' });
      await waitFor('the delivery', () => (seen.length === 1 ? true : undefined));
      expect(log.lines.some((line) => line.includes('broker connection lost; reconnecting'))).to.equal(true);
    } finally {
      await broker.close();
    }
  });

  it('never hands out a channel that closed while its setup ran, and opens a working one after reconnection', async () => {
    const name = `courier-test-${prefix}-setup`;
    const log = captureLogger();
    const broker = await BrokerConnection.open(TEST_AMQP_URL, { logger: log.logger, connectionName: name, reconnectDelay: { initialMs: 50, maxMs: 500 } });
    try {
      let setups = 0;
      const managed = broker.createChannel({
        name: 'setup-race',
        // The first setup is still running when the connection drops, and does not fail for it
        // (as when its last reply and the broker's connection.close arrive in one read).
        setup: async (channel) => {
          if (++setups > 1) return;
          const closed = new Promise((resolve) => channel.once('close', resolve));
          await probe.forceCloseConnections(name);
          await closed;
        },
      });
      const usable = await waitFor(
        'a working channel after reconnection',
        async () => {
          const channel = managed.current;
          if (channel === undefined) return undefined;
          return (await channel.checkExchange('amq.direct').then(() => true, () => undefined)) ? channel : undefined;
        },
        15_000,
      );
      expect(setups).to.be.greaterThan(1);
      expect(await usable.checkExchange('amq.topic')).to.deep.equal({});
      await managed.close();
    } finally {
      await broker.close();
    }
  });
});
