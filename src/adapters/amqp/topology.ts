import type { Channel } from 'amqplib';
import type { OdsCode } from '../../domain/ids.js';
import { topologyNames } from '../../domain/topology-names.js';

/**
 * Declares DESIGN §3's topology; idempotent, and it never deletes anything.
 * Practice queues are quorum queues (replicated, with a delivery limit) that
 * dead-letter at-least-once (RabbitMQ ≥ 3.10; needs `reject-publish`
 * overflow) to the dead-letter exchange, so a letter the broker gives up on
 * is never dropped but reaches Courier's escalation.
 * Re-declaring an existing queue with other arguments fails with
 * PRECONDITION_FAILED: that is reported naming the queue, never "fixed".
 */
export async function declareTopology(
  channel: Channel,
  prefix: string,
  practices: readonly OdsCode[],
  options: { deliveryLimit: number },
): Promise<void> {
  const names = topologyNames(prefix);
  await channel.assertExchange(names.outbound, 'direct', { durable: true });
  await channel.assertExchange(names.deadLetterExchange, 'fanout', { durable: true });
  await channel.assertExchange(names.inboundExchange, 'direct', { durable: true });
  await channel.assertExchange(names.events, 'topic', { durable: true });
  await assertQuorumQueue(channel, names.deadLetterQueue, {});
  await channel.bindQueue(names.deadLetterQueue, names.deadLetterExchange, '');
  await assertQuorumQueue(channel, names.inboundQueue, {});
  for (const ods of practices) {
    const queue = names.practiceQueue(ods);
    await assertQuorumQueue(channel, queue, {
      'x-delivery-limit': options.deliveryLimit,
      'x-dead-letter-exchange': names.deadLetterExchange,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    await channel.bindQueue(queue, names.outbound, ods);
    // An ack is published with the practice's own ODS code as routing key; an
    // unknown code is unroutable and returned to its publisher.
    await channel.bindQueue(names.inboundQueue, names.inboundExchange, ods);
  }
}

async function assertQuorumQueue(channel: Channel, queue: string, args: Record<string, unknown>): Promise<void> {
  try {
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum', ...args } });
  } catch (error) {
    throw new Error(`Cannot declare queue ${queue}: it exists with other arguments or the broker refused it`, { cause: error });
  }
}
