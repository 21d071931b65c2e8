import { createHash } from 'node:crypto';
import type { Delivery } from '../../../src/adapters/amqp/consumer.js';
import { FILE_IT, PracticeSimulator } from '../../support/practice-simulator.js';
import { captureLogger } from '../../support/rabbit.js';

/** What the practice side saw of one letter (one MessageHeader.id). */
export interface PracticeLetter {
  readonly practice: string;
  /** Deliveries of it, redeliveries included. */
  deliveries: number;
  /** `x-courier-tracking-id` and `x-courier-sequence` pairs it came under (`trackingId#sequence`). */
  readonly courierLetters: Set<string>;
  /** SHA-256 of each distinct body it came with (DESIGN §3: the bytes as accepted, every time). */
  readonly bodies: Set<string>;
}

/**
 * The practice side of the faults ledger: the test suite's simulated GP
 * system (it dedupes on MessageHeader.id, files a letter and sends `20013`
 * then `30001`, acking the delivery only after its acks were confirmed), with
 * every delivery recorded.
 *
 * A filing is counted per Courier letter the practice was handed for one
 * MessageHeader.id, that is per distinct (`x-courier-tracking-id`,
 * `x-courier-sequence`): a practice deduping on the id files it once, and a
 * second tracking id or sequence for the same id would be a second letter to
 * any practice that follows the sequence (the connector does). Redeliveries
 * of the same Courier letter are duplicates delivered, not filings.
 */
export class FilingPractice {
  private constructor(
    private readonly simulator: PracticeSimulator,
    /** MessageHeader id → what the practice saw of it. */
    readonly letters: ReadonlyMap<string, PracticeLetter>,
  ) {}

  static async start(options: { url: string; prefix: string; practices: readonly string[] }): Promise<FilingPractice> {
    const letters = new Map<string, PracticeLetter>();
    const simulator = await PracticeSimulator.start({
      url: options.url,
      prefix: options.prefix,
      practices: options.practices,
      logger: captureLogger().logger,
      answer: (delivery) => {
        record(letters, delivery);
        return FILE_IT;
      },
    });
    return new FilingPractice(simulator, letters);
  }

  /** MessageHeader id → filings (see the class comment), for `checkLedger`. */
  filed(): Map<string, number> {
    return new Map([...this.letters].map(([id, letter]) => [id, letter.courierLetters.size]));
  }

  /** Deliveries of a letter already seen (at-least-once delivery; the practice dedupes them). */
  get duplicateDeliveries(): number {
    return this.simulator.duplicates;
  }

  /**
   * What is wrong with the sequences the practice saw: a sequence number
   * under two letters, a letter under two numbers, a body that changed
   * between deliveries, or per practice not exactly 1..n (a gap) when
   * `expected` gives n.
   */
  sequenceProblems(expected: ReadonlyMap<string, number>): string[] {
    const problems: string[] = [];
    const byPractice = new Map<string, Map<number, string>>();
    for (const [id, letter] of this.letters) {
      if (letter.courierLetters.size > 1) problems.push(`${id} arrived as ${letter.courierLetters.size} Courier letters`);
      if (letter.bodies.size > 1) problems.push(`${id} arrived with ${letter.bodies.size} different bodies`);
      const numbers = byPractice.get(letter.practice) ?? new Map<number, string>();
      for (const pair of letter.courierLetters) {
        const sequence = Number(pair.split('#')[1]);
        const other = numbers.get(sequence);
        if (other !== undefined && other !== id) problems.push(`${letter.practice} sequence ${sequence} carried ${other} and ${id}`);
        numbers.set(sequence, id);
      }
      byPractice.set(letter.practice, numbers);
    }
    for (const [practice, n] of expected) {
      const seen = [...(byPractice.get(practice)?.keys() ?? [])].sort((a, b) => a - b);
      const missing = Array.from({ length: n }, (_, i) => i + 1).filter((s) => !byPractice.get(practice)?.has(s));
      if (missing.length > 0 || seen.length !== n) problems.push(`${practice} saw ${seen.length} sequence numbers for ${n} letters; missing ${missing.slice(0, 5).join(', ')}`);
    }
    return problems;
  }

  async stop(): Promise<void> {
    await this.simulator.stop();
  }
}

function record(letters: Map<string, PracticeLetter>, delivery: Delivery): void {
  const id = delivery.properties.messageId;
  if (typeof id !== 'string') return;
  const headers = delivery.properties.headers ?? {};
  const letter = letters.get(id) ?? { practice: delivery.routingKey, deliveries: 0, courierLetters: new Set<string>(), bodies: new Set<string>() };
  letter.deliveries++;
  letter.courierLetters.add(`${String(headers['x-courier-tracking-id'])}#${String(headers['x-courier-sequence'])}`);
  letter.bodies.add(createHash('sha256').update(delivery.content).digest('hex'));
  letters.set(id, letter);
}
