import { expect } from 'chai';
import { BrokerConnection } from '../../src/adapters/amqp/broker-connection.js';
import { consume, type ConsumeDecision, type Consumer, type Delivery } from '../../src/adapters/amqp/consumer.js';
import { declareTopology } from '../../src/adapters/amqp/topology.js';
import type { OdsCode } from '../../src/domain/ids.js';
import { captureLogger, randomPrefix, RabbitProbe, TEST_AMQP_URL, waitFor } from '../support/rabbit.js';

const A = 'A81001' as OdsCode;

/** A promise the test settles by hand. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('consume()', function () {
  this.timeout(60_000);
  const prefix = randomPrefix();
  const queue = `${prefix}.gp.${A}`;
  let probe: RabbitProbe;
  let broker: BrokerConnection;
  let consumers: Consumer[];

  async function start(handler: (delivery: Delivery) => Promise<ConsumeDecision>, options: { prefetch?: number; requeueDelayMs?: number; stopTimeoutMs?: number } = {}) {
    const log = captureLogger();
    const consumer = await consume(broker, queue, handler, { logger: log.logger, requeueDelayMs: 10, ...options });
    consumers.push(consumer);
    expect(consumer.isConsuming()).to.equal(true);
    return { consumer, lines: log.lines };
  }

  function send(count: number, properties: { userId?: string } = {}): void {
    for (let i = 0; i < count; i++) probe.channel.publish(`${prefix}.outbound`, A, Buffer.from(`m${i}`), { persistent: true, ...properties });
  }

  before(async () => {
    probe = await RabbitProbe.open();
    broker = await BrokerConnection.open(TEST_AMQP_URL, { logger: captureLogger().logger });
    await broker.withChannel((channel) => declareTopology(channel, prefix, [A], { deliveryLimit: 3 }));
  });
  beforeEach(() => {
    consumers = [];
  });
  afterEach(async () => {
    for (const consumer of consumers) await consumer.stop();
    await probe.channel.purgeQueue(queue);
    await probe.channel.purgeQueue(`${prefix}.dead-letter`);
  });
  after(async () => {
    await broker?.close();
    await probe?.cleanup(prefix, [A]);
    await probe?.close();
  });

  it('acknowledges only after the handler resolved: an unfinished handler keeps the message unacked, and it comes back', async () => {
    const gate = deferred<ConsumeDecision>();
    let calls = 0;
    const { consumer } = await start(
      () => {
        calls++;
        return gate.promise;
      },
      { stopTimeoutMs: 100 },
    );
    send(1);
    await waitFor('the handler to get the message', () => (calls === 1 ? true : undefined));
    // Delivered but not acked: not ready on the queue, and counted unacknowledged by the broker.
    expect(await probe.messageCount(queue)).to.equal(0);
    const unacked = await waitFor('broker stats', async () => {
      const info = (await probe.queues(prefix)).get(queue);
      return info !== undefined && info.messagesUnacknowledged === 1 ? info : undefined;
    });
    expect(unacked.messagesReady).to.equal(0);
    // Stopping while the handler is still running hands the message back to the queue.
    await consumer.stop();
    expect(await waitFor('the message back on the queue', async () => ((await probe.messageCount(queue)) === 1 ? 1 : undefined))).to.equal(1);
    gate.resolve('ack'); // too late: its channel is gone, the settle is skipped without an error

    // A consumer whose handler resolves acks it: gone for good.
    const seen: Delivery[] = [];
    await start((delivery) => {
      seen.push(delivery);
      return Promise.resolve('ack');
    });
    await waitFor('the redelivery', () => (seen.length === 1 ? true : undefined));
    expect(seen[0]!.redelivered).to.equal(true);
    expect(seen[0]!.deliveryCount).to.equal(1);
    await waitFor('the queue to be empty', async () => ((await probe.messageCount(queue)) === 0 ? true : undefined));
  });

  it('holds at most `prefetch` unacknowledged messages at once', async () => {
    const gate = deferred<ConsumeDecision>();
    const { consumer } = await start(() => gate.promise, { prefetch: 5 });
    send(20);
    await waitFor('five handlers running', () => (consumer.inFlight === 5 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(consumer.inFlight).to.equal(5);
    expect(await probe.messageCount(queue)).to.equal(15);
    gate.resolve('ack');
    await waitFor('all handled', async () => ((await probe.messageCount(queue)) === 0 && consumer.inFlight === 0 ? true : undefined));
  });

  it('requeues (with a log line, without crashing) when the handler throws, and the retry succeeds', async () => {
    let calls = 0;
    const { lines } = await start(() => {
      calls++;
      if (calls === 1) throw new TypeError('handler bug');
      return Promise.resolve('ack');
    });
    send(1);
    await waitFor('the second attempt', () => (calls === 2 ? true : undefined));
    await waitFor('the queue to be empty', async () => ((await probe.messageCount(queue)) === 0 ? true : undefined));
    const warning = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l['message'] === 'message handling failed; requeueing');
    expect(warning).to.include({ errorName: 'TypeError', component: queue });
    expect(JSON.stringify(warning)).to.not.include('handler bug'); // error text may carry content: only the name is logged
  });

  it("dead-letters a message the handler 'reject's, and one 'requeue'd past the delivery limit", async () => {
    const decisions: ConsumeDecision[] = [];
    await start((delivery) => {
      const decision: ConsumeDecision = delivery.content.toString() === 'm0' ? 'reject' : 'requeue';
      decisions.push(decision);
      return Promise.resolve(decision);
    });
    send(2);
    await waitFor('both dead-lettered', async () => ((await probe.messageCount(`${prefix}.dead-letter`)) === 2 ? true : undefined));
    expect(decisions.filter((d) => d === 'reject')).to.have.length(1);
    expect(decisions.filter((d) => d === 'requeue')).to.have.length(4); // delivery limit 3: the 4th delivery is the last
    expect(await probe.messageCount(queue)).to.equal(0);
  });

  it('passes the routing key and the broker-validated user id', async () => {
    const seen: Delivery[] = [];
    await start((delivery) => {
      seen.push(delivery);
      return Promise.resolve('ack');
    });
    send(1, { userId: 'guest' });
    await waitFor('the delivery', () => (seen.length === 1 ? true : undefined));
    expect(seen[0]).to.include({ routingKey: A, userId: 'guest', redelivered: false, deliveryCount: 0 });
  });

  it('re-subscribes by itself when the broker cancels it (queue deleted and declared again)', async () => {
    const seen: string[] = [];
    const { consumer } = await start((delivery) => {
      seen.push(delivery.content.toString());
      return Promise.resolve('ack');
    });
    await probe.channel.deleteQueue(queue);
    await waitFor('the consumer to notice', () => (consumer.isConsuming() ? undefined : true));
    await broker.withChannel((channel) => declareTopology(channel, prefix, [A], { deliveryLimit: 3 }));
    await waitFor('the consumer to be back', () => (consumer.isConsuming() ? true : undefined), 15_000);
    send(1);
    await waitFor('the delivery after re-subscribing', () => (seen.length === 1 ? true : undefined));
  });
});
