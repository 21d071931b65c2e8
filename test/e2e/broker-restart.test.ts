import { expect } from 'chai';
import { postMessage, startTestCourier, stateCounts, type TestCourier } from '../support/courier-harness.js';
import { PracticeSimulator } from '../support/practice-simulator.js';
import { captureLogger, OwnRabbitNode, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter, type Letter } from '../fixtures/letters.js';

const PRACTICES = ['A81001', 'A81002', 'B82005'];
const TOTAL = 1_000;
/** The broker application is stopped once this many letters have been accepted. */
const RESTART_AFTER = 300;
/** How long the broker application stays stopped. */
const DOWN_MS = 4_000;
/** Concurrent senders, as a trust's interface engine with a few connections would send. */
const SENDERS = 4;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface SendTally {
  accepted: number;
  /** 503: the broker was away, nothing accepted, the letter is sent again. */
  unavailable: number;
  /** 200 to a resend: the letter was already held (accepted before, answer lost or resent anyway). */
  duplicates: number;
}

/**
 * DESIGN's promise across a broker restart: RabbitMQ's application is stopped
 * (`rabbitmqctl stop_app`) and started again in the middle of a run of 1,000
 * letters to three practices, with letters, publishes and practice acks in
 * flight. Senders resend what was answered 503, as a real sender would. Every
 * letter must end `filed`, none lost, none filed twice, and each practice
 * must see its sequence numbers 1..n with no gap. The node is the test's own;
 * the shared node on 5672 is never touched.
 */
describe('a broker restart during a run loses no letter (own RabbitMQ node)', function () {
  this.timeout(300_000);
  let node: OwnRabbitNode | undefined;
  let c: TestCourier | undefined;
  let practice: PracticeSimulator | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  before(async function () {
    this.timeout(180_000); // starting a node takes ~10–20 s here
    process.on('unhandledRejection', onUnhandled);
    node = await OwnRabbitNode.start(`courierrestart${process.pid}`, 5689);
    c = await startTestCourier({ amqpUrl: node.url, overrides: [{ practices: PRACTICES.map((ods) => ({ ods, name: ods })) }] });
    practice = await PracticeSimulator.start({ url: node.url, prefix: c.prefix, practices: PRACTICES, logger: captureLogger().logger });
  });
  after(async function () {
    this.timeout(120_000);
    await practice?.stop();
    await c?.stop(); // also deletes its queues and exchanges on the own node
    await node?.stop();
    process.off('unhandledRejection', onUnhandled);
  });

  it('files all 1,000 letters after stop_app/start_app mid-run, sequences 1..n per practice', async () => {
    const courier = requireValue(c);
    const simulator = requireValue(practice);
    const broker = requireValue(node);
    const letters: Letter[] = Array.from({ length: TOTAL }, (_, i) => syntheticDocumentReferenceLetter({ destination: PRACTICES[i % PRACTICES.length] ?? 'A81001' }));
    const tally: SendTally = { accepted: 0, unavailable: 0, duplicates: 0 };
    const started = Date.now();
    let next = 0;
    const sender = async (): Promise<void> => {
      for (let i = next++; i < TOTAL; i = next++) await sendUntilHeld(courier.baseUrl, letters[i], tally);
    };
    const sending = Promise.all(Array.from({ length: SENDERS }, () => sender()));
    sending.catch(() => undefined); // awaited below: this only keeps an early failure from counting as unhandled meanwhile

    // The restart, while letters are being accepted, published and acknowledged.
    await waitFor(`${RESTART_AFTER} letters accepted`, () => (tally.accepted >= RESTART_AFTER ? true : undefined), 120_000);
    const atStop = await stateCounts(courier.courier.store);
    const acceptedAtStop = tally.accepted;
    await broker.ctl('stop_app');
    const stoppedAt = Date.now() - started;
    await sleep(DOWN_MS);
    await broker.ctl('start_app');
    const startedAgainAt = Date.now() - started;

    await sending;
    const sentBy = Date.now() - started;
    const counts = await waitFor(
      'every letter filed',
      async () => {
        const now = await stateCounts(courier.courier.store);
        return (now.get('filed') ?? 0) >= TOTAL ? now : undefined;
      },
      120_000,
    ).catch(async (error: unknown) => {
      // Say where the letters are stuck, not just that the wait timed out.
      throw new Error(`${String(error)}; states ${JSON.stringify(Object.fromEntries(await stateCounts(courier.courier.store)))}`);
    });
    const filedBy = Date.now() - started;

    // The restart really happened during the run: letters in flight, more still to send, Courier saw it.
    const openAtStop = [...atStop].filter(([state]) => state !== 'filed').reduce((sum, [, n]) => sum + n, 0);
    expect(openAtStop, 'accepted letters not yet filed when the broker stopped').to.be.greaterThan(0);
    expect(acceptedAtStop, 'letters still to send when the broker stopped').to.be.lessThan(TOTAL);
    expect(courier.logs.some((line) => line.includes('broker connection lost')), 'Courier saw the connection drop').to.equal(true);
    expect(tally.unavailable, 'new letters were refused (503) while the broker was away').to.be.greaterThan(0);

    // Nothing lost, nothing extra: exactly 1,000 letters held, all filed.
    expect(tally.accepted, 'each letter accepted exactly once').to.equal(TOTAL);
    expect(Object.fromEntries(counts), 'letters held, by state').to.deep.equal({ filed: TOTAL });
    expect(simulator.distinct).to.equal(TOTAL);
    PRACTICES.forEach((ods, p) => {
      const expected = letters.filter((_, i) => i % PRACTICES.length === p).length;
      const seen = [...(simulator.sequences.get(ods) ?? [])].sort((a, b) => a - b);
      expect(seen, `${ods} saw every sequence number once, no gap`).to.deep.equal(Array.from({ length: expected }, (_, i) => i + 1));
    });
    expect(unhandled).to.deep.equal([]);
    // The relay reports an outage once per (paced) round, not once per letter per round.
    const relayWarnings = courier.logs.filter((line) => line.includes('"level":"warn"') && line.includes('"component":"relay"')).length;
    expect(relayWarnings, 'relay warnings during the outage').to.be.lessThan(40);

    reportRun({ openAtStop, acceptedAtStop, ...tally, relayWarnings, redeliveries: simulator.duplicates, stoppedAt, startedAgainAt, sentBy, filedBy });
  });
});

/**
 * POSTs one letter until Courier holds it: 202 (accepted) or 200 (a resend
 * of a letter already held). 503 means nothing was accepted: wait and resend
 * the same bytes, as a real sender would. Anything else fails the test.
 */
async function sendUntilHeld(baseUrl: string, letter: Letter, tally: SendTally): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const res = await postMessage(baseUrl, letter);
    if (res.status === 202) {
      tally.accepted++;
      return;
    }
    if (res.status === 200) {
      tally.duplicates++;
      return;
    }
    if (res.status !== 503) throw new Error(`unexpected ${res.status}: ${res.text}`);
    tally.unavailable++;
    if (Date.now() > deadline) throw new Error('Courier kept answering 503 for 90 s after the broker restart');
    await sleep(200);
  }
}

function requireValue<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('before hook did not finish');
  return value;
}

/** How the restart showed up (503s, resends, redeliveries, timings), printed only when COURIER_TEST_VERBOSE is set. */
function reportRun(figures: Record<string, number>): void {
  if (process.env['COURIER_TEST_VERBOSE'] !== undefined) process.stdout.write(`      broker restart run: ${JSON.stringify(figures)}\n`);
}
