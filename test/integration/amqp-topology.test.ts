import { expect } from 'chai';
import { BrokerConnection } from '../../src/adapters/amqp/broker-connection.js';
import { ConfirmPublisher } from '../../src/adapters/amqp/confirm-publisher.js';
import { declareTopology, TopologyConflictError, versionAtLeast, type TopologyReport } from '../../src/adapters/amqp/topology.js';
import { ConfigInvalidError } from '../../src/app/errors.js';
import { isOdsCode, type OdsCode } from '../../src/domain/ids.js';
import { captureLogger, randomPrefix, RabbitProbe, TEST_AMQP_URL, waitFor } from '../support/rabbit.js';

function ods(value: string): OdsCode {
  if (!isOdsCode(value)) throw new Error(`bad test ODS code ${value}`);
  return value;
}

const A = ods('A81001');
const B = ods('B82002');
const C = ods('C83003');

describe('AMQP topology (DESIGN §3)', function () {
  this.timeout(60_000);
  let probe: RabbitProbe;
  let broker: BrokerConnection;
  const prefixes: string[] = [];

  function declare(prefix: string, practices: OdsCode[], deliveryLimit = 10): Promise<TopologyReport> {
    return broker.withChannel((channel) => declareTopology(channel, prefix, practices, { deliveryLimit }));
  }

  function newPrefix(): string {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    return prefix;
  }

  before(async () => {
    probe = await RabbitProbe.open();
    broker = await BrokerConnection.open(TEST_AMQP_URL, { logger: captureLogger().logger });
  });
  after(async () => {
    await broker?.close();
    for (const prefix of prefixes) await probe.cleanup(prefix, [A, B, C]);
    await probe?.close();
  });

  it('declares exchanges, quorum queues with delivery limit and at-least-once dead-lettering, and bindings', async () => {
    const p = newPrefix();
    const report = await declare(p, [A, B]);
    expect(report.deadLettering).to.equal('at-least-once');
    expect(report.brokerVersion).to.match(/^\d+\.\d+/);
    expect(report.practiceQueues).to.deep.equal([`${p}.gp.${A}`, `${p}.gp.${B}`]);

    const exchanges = await probe.exchanges(p);
    expect(Object.fromEntries(exchanges)).to.deep.equal({
      [`${p}.outbound`]: { type: 'direct', durable: true },
      [`${p}.dead-letter`]: { type: 'fanout', durable: true },
      [`${p}.inbound`]: { type: 'direct', durable: true },
      [`${p}.events`]: { type: 'topic', durable: true },
    });

    const queues = await probe.queues(p);
    expect([...queues.keys()].sort()).to.deep.equal([`${p}.dead-letter`, `${p}.gp.${A}`, `${p}.gp.${B}`, `${p}.inbound`].sort());
    for (const queue of queues.values()) expect(queue.type, queue.name).to.equal('quorum');
    expect(queues.get(`${p}.gp.${A}`)?.arguments).to.deep.equal({
      'x-queue-type': 'quorum',
      'x-delivery-limit': 10,
      'x-dead-letter-exchange': `${p}.dead-letter`,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    expect(queues.get(`${p}.inbound`)?.arguments).to.deep.equal({ 'x-queue-type': 'quorum' });

    const bindings = (await probe.bindings(p)).map((b) => `${b.source} -${b.routingKey}-> ${b.destination}`).sort();
    expect(bindings).to.deep.equal(
      [
        `${p}.outbound -${A}-> ${p}.gp.${A}`,
        `${p}.outbound -${B}-> ${p}.gp.${B}`,
        `${p}.inbound -${A}-> ${p}.inbound`,
        `${p}.inbound -${B}-> ${p}.inbound`,
        `${p}.dead-letter --> ${p}.dead-letter`,
      ].sort(),
    );
  });

  it('is idempotent: declaring again changes nothing and keeps queued messages', async () => {
    const p = newPrefix();
    await declare(p, [A]);
    probe.channel.sendToQueue(`${p}.gp.${A}`, Buffer.from('kept'), { persistent: true });
    await waitFor('the message on the queue', async () => ((await probe.messageCount(`${p}.gp.${A}`)) === 1 ? true : undefined));
    await declare(p, [A]);
    await declare(p, [A]);
    expect(await probe.messageCount(`${p}.gp.${A}`)).to.equal(1);
    expect((await probe.queues(p)).size).to.equal(3);
  });

  it('creates the queue and bindings of a practice added to the directory, leaving the others alone', async () => {
    const p = newPrefix();
    await declare(p, [A]);
    probe.channel.sendToQueue(`${p}.gp.${A}`, Buffer.from('kept'), { persistent: true });
    await waitFor('the message on the queue', async () => ((await probe.messageCount(`${p}.gp.${A}`)) === 1 ? true : undefined));
    await declare(p, [A, C]);
    const queues = await probe.queues(p);
    expect(queues.get(`${p}.gp.${C}`)?.type).to.equal('quorum');
    expect(await probe.messageCount(`${p}.gp.${A}`)).to.equal(1);
    const bindings = (await probe.bindings(p)).map((b) => `${b.source} -${b.routingKey}-> ${b.destination}`);
    expect(bindings).to.include.members([`${p}.outbound -${C}-> ${p}.gp.${C}`, `${p}.inbound -${C}-> ${p}.inbound`]);
  });

  it('reports a queue that exists with other arguments by name (PRECONDITION_FAILED), changing nothing', async () => {
    const p = newPrefix();
    await declare(p, [A], 10);
    const error: unknown = await declare(p, [A], 5).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(TopologyConflictError).and.to.be.instanceOf(ConfigInvalidError);
    const conflict = error as TopologyConflictError;
    expect(conflict.entity).to.equal(`queue ${p}.gp.${A}`);
    expect(conflict.message).to.include(`queue ${p}.gp.${A}`).and.to.include('x-delivery-limit');
    expect(conflict.code).to.equal('config-invalid');
    expect((await probe.queues(p)).get(`${p}.gp.${A}`)?.arguments['x-delivery-limit']).to.equal(10);
    expect(broker.isConnected(), 'a channel error leaves the connection up').to.equal(true);
  });

  it('reports an exchange of another type by name', async () => {
    const p = newPrefix();
    await probe.channel.assertExchange(`${p}.outbound`, 'fanout', { durable: true });
    const error: unknown = await declare(p, [A]).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TopologyConflictError);
    expect((error as TopologyConflictError).entity).to.equal(`exchange ${p}.outbound`);
  });

  it('routes acks by the practice ODS code; an unknown code is returned to a mandatory publisher', async () => {
    const p = newPrefix();
    await declare(p, [A]);
    const publisher = new ConfirmPublisher(broker, { logger: captureLogger().logger });
    try {
      expect(await publisher.publish(`${p}.inbound`, A, Buffer.from('{}'))).to.deep.equal({ outcome: 'confirmed' });
      expect(await publisher.publish(`${p}.inbound`, 'Z99999', Buffer.from('{}'))).to.deep.equal({ outcome: 'returned', replyCode: 312, replyText: 'NO_ROUTE' });
      expect(await probe.messageCount(`${p}.inbound`)).to.equal(1);
    } finally {
      await publisher.close();
    }
  });

  it('dead-letters a letter past its delivery limit to <p>.dead-letter', async () => {
    const p = newPrefix();
    await declare(p, [A], 1);
    probe.channel.publish(`${p}.outbound`, A, Buffer.from('poison'), { persistent: true, messageId: 'm-1' });
    await probe.withChannel(async (channel) => {
      for (let delivery = 0; delivery < 2; delivery++) {
        const message = await waitFor('a delivery', async () => (await channel.get(`${p}.gp.${A}`)) || undefined);
        channel.nack(message, false, true);
      }
    });
    const dead = await waitFor('the dead letter', async () => ((await probe.messageCount(`${p}.dead-letter`)) === 1 ? true : undefined));
    expect(dead).to.equal(true);
    expect(await probe.messageCount(`${p}.gp.${A}`)).to.equal(0);
  });

  it('compares broker versions for the at-least-once dead-lettering requirement', () => {
    expect(versionAtLeast('3.10.8', [3, 10])).to.equal(true);
    expect(versionAtLeast('3.9.29', [3, 10])).to.equal(false);
    expect(versionAtLeast('4.0.5', [3, 10])).to.equal(true);
    expect(versionAtLeast('3.13.0', [3, 10])).to.equal(true);
  });
});
