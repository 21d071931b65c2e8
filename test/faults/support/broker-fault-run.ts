import type { Delivery } from '../../../src/adapters/amqp/consumer.js';
import type { MessageStore } from '../../../src/app/ports.js';
import { syntheticDocumentReferenceLetter, type Letter } from '../../fixtures/letters.js';
import { everyLetter } from '../../support/courier-harness.js';
import { FILE_IT, type PracticeAnswer } from '../../support/practice-simulator.js';
import type { Ledger } from './ledger.js';

/**
 * Shared parts of the broker fault scenarios (issue 6: broker SIGKILL,
 * network faults through the fault proxy): a trust sending letters as a real
 * sender would, the practice side's filing record, and Courier's final word,
 * put together into the ledger `checkLedger` judges.
 */

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface SendTally {
  /** 202: taken into custody. */
  accepted: number;
  /** 200: already held (an earlier answer was lost, or the letter was resent anyway). */
  alreadyHeld: number;
  /** 503: the broker was away, nothing taken; the same letter is sent again. */
  unavailable: number;
  /** No answer (connection failed or timed out); the same letter is sent again. */
  noAnswer: number;
}

export interface LetterStreamOptions {
  readonly baseUrl: string;
  /** Letters go to these practices in turn. */
  readonly practices: readonly string[];
  /** Concurrent senders (a trust's interface engine with a few connections). */
  readonly senders: number;
  /** Pause after each letter a sender got held (0: as fast as Courier answers). */
  readonly paceMs: number;
  /** Letters to send in all; unset: until `stop()`. */
  readonly limit?: number;
  /** A letter not held after this long fails the run (default 120 s). */
  readonly giveUpMs?: number;
}

/**
 * Senders that POST synthetic letters and resend each one (the same bytes)
 * until Courier holds it: 202 or 200. A 503 or no answer means "not taken":
 * wait 200 ms and send again, as DESIGN §2 tells a sender to. Any other
 * answer fails the run. `accepted` is the ledger's A: every MessageHeader.id
 * Courier said it holds.
 */
export class LetterStream {
  readonly accepted = new Set<string>();
  /** Accepted letters per practice. */
  readonly acceptedPer = new Map<string, number>();
  readonly tally: SendTally = { accepted: 0, alreadyHeld: 0, unavailable: 0, noAnswer: 0 };
  private next = 0;
  private stopping = false;
  private running: Promise<void> | undefined;

  constructor(private readonly options: LetterStreamOptions) {}

  /** Letters started so far. */
  get started(): number {
    return this.next;
  }

  start(): this {
    this.running ??= Promise.all(Array.from({ length: this.options.senders }, () => this.sender())).then(() => undefined);
    this.running.catch(() => undefined); // awaited in finished(); this only keeps an early failure from counting as unhandled meanwhile
    return this;
  }

  /** No new letters from now on; letters being sent are still resent until held. */
  stop(): void {
    this.stopping = true;
  }

  /** Resolves once every letter started is held (rejects on an unexpected answer or a letter given up). */
  async finished(): Promise<void> {
    await this.running;
  }

  private async sender(): Promise<void> {
    const { practices, limit, paceMs } = this.options;
    while (!this.stopping && (limit === undefined || this.next < limit)) {
      const destination = practices[this.next++ % practices.length] ?? 'A81001';
      await this.sendUntilHeld(syntheticDocumentReferenceLetter({ destination }), destination);
      if (paceMs > 0) await sleep(paceMs);
    }
  }

  private async sendUntilHeld(letter: Letter, destination: string): Promise<void> {
    const id = String(letter.entry[0].resource.id);
    const body = Buffer.from(JSON.stringify(letter));
    const giveUpAt = Date.now() + (this.options.giveUpMs ?? 120_000);
    for (;;) {
      const status = await fetch(`${this.options.baseUrl}/fhir/$process-message`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body,
        signal: AbortSignal.timeout(30_000),
      }).then(
        async (res) => {
          await res.arrayBuffer(); // read to the end so the connection is reused
          return res.status;
        },
        () => 0, // no answer: not taken as far as the sender can tell
      );
      if (status === 202 || status === 200) {
        if (status === 202) this.tally.accepted++;
        else this.tally.alreadyHeld++;
        if (!this.accepted.has(id)) this.acceptedPer.set(destination, (this.acceptedPer.get(destination) ?? 0) + 1);
        this.accepted.add(id);
        return;
      }
      if (status === 503) this.tally.unavailable++;
      else if (status === 0) this.tally.noAnswer++;
      else throw new Error(`Courier answered ${status} to a well-formed letter`);
      if (Date.now() > giveUpAt) throw new Error(`a letter was still not held after ${this.options.giveUpMs ?? 120_000} ms of resending`);
      await sleep(200);
    }
  }
}

/**
 * The practice side's filing record, fed every delivery the simulated
 * practice system gets (its `answer` hook; it files and acks every letter).
 * The practice dedupes on the `messageId` property as DESIGN §3 asks, so a
 * filing happens at the first sight of a messageId; the filing is counted
 * under the MessageHeader.id read from the body, so a letter Courier sent
 * again under another messageId would show as filed twice. Sequence numbers
 * are kept per practice to check 1..n, no gap, none reused.
 */
export class FilingRecord {
  /** MessageHeader.id (from the body) → times filed. */
  readonly filed = new Map<string, number>();
  /** Practice → `x-courier-sequence` → MessageHeader.id first seen under it. */
  readonly sequences = new Map<string, Map<number, string>>();
  /** Sequence numbers seen with a second, different letter. */
  sequenceReuses = 0;
  deliveries = 0;
  private readonly seen = new Set<string>();

  readonly answer = (delivery: Delivery): PracticeAnswer => {
    this.deliveries++;
    const messageId = delivery.properties.messageId;
    if (typeof messageId !== 'string' || this.seen.has(messageId)) return FILE_IT; // a redelivery: answered again, not filed again
    this.seen.add(messageId);
    const headerId = headerIdOf(delivery.content);
    this.filed.set(headerId, (this.filed.get(headerId) ?? 0) + 1);
    const sequence: unknown = delivery.properties.headers?.['x-courier-sequence'];
    if (typeof sequence === 'number') {
      const practice = delivery.routingKey;
      const seen = this.sequences.get(practice) ?? new Map<number, string>();
      const earlier = seen.get(sequence);
      if (earlier !== undefined && earlier !== headerId) this.sequenceReuses++;
      seen.set(sequence, earlier ?? headerId);
      this.sequences.set(practice, seen);
    }
    return FILE_IT;
  };

  /** Practices whose sequence numbers are not exactly 1..n for the n letters accepted for them, with what is wrong. */
  sequenceProblems(acceptedPer: ReadonlyMap<string, number>): string[] {
    const problems: string[] = [];
    for (const [practice, n] of acceptedPer) {
      const seen = this.sequences.get(practice) ?? new Map<number, string>();
      const missing = Array.from({ length: n }, (_, i) => i + 1).filter((s) => !seen.has(s));
      const extra = [...seen.keys()].filter((s) => s < 1 || s > n);
      if (missing.length > 0 || extra.length > 0) problems.push(`${practice}: missing ${missing.slice(0, 5).join(',')}${missing.length > 5 ? '…' : ''} extra ${extra.slice(0, 5).join(',')}`);
    }
    return problems;
  }
}

function headerIdOf(content: Buffer): string {
  const bundle = JSON.parse(content.toString('utf8')) as { entry?: { resource?: { id?: unknown } }[] };
  const id = bundle.entry?.[0]?.resource?.id;
  if (typeof id !== 'string') throw new Error('a delivery without a MessageHeader.id in its body');
  return id;
}

const SETTLED = new Set(['filed', 'rejected', 'escalated', 'cancelled', 'resolved']);

/** Courier's word on every letter it holds: MessageHeader.id → state, read page by page from its store. */
export async function courierStates(store: MessageStore): Promise<Map<string, string>> {
  return new Map((await everyLetter(store)).map((item) => [item.messageHeaderId, item.state]));
}

/** Letters per state, for failure messages. */
export function countStates(states: ReadonlyMap<string, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const state of states.values()) counts[state] = (counts[state] ?? 0) + 1;
  return counts;
}

/**
 * Polls Courier until every accepted letter is settled (final, or escalated
 * to a person) and returns its states; fails after `ms` saying where the
 * letters are. This is the scenario's settle deadline.
 */
export async function awaitSettled(store: MessageStore, accepted: ReadonlySet<string>, ms: number): Promise<Map<string, string>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const states = await courierStates(store);
    if ([...accepted].every((id) => SETTLED.has(states.get(id) ?? 'unknown'))) return states;
    if (Date.now() > deadline) throw new Error(`not every accepted letter settled within ${ms} ms; states ${JSON.stringify(countStates(states))}`);
    await sleep(500);
  }
}

/** The ledger of a run: A from the senders, F from the practice side, the states from Courier. */
export function ledgerOf(stream: LetterStream, filing: FilingRecord, states: ReadonlyMap<string, string>, duplicateDeliveries: number): Ledger {
  return { accepted: stream.accepted, filed: filing.filed, states, duplicateDeliveries };
}
