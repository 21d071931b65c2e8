import { BrokerConnection } from '../../src/adapters/amqp/broker-connection.js';
import { ConfirmPublisher } from '../../src/adapters/amqp/confirm-publisher.js';
import { consume, type Consumer, type Delivery } from '../../src/adapters/amqp/consumer.js';
import type { Logger } from '../../src/platform/logger.js';
import { ackMessage } from '../fixtures/letters.js';

/** The acks the simulated practice sends for one letter, in order (empty: takes the letter, never answers). */
export type PracticeAnswer = { readonly code: 'ok' | 'transient-error' | 'fatal-error'; readonly itkCodes: readonly string[] }[];

/** Infrastructure ack then business ack: the letter is received and filed. */
export const FILE_IT: PracticeAnswer = [
  { code: 'ok', itkCodes: ['20013'] },
  { code: 'ok', itkCodes: ['30001'] },
];

export interface PracticeSimulatorOptions {
  readonly url: string;
  readonly prefix: string;
  readonly practices: readonly string[];
  readonly logger: Logger;
  /** Decides the answer per letter (default: file every letter). */
  readonly answer?: (delivery: Delivery) => PracticeAnswer;
  readonly prefetch?: number;
}

/**
 * A GP practice system for tests and benchmarks, on its own broker
 * connection: takes letters off `<p>.gp.<ODS>`, publishes its acks to
 * `<p>.inbound` (routing key = its ODS code) on a confirm channel, and acks
 * the letter to the broker only after every ack it sent was confirmed, so a
 * broker restart can make it see a letter again but never lose an answer.
 * It dedupes on `messageId` (MessageHeader.id) as DESIGN §3 asks of receivers,
 * answering a redelivered letter again (the first answer may be the one lost).
 */
export class PracticeSimulator {
  /** MessageHeader ids seen, per practice, in arrival order (first sight only). */
  readonly received = new Map<string, string[]>();
  /** `x-courier-sequence` values seen per practice (first sight only). */
  readonly sequences = new Map<string, number[]>();
  /** Deliveries of a MessageHeader.id already seen. */
  duplicates = 0;
  private readonly seen = new Set<string>();
  private readonly consumers: Consumer[] = [];

  private constructor(
    private readonly broker: BrokerConnection,
    private readonly publisher: ConfirmPublisher,
    private readonly options: PracticeSimulatorOptions,
  ) {}

  static async start(options: PracticeSimulatorOptions): Promise<PracticeSimulator> {
    const broker = await BrokerConnection.open(options.url, { logger: options.logger, connectionName: 'practice-simulator', initialMaxRetries: 20 });
    const publisher = new ConfirmPublisher(broker, { logger: options.logger, name: 'practice-acks', maxInFlight: 512 });
    await publisher.ready();
    const simulator = new PracticeSimulator(broker, publisher, options);
    for (const ods of options.practices) {
      simulator.consumers.push(
        await consume(broker, `${options.prefix}.gp.${ods}`, (delivery) => simulator.handle(ods, delivery), {
          logger: options.logger,
          prefetch: options.prefetch ?? 200,
          requeueDelayMs: 200,
        }),
      );
    }
    return simulator;
  }

  /** Distinct letters received across practices. */
  get distinct(): number {
    return this.seen.size;
  }

  async stop(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
    await this.publisher.close();
    await this.broker.close();
  }

  private async handle(ods: string, delivery: Delivery): Promise<'ack' | 'requeue'> {
    const headerId = delivery.properties.messageId;
    if (typeof headerId !== 'string') return 'ack'; // not a Courier letter: nothing to answer
    if (this.seen.has(headerId)) this.duplicates++;
    else {
      this.seen.add(headerId);
      this.push(this.received, ods, headerId);
      const sequence: unknown = delivery.properties.headers?.['x-courier-sequence'];
      if (typeof sequence === 'number') this.push(this.sequences, ods, sequence);
    }
    const answer = (this.options.answer ?? (() => FILE_IT))(delivery);
    for (const step of answer) {
      const ack = ackMessage({ respondsTo: headerId, code: step.code, itkCodes: [...step.itkCodes], senderOds: ods });
      const result = await this.publisher.publish(`${this.options.prefix}.inbound`, ods, Buffer.from(JSON.stringify(ack)), {
        contentType: 'application/fhir+json',
        messageId: ack.entry[0].resource.id as string,
      });
      if (result.outcome !== 'confirmed') return 'requeue'; // the broker may not have it: answer again on redelivery
    }
    return 'ack';
  }

  private push<T>(map: Map<string, T[]>, key: string, value: T): void {
    const list = map.get(key) ?? [];
    list.push(value);
    map.set(key, list);
  }
}
