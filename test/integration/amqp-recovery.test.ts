import { expect } from 'chai';
import { BrokerConnection } from '../../src/adapters/amqp/broker-connection.js';
import { ConfirmPublisher, type PublishResult } from '../../src/adapters/amqp/confirm-publisher.js';
import { consume } from '../../src/adapters/amqp/consumer.js';
import { declareTopology } from '../../src/adapters/amqp/topology.js';
import type { OdsCode } from '../../src/domain/ids.js';
import { captureLogger, OwnRabbitNode, randomPrefix, RabbitProbe, waitFor } from '../support/rabbit.js';

const A = 'A81001' as OdsCode;
const WORKERS = 32;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The broker application stops and starts again in the middle of a run, on a
 * node of this test's own (never the shared one). Publishers republish what
 * was not confirmed; nothing confirmed may be lost; consumers come back.
 */
describe('broker restart under load (own RabbitMQ node)', function () {
  this.timeout(90_000);
  const prefix = randomPrefix();
  const queue = `${prefix}.gp.${A}`;
  let node: OwnRabbitNode;
  let broker: BrokerConnection;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  before(async function () {
    this.timeout(120_000); // starting a node takes ~10–20 s here
    process.on('unhandledRejection', onUnhandled);
    node = await OwnRabbitNode.start(`courieramqp${process.pid}`, 5679);
    broker = await BrokerConnection.open(node.url, { logger: captureLogger().logger, reconnectDelay: { initialMs: 100, maxMs: 1_000 } });
    await broker.withChannel((channel) => declareTopology(channel, prefix, [A], { deliveryLimit: 10 }));
  });
  after(async function () {
    this.timeout(60_000);
    await broker?.close();
    await node?.stop();
    process.off('unhandledRejection', onUnhandled);
  });

  it('confirms every message after stop_app/start_app (republishing the lost ones) and consumers resume', async () => {
    const log = captureLogger();
    const publisher = new ConfirmPublisher(broker, { logger: log.logger, maxInFlight: 256 });
    const received = new Set<number>();
    let deliveries = 0;
    let receivedAfterRestart = 0;
    let restarted = false;
    const consumer = await consume(
      broker,
      queue,
      (delivery) => {
        deliveries++;
        received.add(Number(delivery.content.toString()));
        if (restarted) receivedAfterRestart++;
        return Promise.resolve('ack');
      },
      { logger: log.logger, prefetch: 32 },
    );

    const outcomes = new Map<PublishResult['outcome'], number>();
    const confirmed = new Set<number>();
    let next = 0;
    let confirmedAfterRestart = 0;
    let stopping = false;
    /** Publishes `id` until the broker confirms it, as the outbox relay does. */
    const publishUntilConfirmed = async (id: number): Promise<void> => {
      for (;;) {
        const result = await publisher.publish(`${prefix}.outbound`, A, Buffer.from(String(id)), { messageId: `m-${id}` });
        outcomes.set(result.outcome, (outcomes.get(result.outcome) ?? 0) + 1);
        if (result.outcome === 'confirmed') break;
        if (result.outcome === 'returned') throw new Error(`message ${id} returned: ${result.replyText}`);
        await sleep(100);
      }
      confirmed.add(id);
      if (restarted) confirmedAfterRestart++;
    };
    const worker = async (): Promise<void> => {
      while (!stopping) {
        await publishUntilConfirmed(next++);
        await sleep(5);
      }
    };
    const workers = Array.from({ length: WORKERS }, () => worker());

    await waitFor('a first thousand confirmed', () => (confirmed.size >= 1000 ? true : undefined), 30_000);
    await node.ctl('stop_app');
    await sleep(1_000);
    await node.ctl('start_app');
    restarted = true;
    await waitFor('publishing to resume', () => (confirmedAfterRestart >= 1000 ? true : undefined), 30_000);
    stopping = true;
    await Promise.all(workers);

    expect(outcomes.get('connection-lost') ?? 0, 'some publishes were cut off by the restart').to.be.greaterThan(0);
    expect(confirmed.size).to.equal(next);
    await waitFor('every confirmed message delivered', () => (received.size === next ? true : undefined), 30_000);
    const missing = [...confirmed].filter((id) => !received.has(id));
    expect(missing).to.deep.equal([]);
    expect(receivedAfterRestart).to.be.greaterThan(0);
    expect(consumer.isConsuming()).to.equal(true);
    expect(deliveries).to.be.at.least(next); // duplicates allowed (republished or redelivered), none missing

    const probe = await RabbitProbe.open(node.url, node.node);
    try {
      await waitFor('the queue to be empty', async () => ((await probe.messageCount(queue)) === 0 ? true : undefined));
    } finally {
      await probe.close();
    }
    await consumer.stop();
    await publisher.close();
    expect(unhandled).to.deep.equal([]);
    // Reported for the record (COURIER_TEST_VERBOSE=1): how the restart showed up to the publisher.
    if (process.env['COURIER_TEST_VERBOSE'] !== undefined) console.log(`      ${next} messages, ${deliveries} deliveries, outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
  });
});
