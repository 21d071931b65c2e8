/**
 * Confirmed publishing throughput (`npx tsx bench/amqp-publish.ts`). Not a
 * test: numbers to compare between commits and brokers. Publishes 8 KiB
 * persistent, mandatory messages to a practice quorum queue through
 * ConfirmPublisher with a window of 1 (each publish waits for its confirm)
 * and of 256, on a fresh prefix that is deleted afterwards.
 * COURIER_AMQP_URL picks the broker (default: the local one).
 */
import { BrokerConnection } from '../src/adapters/amqp/broker-connection.js';
import { ConfirmPublisher } from '../src/adapters/amqp/confirm-publisher.js';
import { declareTopology } from '../src/adapters/amqp/topology.js';
import type { OdsCode } from '../src/domain/ids.js';
import { createLogger } from '../src/platform/logger.js';
import { randomPrefix, RabbitProbe, TEST_AMQP_URL } from '../test/support/rabbit.js';

const A = 'A81001' as OdsCode;
const BODY = Buffer.alloc(8 * 1024, 0x7b);

async function measure(broker: BrokerConnection, prefix: string, maxInFlight: number, count: number): Promise<number> {
  const publisher = new ConfirmPublisher(broker, { logger: createLogger({ level: 'error', silent: true }), maxInFlight });
  try {
    await publisher.ready();
    const start = performance.now();
    const results = await Promise.all(Array.from({ length: count }, () => publisher.publish(`${prefix}.outbound`, A, BODY)));
    const seconds = (performance.now() - start) / 1000;
    if (results.some((r) => r.outcome !== 'confirmed')) throw new Error('a publish was not confirmed');
    return count / seconds;
  } finally {
    await publisher.close();
  }
}

async function main(): Promise<void> {
  const prefix = randomPrefix();
  const broker = await BrokerConnection.open(TEST_AMQP_URL, { logger: createLogger({ level: 'error', silent: true }) });
  const probe = await RabbitProbe.open();
  try {
    const report = await broker.withChannel((channel) => declareTopology(channel, prefix, [A], { deliveryLimit: 10 }));
    await measure(broker, prefix, 256, 500); // warm-up
    await probe.channel.purgeQueue(`${prefix}.gp.${A}`);
    for (const [window, count] of [
      [1, 500],
      [256, 10_000],
    ] as const) {
      const rate = await measure(broker, prefix, window, count);
      console.log(`confirmed publish, 8 KiB, quorum queue (RabbitMQ ${report.brokerVersion}), window ${window}: ${rate.toFixed(0)} msgs/s (${count} messages)`);
      await probe.channel.purgeQueue(`${prefix}.gp.${A}`);
    }
  } finally {
    await broker.close();
    await probe.cleanup(prefix, [A]);
    await probe.close();
  }
}

await main();
