import { expect } from 'chai';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { PracticeSimulator } from '../support/practice-simulator.js';
import { captureLogger, OwnRabbitNode, waitFor } from '../support/rabbit.js';
import { awaitSettled, countStates, courierStates, FilingRecord, ledgerOf, LetterStream } from './support/broker-fault-run.js';
import { checkLedger } from './support/ledger.js';
import { reportFigures } from './support/report.js';

const PRACTICES = ['A81001', 'A81002', 'B82005'];
/** Its system is up throughout: its letters and acks are in motion at the kill. */
const ONLINE = ['A81001'];
/** Their systems come online only after the restart: their letters wait on the broker through the kill. */
const LATE = ['A81002', 'B82005'];
const TOTAL = 2_000;
/** The broker is killed once this many letters are held, with the rest still to send. */
const KILL_AFTER = 1_500;
const SETTLE_DEADLINE_MS = 60_000;

/**
 * Scenario 1 (issue 6): RabbitMQ SIGKILLed mid-stream, as a crash or the
 * OOM killer would end it — no clean shutdown, connections reset by the
 * kernel — with letters accepted, being published, delivered and
 * acknowledged, then started again on the same data directory (its durable
 * quorum queues kept). Four senders send 2,000 letters to three practices,
 * resending what is answered 503 as a real sender would. One practice system
 * files letters throughout (letters, confirms and acks in motion at the
 * kill); two come online only after the restart, so about a thousand
 * letters are held by the broker alone when it dies. Every accepted
 * letter must be filed exactly once (or escalated), redeliveries counted,
 * per-practice sequences 1..n. The node is the test's own.
 */
describe('faults 1: the broker SIGKILLed mid-stream and restarted on the same data (own RabbitMQ node)', function () {
  this.timeout(240_000);
  let node: OwnRabbitNode | undefined;
  let c: TestCourier | undefined;
  let practice: PracticeSimulator | undefined;
  let latePractice: PracticeSimulator | undefined;
  let stream: LetterStream | undefined;
  const filing = new FilingRecord();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  before(async function () {
    this.timeout(120_000); // a node takes ~15 s to start here
    process.on('unhandledRejection', onUnhandled);
    node = await OwnRabbitNode.start(`courierbrokerkill${process.pid}`, 5760);
    c = await startTestCourier({ amqpUrl: node.url, overrides: [{ practices: PRACTICES.map((ods) => ({ ods, name: ods })) }] });
    practice = await PracticeSimulator.start({ url: node.url, prefix: c.prefix, practices: ONLINE, logger: captureLogger().logger, answer: filing.answer });
  });
  after(async function () {
    this.timeout(120_000);
    stream?.stop();
    await stream?.finished().catch(() => undefined); // a failure was reported by the test
    await practice?.stop();
    await latePractice?.stop();
    await c?.stop(); // also deletes its queues and exchanges on the own node
    await node?.stop(); // stops it, or kills it if it will not stop
    process.off('unhandledRejection', onUnhandled);
  });

  it('files every accepted letter exactly once after a SIGKILL and restart of the broker', async () => {
    const courier = requireValue(c);
    const broker = requireValue(node);
    const simulator = requireValue(practice);
    let disconnects = 0;
    courier.courier.broker.on('disconnected', () => disconnects++);

    const started = Date.now();
    const letters = new LetterStream({ baseUrl: courier.baseUrl, practices: PRACTICES, senders: 4, paceMs: 0, limit: TOTAL, giveUpMs: 150_000 }).start();
    stream = letters;
    await waitFor(`${KILL_AFTER} letters held`, () => (letters.accepted.size >= KILL_AFTER ? true : undefined), 120_000);

    const atKill = countStates(await courierStates(courier.courier.store));
    const heldAtKill = letters.accepted.size;
    const filedByPracticeAtKill = filing.filed.size;
    await broker.kill();
    const killedAt = Date.now();
    await broker.restart();
    const backAt = Date.now();
    const late = await PracticeSimulator.start({ url: broker.url, prefix: courier.prefix, practices: LATE, logger: captureLogger().logger, answer: filing.answer });
    latePractice = late;

    await letters.finished();
    const lastHeldAt = Date.now();
    const states = await awaitSettled(courier.courier.store, letters.accepted, SETTLE_DEADLINE_MS);
    const settledAt = Date.now();
    const settleMs = settledAt - killedAt;

    // The kill really hit a run in progress, and Courier saw it.
    const inFlightAtKill = Object.entries(atKill).reduce((sum, [state, n]) => sum + (state === 'filed' ? 0 : n), 0);
    expect(inFlightAtKill, `letters accepted but not filed at the kill ${JSON.stringify(atKill)}`).to.be.greaterThan(0);
    expect(heldAtKill, 'letters still to send at the kill').to.be.lessThan(TOTAL);
    expect(disconnects, 'Courier saw its connection die').to.be.greaterThan(0);
    expect(letters.tally.unavailable, 'custody refused (503) while the broker was down').to.be.greaterThan(0);

    // The ledger: every accepted letter filed once (or escalated), nothing extra.
    const verdict = checkLedger(ledgerOf(letters, filing, states, simulator.duplicates + late.duplicates));
    expect(verdict.problems, 'ledger').to.deep.equal([]);
    expect(letters.accepted.size, 'every letter held in the end').to.equal(TOTAL);
    expect(states.size, `letters Courier holds ${JSON.stringify(countStates(states))}`).to.equal(TOTAL);
    expect(filing.sequenceProblems(letters.acceptedPer), 'per-practice sequences 1..n').to.deep.equal([]);
    expect(filing.sequenceReuses, 'a sequence number for two letters').to.equal(0);
    expect(unhandled).to.deep.equal([]);

    reportFigures('1 broker SIGKILL mid-stream, restart on the same data', verdict.figures, settleMs, {
      settleAfterLastLetterSeconds: seconds(settledAt - lastHeldAt),
      heldAtKill,
      inFlightAtKill,
      filedByPracticeAtKill,
      brokerDownSeconds: seconds(backAt - killedAt),
      refused503: letters.tally.unavailable,
      resentAlreadyHeld: letters.tally.alreadyHeld,
      practiceDeliveries: filing.deliveries,
      runSeconds: seconds(Date.now() - started),
      statesAtKill: JSON.stringify(atKill),
      states: JSON.stringify(countStates(states)),
    });
  });
});

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function requireValue<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('before hook did not finish');
  return value;
}
