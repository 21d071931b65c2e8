import { BrokerConnection } from '../../../src/adapters/amqp/broker-connection.js';
import { ConfirmPublisher } from '../../../src/adapters/amqp/confirm-publisher.js';
import { consume, type Consumer, type Delivery } from '../../../src/adapters/amqp/consumer.js';
import type { Logger } from '../../../src/platform/logger.js';
import { ackMessage } from '../../fixtures/letters.js';

/**
 * What the practice system does with one delivery:
 * - `file`: puts the letter in the record (once per MessageHeader.id) and
 *   sends `20013` then `30001`; the broker ack follows their confirms;
 * - `ignore`: takes the letter off the queue and never answers (a black hole);
 * - `hand-back`: fails on it and gives it back to the queue (nack, requeue),
 *   as a system that crashes on one letter does, for ever.
 */
export type PracticeAction = 'file' | 'ignore' | 'hand-back';

export interface ScriptedPracticeOptions {
  readonly url: string;
  readonly prefix: string;
  readonly practices: readonly string[];
  readonly logger: Logger;
  /** Decides per delivery (ODS code of the queue, MessageHeader.id). */
  readonly script: (ods: string, messageHeaderId: string) => PracticeAction;
  readonly prefetch?: number;
  /** Pause before a handed-back letter goes back to the queue (default 200 ms). */
  readonly handBackDelayMs?: number;
}

/**
 * A GP practice system consuming its queues natively, for the faults suite:
 * like test/support/practice-simulator.ts (acks confirmed before the letter
 * leaves the queue, dedupe on MessageHeader.id), but scripted per letter and
 * keeping what the ledger needs: every filing and when it happened, and the
 * deliveries it saw more than once.
 */
export class ScriptedPractice {
  /** MessageHeader.id → times put in the record (more than 1 is the failure Courier exists to prevent). */
  readonly filings = new Map<string, number>();
  /** MessageHeader.id → when it was first filed (ms since the epoch). */
  readonly filedAt = new Map<string, number>();
  /** MessageHeader.id → deliveries seen. */
  readonly deliveries = new Map<string, number>();
  handedBack = 0;
  private readonly consumers: Consumer[] = [];

  private constructor(
    private readonly broker: BrokerConnection,
    private readonly publisher: ConfirmPublisher,
    private readonly options: ScriptedPracticeOptions,
  ) {}

  static async start(options: ScriptedPracticeOptions): Promise<ScriptedPractice> {
    const broker = await BrokerConnection.open(options.url, { logger: options.logger, connectionName: 'scripted-practice', initialMaxRetries: 20 });
    const publisher = new ConfirmPublisher(broker, { logger: options.logger, name: 'scripted-practice-acks', maxInFlight: 512 });
    await publisher.ready();
    const practice = new ScriptedPractice(broker, publisher, options);
    for (const ods of options.practices) {
      practice.consumers.push(
        await consume(broker, `${options.prefix}.gp.${ods}`, (delivery) => practice.handle(ods, delivery), {
          logger: options.logger,
          prefetch: options.prefetch ?? 100,
          requeueDelayMs: options.handBackDelayMs ?? 200,
        }),
      );
    }
    return practice;
  }

  /** Deliveries of a letter already seen, over all letters except `except` (e.g. a poison letter's retries). */
  duplicates(except: ReadonlySet<string> = new Set()): number {
    let extra = 0;
    for (const [id, n] of this.deliveries) if (!except.has(id)) extra += n - 1;
    return extra;
  }

  async stop(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
    await this.publisher.close();
    await this.broker.close();
  }

  private async handle(ods: string, delivery: Delivery): Promise<'ack' | 'requeue'> {
    const id = delivery.properties.messageId;
    if (typeof id !== 'string') return 'ack'; // not a Courier letter: nothing to answer
    this.deliveries.set(id, (this.deliveries.get(id) ?? 0) + 1);
    const action = this.options.script(ods, id);
    if (action === 'ignore') return 'ack';
    if (action === 'hand-back') {
      this.handedBack++;
      return 'requeue';
    }
    if (!this.filings.has(id)) {
      this.filings.set(id, 1);
      this.filedAt.set(id, Date.now());
    }
    for (const itkCode of ['20013', '30001']) {
      const ack = ackMessage({ respondsTo: id, code: 'ok', itkCodes: [itkCode], senderOds: ods });
      const result = await this.publisher.publish(`${this.options.prefix}.inbound`, ods, Buffer.from(JSON.stringify(ack)), {
        contentType: 'application/fhir+json',
        messageId: ack.entry[0].resource.id as string,
      });
      if (result.outcome !== 'confirmed') return 'requeue'; // the broker may not have the ack: answer again on redelivery
    }
    return 'ack';
  }
}
