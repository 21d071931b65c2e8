import { expect } from 'chai';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { PracticeSimulator } from '../support/practice-simulator.js';
import { captureLogger, OwnRabbitNode, waitFor } from '../support/rabbit.js';
import { awaitSettled, countStates, courierStates, FilingRecord, ledgerOf, LetterStream } from './support/broker-fault-run.js';
import { FaultProxy } from './support/fault-proxy.js';
import { checkLedger } from './support/ledger.js';
import { reportFigures } from './support/report.js';

const PRACTICES = ['A81001', 'A81002', 'B82005'];
/** Courier's `amqp.heartbeat` here (production default PT10S). */
const HEARTBEAT_S = 2;
const CLEAN_MS = 2_000;
const LATENCY = { ms: 500, forMs: 8_000 };
/**
 * The issue asks for 30 s of blackhole against the default heartbeat. With a
 * 2 s heartbeat amqplib declares a silent connection dead in 4–6 s (two
 * silent checks, one per heartbeat), so 12 s — six heartbeats, twice the
 * worst case — is long enough that only heartbeats can find the fault and
 * nothing else does: the proxy's kernel acknowledges every byte, so TCP
 * retransmission timeouts and keepalive see a healthy peer, and Courier sets
 * no confirm timeout. The 6 s or more left after detection are an outage in
 * which Courier must refuse custody (503) while its reconnection hangs in
 * the AMQP handshake against the blackhole. It keeps the scenario near 60 s.
 */
const BLACKHOLE_MS = 12_000;
/**
 * Detection bound: two heartbeats, plus one heartbeat of slack because
 * amqplib checks once per heartbeat (the blackhole can begin just after a
 * check), plus 1 s for timers on a loaded two-CPU machine.
 */
const DETECTION_BOUND_MS = 2 * HEARTBEAT_S * 1_000 + HEARTBEAT_S * 1_000 + 1_000;
const RESETS = 3;
const RESET_GAP_MS = 2_500;
const SETTLE_DEADLINE_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Scenario 9 (issue 6): network faults between Courier and RabbitMQ, through
 * a TCP fault proxy in front of the test's own node; the practice system is
 * connected to the node directly. While a trust keeps sending letters
 * (resending on 503), the link to the broker gets 500 ms latency each way,
 * then goes silent (blackhole), then heals and is reset three times. The
 * blackholed connection must be declared dead by heartbeats within the bound;
 * unconfirmed letters are published again; every accepted letter is filed,
 * once, with per-practice sequences 1..n.
 */
describe('faults 9: latency, blackhole and resets between Courier and the broker (fault proxy)', function () {
  this.timeout(150_000);
  let node: OwnRabbitNode | undefined;
  let proxy: FaultProxy | undefined;
  let c: TestCourier | undefined;
  let practice: PracticeSimulator | undefined;
  let stream: LetterStream | undefined;
  const filing = new FilingRecord();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  before(async function () {
    this.timeout(120_000); // a node takes ~15 s to start here
    process.on('unhandledRejection', onUnhandled);
    node = await OwnRabbitNode.start(`courierproxy${process.pid}`, 5740);
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: node.port } });
    c = await startTestCourier({
      amqpUrl: proxy.urlFor(node.url),
      overrides: [{ practices: PRACTICES.map((ods) => ({ ods, name: ods })), amqp: { heartbeat: `PT${HEARTBEAT_S}S` } }],
    });
    practice = await PracticeSimulator.start({ url: node.url, prefix: c.prefix, practices: PRACTICES, logger: captureLogger().logger, answer: filing.answer });
  });
  after(async function () {
    this.timeout(120_000);
    stream?.stop();
    await stream?.finished().catch(() => undefined); // a failure was reported by the test
    proxy?.setLatency(0);
    proxy?.blackhole(false); // Courier must reach the broker to close and clean up
    await practice?.stop();
    await c?.stop(); // also deletes its queues and exchanges, through the proxy
    await proxy?.stop();
    await node?.stop();
    process.off('unhandledRejection', onUnhandled);
  });

  it('declares the blackholed connection dead by heartbeat, publishes again what was unconfirmed, files every letter once', async () => {
    const courier = requireValue(c);
    const faults = requireValue(proxy);
    const simulator = requireValue(practice);
    const disconnects: { at: number; reason: string }[] = [];
    courier.courier.broker.on('disconnected', (error) => disconnects.push({ at: Date.now(), reason: error.message }));
    const connects: number[] = [];
    courier.courier.broker.on('connected', () => connects.push(Date.now()));

    const started = Date.now();
    const letters = new LetterStream({ baseUrl: courier.baseUrl, practices: PRACTICES, senders: 4, paceMs: 80 }).start();
    stream = letters;
    await sleep(CLEAN_MS);

    faults.setLatency(LATENCY.ms);
    await sleep(LATENCY.forMs);
    const acceptedBeforeBlackhole = letters.accepted.size;

    faults.setLatency(0); // what was delayed is held by the blackhole from here on
    faults.blackhole(true);
    const blackholedAt = Date.now();
    await sleep(BLACKHOLE_MS);
    const unavailableInBlackhole = letters.tally.unavailable;
    faults.blackhole(false);
    const healedAt = Date.now();

    let resetConnections = 0;
    for (let i = 0; i < RESETS; i++) {
      await waitFor('Courier connected before a reset', () => (courier.courier.broker.isConnected() ? true : undefined), 20_000);
      await sleep(RESET_GAP_MS);
      resetConnections += faults.resetAll();
    }
    const lastFaultAt = Date.now();
    await sleep(2_000);
    letters.stop();
    await letters.finished();
    const lastHeldAt = Date.now();

    const states = await awaitSettled(courier.courier.store, letters.accepted, SETTLE_DEADLINE_MS).catch((error: unknown) => {
      throw new Error(`${String(error)}; the practice filed ${filing.filed.size} letters`);
    });
    const settledAt = Date.now();
    const settleMs = settledAt - lastFaultAt;

    // The faults happened as planned, and Courier noticed each one.
    const detection = disconnects.find((d) => d.at >= blackholedAt);
    expect(detection, 'the blackholed connection was declared dead').to.not.equal(undefined);
    const detectionMs = (detection?.at ?? Infinity) - blackholedAt;
    expect(detection?.reason, 'found by the heartbeat, nothing else').to.equal('Heartbeat timeout');
    expect(detectionMs, `declared dead within 2 heartbeats + slack (${DETECTION_BOUND_MS} ms)`).to.be.at.most(DETECTION_BOUND_MS);
    expect(courier.logs.some((line) => line.includes('broker connection lost; reconnecting') && line.includes('Heartbeat timeout')), 'the log says so').to.equal(true);
    expect(detection?.at ?? Infinity, 'detected while still blackholed').to.be.below(healedAt);
    expect(unavailableInBlackhole, 'custody refused (503) while the broker was unreachable').to.be.greaterThan(0);
    expect(resetConnections, 'connections reset').to.be.at.least(RESETS);
    expect(disconnects.filter((d) => d.at >= healedAt).length, 'Courier saw every reset').to.be.at.least(RESETS);
    expect(connects.filter((at) => at >= blackholedAt).length, 'Courier reconnected after the blackhole and every reset').to.be.at.least(1 + RESETS);
    const reconnectedAt = connects.find((at) => at >= blackholedAt) ?? Infinity;
    const publishedAgain = lettersPublishedAgain(courier.logs);
    expect(publishedAgain, 'letters left unconfirmed by the faults, published again').to.be.greaterThan(0);

    // The ledger: every accepted letter filed once (or escalated), nothing extra.
    const verdict = checkLedger(ledgerOf(letters, filing, states, simulator.duplicates));
    expect(verdict.problems, 'ledger').to.deep.equal([]);
    expect(states.size, `letters Courier holds ${JSON.stringify(countStates(states))}`).to.equal(letters.accepted.size);
    expect(filing.sequenceProblems(letters.acceptedPer), 'per-practice sequences 1..n').to.deep.equal([]);
    expect(filing.sequenceReuses, 'a sequence number for two letters').to.equal(0);
    expect(unhandled).to.deep.equal([]);

    reportFigures('9 proxy faults: 500 ms latency, 12 s blackhole, 3 resets', verdict.figures, settleMs, {
      settleAfterLastLetterSeconds: seconds(settledAt - lastHeldAt),
      detectionSeconds: seconds(detectionMs),
      reconnectedAfterHealSeconds: seconds(reconnectedAt - healedAt),
      heartbeatSeconds: HEARTBEAT_S,
      blackholeSeconds: BLACKHOLE_MS / 1_000,
      acceptedBeforeBlackhole,
      lettersPublishedAgain: publishedAgain,
      refused503: letters.tally.unavailable,
      resentAlreadyHeld: letters.tally.alreadyHeld,
      practiceDeliveries: filing.deliveries,
      brokerDisconnects: disconnects.length,
      runSeconds: seconds(Date.now() - started),
      states: JSON.stringify(countStates(await courierStates(courier.courier.store))),
    });
  });
});

/** Distinct letters the relay had to publish again because the broker never confirmed a publish (its debug log, per tracking id). */
function lettersPublishedAgain(logs: readonly string[]): number {
  const ids = logs
    .filter((line) => line.includes('publish not confirmed; will publish again'))
    .map((line) => (JSON.parse(line) as { trackingId?: unknown }).trackingId);
  return new Set(ids.filter((id) => typeof id === 'string')).size;
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function requireValue<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('before hook did not finish');
  return value;
}
