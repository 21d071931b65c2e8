import { randomUUID } from 'node:crypto';
import { AckNotConfirmedError, type AckSender, type GapReporter } from '../../app/connector/ports.js';
import { buildAckMessage } from '../../domain/ack-message.js';
import type { ConnectorAck } from '../../domain/sink-outcome.js';
import type { TopologyNames } from '../../domain/topology-names.js';
import type { ConfirmPublisher, PublishProperties, PublishResult } from './confirm-publisher.js';

export interface ConnectorPublishingOptions {
  readonly publisher: ConfirmPublisher;
  readonly names: TopologyNames;
  /** Per practice, the broker user its acks are published as (`user_id`, checked by RabbitMQ and by Courier). */
  readonly brokerUsers?: ReadonlyMap<string, string>;
  /** Publishes tried per message before giving up (default 5), with `retryDelayMs` between them (default 1 s). */
  readonly tries?: number;
  readonly retryDelayMs?: number;
}

/**
 * The connector's publishing to Courier: acknowledgements to `<prefix>.inbound`
 * (routing key = the practice's ODS code, DESIGN §4) and sequence-gap events
 * to `<prefix>.events` (routing key `sequence-gap.<ODS>`, ids and numbers only).
 * Each resolves once the broker confirmed; a broker outage is ridden out for
 * a few tries, then it throws.
 */
export class ConnectorPublishing implements AckSender, GapReporter {
  constructor(private readonly options: ConnectorPublishingOptions) {}

  async send(practice: string, respondsTo: string, acks: readonly ConnectorAck[]): Promise<void> {
    for (const ack of acks) {
      const ids = { bundle: randomUUID(), header: randomUUID(), outcome: randomUUID() };
      const bundle = buildAckMessage({ respondsTo, code: ack.code, itkCodes: ack.itkCodes, practice, ids, at: new Date() });
      const userId = this.options.brokerUsers?.get(practice);
      await this.publish(this.options.names.inboundExchange, practice, Buffer.from(JSON.stringify(bundle)), {
        messageId: ids.header,
        contentType: 'application/fhir+json',
        type: 'ITK008M',
        ...(userId === undefined ? {} : { userId }),
      });
    }
  }

  async reportGap(practice: string, sequence: number, noticedAt: Date, at: Date): Promise<void> {
    const body = { practice, sequence, noticedAt: noticedAt.toISOString(), at: at.toISOString() };
    await this.publish(this.options.names.events, `sequence-gap.${practice}`, Buffer.from(JSON.stringify(body)), {
      contentType: 'application/json',
      type: 'sequence-gap',
      mandatory: false,
    });
  }

  private async publish(exchange: string, routingKey: string, body: Buffer, properties: PublishProperties): Promise<void> {
    const tries = this.options.tries ?? 5;
    let last: PublishResult | undefined;
    for (let i = 0; i < tries; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 1_000));
      last = await this.options.publisher.publish(exchange, routingKey, body, properties);
      if (last.outcome === 'confirmed') return;
      if (last.outcome === 'returned') break; // no queue bound: trying again will not help
    }
    throw new AckNotConfirmedError(`publish to ${exchange} (${routingKey}) not confirmed: ${last?.outcome ?? 'not tried'}`);
  }
}
