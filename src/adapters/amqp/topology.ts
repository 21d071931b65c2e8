import type { Channel } from 'amqplib';
import { ConfigInvalidError } from '../../app/errors.js';
import type { OdsCode } from '../../domain/ids.js';
import { topologyNames } from '../../domain/topology-names.js';
import { PRECONDITION_FAILED, replyCode } from './broker-errors.js';

/**
 * An exchange or queue already exists with another type or other arguments
 * (the broker answered PRECONDITION_FAILED). Courier never deletes or
 * re-creates broker entities, so an operator must reconcile them: put the
 * configuration back (e.g. `amqp.deliveryLimit`) or migrate the queue.
 */
export class TopologyConflictError extends ConfigInvalidError {
  constructor(
    readonly entity: string,
    brokerReply: string,
    cause: unknown,
  ) {
    super([`broker ${entity} already exists with other settings and Courier never re-creates it; the broker said: ${brokerReply}`]);
    this.cause = cause;
  }
}

/** What was declared, for the start-up log. */
export interface TopologyReport {
  readonly brokerVersion: string;
  /**
   * `at-least-once`: dead-lettering is confirmed between the queues (RabbitMQ
   * ≥ 3.10 with `x-overflow: reject-publish`). `at-most-once` on older
   * brokers: a letter being dead-lettered can be lost if the broker fails at
   * that moment.
   */
  readonly deadLettering: 'at-least-once' | 'at-most-once';
  readonly practiceQueues: readonly string[];
}

/**
 * Declares DESIGN §3's topology; idempotent, and it never deletes anything,
 * so restarting is safe and a practice added to the directory gets its queue.
 * - `<p>.outbound` direct → quorum queue `<p>.gp.<ODS>` per practice (bound
 *   with the ODS code), with `x-delivery-limit` and dead-lettering to
 *   `<p>.dead-letter` (fanout) → quorum queue `<p>.dead-letter`.
 * - `<p>.inbound` direct → quorum queue `<p>.inbound`, bound once per known
 *   practice with its ODS code (a practice acks with its own code as routing
 *   key): an ack under an unknown code is unroutable and, published
 *   mandatory, returned to the practice's publisher instead of vanishing.
 *   The inbound queue has no delivery limit: an ack that cannot be applied
 *   because the store is down must wait, not be dead-lettered.
 * - `<p>.events` topic for status events.
 * At-least-once dead-lettering needs RabbitMQ ≥ 3.10 and `x-overflow:
 * reject-publish` (otherwise the broker silently falls back to at-most-once);
 * on older brokers both arguments are left out and the report says so. No
 * length limit is set, so `reject-publish` never actually refuses a publish.
 * Note that upgrading the broker past 3.10 then changes the arguments Courier
 * declares, which the existing queues refuse (see TopologyConflictError).
 * Re-declaring an entity with other settings fails with PRECONDITION_FAILED,
 * which closes `channel`: that is thrown as TopologyConflictError naming it.
 */
export async function declareTopology(
  channel: Channel,
  prefix: string,
  practices: readonly OdsCode[],
  options: { deliveryLimit: number },
): Promise<TopologyReport> {
  const names = topologyNames(prefix);
  const brokerVersion = channel.connection.serverProperties.version;
  const atLeastOnce = versionAtLeast(brokerVersion, [3, 10]);
  await assertExchange(channel, names.outbound, 'direct');
  await assertExchange(channel, names.deadLetterExchange, 'fanout');
  await assertExchange(channel, names.inboundExchange, 'direct');
  await assertExchange(channel, names.events, 'topic');
  await assertQuorumQueue(channel, names.deadLetterQueue, {});
  await channel.bindQueue(names.deadLetterQueue, names.deadLetterExchange, '');
  await assertQuorumQueue(channel, names.inboundQueue, {});
  const deadLettering = atLeastOnce ? { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' } : {};
  const practiceQueues: string[] = [];
  for (const ods of practices) {
    const queue = names.practiceQueue(ods);
    await assertQuorumQueue(channel, queue, {
      'x-delivery-limit': options.deliveryLimit,
      'x-dead-letter-exchange': names.deadLetterExchange,
      ...deadLettering,
    });
    await channel.bindQueue(queue, names.outbound, ods);
    await channel.bindQueue(names.inboundQueue, names.inboundExchange, ods);
    practiceQueues.push(queue);
  }
  return { brokerVersion, deadLettering: atLeastOnce ? 'at-least-once' : 'at-most-once', practiceQueues };
}

async function assertExchange(channel: Channel, exchange: string, type: 'direct' | 'fanout' | 'topic'): Promise<void> {
  try {
    await channel.assertExchange(exchange, type, { durable: true });
  } catch (error) {
    throw conflictOr(error, `exchange ${exchange}`);
  }
}

async function assertQuorumQueue(channel: Channel, queue: string, args: Record<string, string | number>): Promise<void> {
  try {
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum', ...args } });
  } catch (error) {
    throw conflictOr(error, `queue ${queue}`);
  }
}

function conflictOr(error: unknown, entity: string): unknown {
  if (replyCode(error) !== PRECONDITION_FAILED || !(error instanceof Error)) return error;
  return new TopologyConflictError(entity, error.message, error);
}

/** `3.10.8` ≥ [3, 10]; unparseable versions count as new (RabbitMQ has used plain `major.minor.patch` throughout). */
export function versionAtLeast(version: string, minimum: readonly [number, number]): boolean {
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (match === null) return true;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  return major > minimum[0] || (major === minimum[0] && minor >= minimum[1]);
}
