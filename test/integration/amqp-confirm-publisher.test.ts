import { expect } from 'chai';
import type { ConsumeMessage } from 'amqplib';
import { BrokerConnection } from '../../src/adapters/amqp/broker-connection.js';
import { ConfirmPublisher, PUBLISH_ID_HEADER, type PublishResult } from '../../src/adapters/amqp/confirm-publisher.js';
import { declareTopology } from '../../src/adapters/amqp/topology.js';
import { isOdsCode, type OdsCode } from '../../src/domain/ids.js';
import { captureLogger, randomPrefix, RabbitProbe, TEST_AMQP_URL, waitFor } from '../support/rabbit.js';

const A = 'A81001' as OdsCode;

describe('ConfirmPublisher', function () {
  this.timeout(60_000);
  const prefix = randomPrefix();
  const queue = `${prefix}.gp.${A}`;
  const outbound = `${prefix}.outbound`;
  let probe: RabbitProbe;
  let broker: BrokerConnection;
  const publishers: ConfirmPublisher[] = [];
  let unhandled: unknown[];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  function publisher(maxInFlight?: number): ConfirmPublisher {
    const created = new ConfirmPublisher(broker, { logger: captureLogger().logger, ...(maxInFlight === undefined ? {} : { maxInFlight }) });
    publishers.push(created);
    return created;
  }

  /** Takes every message off the queue (through the probe), in queue order. */
  async function drainQueue(expected: number): Promise<ConsumeMessage[]> {
    return probe.withChannel(async (channel) => {
      const taken: ConsumeMessage[] = [];
      await channel.prefetch(500);
      await channel.consume(queue, (message) => {
        if (message === null) return;
        taken.push(message);
        channel.ack(message);
      });
      await waitFor(`${expected} messages`, () => (taken.length >= expected ? true : undefined), 30_000);
      return taken;
    });
  }

  before(async () => {
    if (!isOdsCode(A)) throw new Error('bad ODS code');
    unhandled = [];
    process.on('unhandledRejection', onUnhandled);
    probe = await RabbitProbe.open();
    broker = await BrokerConnection.open(TEST_AMQP_URL, { logger: captureLogger().logger });
    await broker.withChannel((channel) => declareTopology(channel, prefix, [A], { deliveryLimit: 10 }));
  });
  afterEach(async () => {
    await probe.channel.purgeQueue(queue);
  });
  after(async () => {
    for (const created of publishers) await created.close();
    await broker?.close();
    await probe?.cleanup(prefix, [A]);
    await probe?.close();
    process.off('unhandledRejection', onUnhandled);
  });

  it('confirms 1,000 windowed publishes, all on the queue in order, persistent and with their properties', async () => {
    const p = publisher(256);
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        p.publish(outbound, A, Buffer.from(`letter ${i}`), { messageId: `m-${i}`, contentType: 'application/fhir+json', type: 'ITK003D', headers: { 'x-courier-sequence': i + 1 } }),
      ),
    );
    expect(results.every((r) => r.outcome === 'confirmed')).to.equal(true);
    expect(p.pending).to.equal(0);
    expect(await probe.messageCount(queue)).to.equal(1000);
    const messages = await drainQueue(1000);
    expect(messages.map((m) => m.content.toString())).to.deep.equal(Array.from({ length: 1000 }, (_, i) => `letter ${i}`));
    const first = messages[0]!;
    expect(first.properties).to.include({ messageId: 'm-0', contentType: 'application/fhir+json', type: 'ITK003D', deliveryMode: 2 });
    expect(first.properties.headers?.['x-courier-sequence']).to.equal(1);
    expect(first.properties.headers?.[PUBLISH_ID_HEADER]).to.be.a('string');
  });

  it('keeps call order with a window of one', async () => {
    const p = publisher(1);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => p.publish(outbound, A, Buffer.from(String(i)))));
    expect(results.every((r) => r.outcome === 'confirmed')).to.equal(true);
    expect((await drainQueue(20)).map((m) => Number(m.content.toString()))).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
  });

  it("reports an unroutable mandatory publish 'returned' although the broker confirms it", async () => {
    const result = await publisher().publish(outbound, 'Z99999', Buffer.from('nowhere'), { messageId: 'lost-1' });
    expect(result).to.deep.equal({ outcome: 'returned', replyCode: 312, replyText: 'NO_ROUTE' });
  });

  it('correlates returns with their own publishes when routable and unroutable ones interleave', async () => {
    const p = publisher(64);
    const keys = Array.from({ length: 200 }, (_, i) => (i % 7 === 3 ? 'Z99999' : A));
    // The same messageId on every publish: correlation must not depend on it.
    const results = await Promise.all(keys.map((key) => p.publish(outbound, key, Buffer.from(key), { messageId: 'same-id' })));
    results.forEach((result, i) => expect(result.outcome, `publish ${i}`).to.equal(keys[i] === A ? 'confirmed' : 'returned'));
    expect(await probe.messageCount(queue)).to.equal(keys.filter((k) => k === A).length);
  });

  it('does not report a non-mandatory unroutable publish as returned (status events may have no subscriber)', async () => {
    expect(await publisher().publish(`${prefix}.events`, 'filed.A81001', Buffer.from('{}'), { mandatory: false })).to.deep.equal({ outcome: 'confirmed' });
  });

  it('waits for drain when amqplib reports a full write buffer, and still confirms everything', async () => {
    const p = publisher(5000);
    const body = Buffer.alloc(8 * 1024, 1);
    const results = await Promise.all(Array.from({ length: 3000 }, () => p.publish(outbound, A, body)));
    expect(p.drainWaits).to.be.greaterThan(0);
    expect(results.every((r) => r.outcome === 'confirmed')).to.equal(true);
    expect(await probe.messageCount(queue)).to.equal(3000);
  });

  it("resolves every unconfirmed publish 'connection-lost' when its channel dies, then publishes on a new channel", async () => {
    const p = publisher(256);
    const before = Array.from({ length: 300 }, (_, i) => p.publish(outbound, A, Buffer.from(`a${i}`)));
    // Publishing to a missing exchange makes the broker close the channel (404), with publishes in flight.
    const killer = p.publish(`${prefix}.no-such-exchange`, A, Buffer.from('x'));
    const after = Array.from({ length: 50 }, (_, i) => p.publish(outbound, A, Buffer.from(`b${i}`)));
    const results: PublishResult[] = await Promise.all([...before, killer, ...after]);
    const outcomes = new Set(results.map((r) => r.outcome));
    expect([...outcomes].every((o) => o === 'confirmed' || o === 'connection-lost')).to.equal(true);
    expect((await killer).outcome).to.equal('connection-lost');
    // The channel comes back by itself; nothing rejects.
    const again = await waitFor('a confirmed publish on the new channel', async () => {
      const result = await p.publish(outbound, A, Buffer.from('again'));
      return result.outcome === 'confirmed' ? result : undefined;
    });
    expect(again.outcome).to.equal('confirmed');
    expect(unhandled).to.deep.equal([]);
  });

  it("resolves 'connection-lost' at once while the broker is unreachable, and after close()", async () => {
    const closed = publisher();
    await closed.close();
    expect(await closed.publish(outbound, A, Buffer.from('late'))).to.deep.equal({ outcome: 'connection-lost' });
    const down = await BrokerConnection.open(TEST_AMQP_URL, { logger: captureLogger().logger });
    const q = new ConfirmPublisher(down, { logger: captureLogger().logger });
    await down.close();
    expect(await q.publish(outbound, A, Buffer.from('late'))).to.deep.equal({ outcome: 'connection-lost' });
  });
});
