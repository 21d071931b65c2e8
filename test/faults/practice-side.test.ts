import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { connectorConfigFor, startTestConnector, type TestConnector } from '../support/connector-harness.js';
import { FILE_IT, FhirEndpointStandIn } from '../support/fhir-endpoint-stand-in.js';
import { captureLogger, OwnRabbitNode, RabbitProbe, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';
import { checkLedger, type Ledger } from './support/ledger.js';
import { reportFigures } from './support/report.js';
import { courierLetters, statesOf } from './support/courier-letters.js';
import { ScriptedPractice } from './support/scripted-practice.js';
import {
  enteredAt,
  historyOf,
  interleave,
  quantile,
  seconds,
  submitAll,
  waitSettled,
  type Accepted,
} from './support/practice-side.js';

const CLI = fileURLToPath(new URL('../../bin/courier', import.meta.url));

/** Timers shortened as `COURIER_CONFIG` would (DESIGN §9); each scenario picks the rest. */
const sweep = { sweepInterval: 'PT0.2S' };

/** Fails with every problem the checker found, so a CI log says what was lost or doubled. */
function expectLedgerHolds(ledger: Ledger) {
  const verdict = checkLedger(ledger);
  expect(verdict.problems, 'ledger problems').to.deep.equal([]);
  return verdict.figures;
}

/** Repeated deliveries per letter (requests or deliveries beyond the first), letters in `except` left out. */
function repeats(ids: readonly string[], except: ReadonlySet<string> = new Set()): number {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return [...counts].filter(([id]) => !except.has(id)).reduce((sum, [, n]) => sum + n - 1, 0);
}

/**
 * Issue 6, the practice side fails: the connector killed while it holds
 * letters (3), a practice that takes letters and never answers (4), one
 * poison letter among 1,000 (6), an operator deleting a practice queue with
 * letters in it (7). One RabbitMQ node of the file's own, a Courier per
 * scenario (its own prefix, embedded store, shortened timers), and at the end
 * of each the ledger check: every accepted letter filed once, or escalated.
 */
describe('faults: the practice side fails (own RabbitMQ node)', function () {
  this.timeout(150_000);
  let node: OwnRabbitNode | undefined;
  const rabbit = (): OwnRabbitNode => {
    if (node === undefined) throw new Error('the RabbitMQ node did not start');
    return node;
  };

  before(async function () {
    this.timeout(120_000);
    node = await OwnRabbitNode.start('faults-practice-side', 5700);
  });
  after(async function () {
    this.timeout(60_000);
    await node?.stop();
  });

  describe('scenario 3: the connector SIGKILLed while it holds unacked letters, three times', function () {
    const ODS = 'A81001';
    const LETTERS = 300;
    const PREFETCH = 16;
    const KILLS = 3;
    const SLOW_MS = 100;
    let c: TestCourier | undefined;
    let endpoint: FhirEndpointStandIn | undefined;
    let child: ChildProcess | undefined;
    let dir: string | undefined;

    before(async () => {
      // No Courier retries here (ack timeout 5 min): what is tested is the connector's own recovery.
      c = await startTestCourier({ amqpUrl: rabbit().url, overrides: [{ practices: [{ ods: ODS, name: 'Killed connector' }], delivery: { infrastructureAckTimeout: 'PT5M' } }] });
      endpoint = await FhirEndpointStandIn.start();
      endpoint.delayMs = SLOW_MS; // a slow GP system: the connector holds PREFETCH letters at any moment
    });
    after(async () => {
      await stopChild('SIGKILL');
      await endpoint?.stop();
      await c?.stop();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    async function stopChild(signal: NodeJS.Signals): Promise<number | null> {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return null;
      const exited = new Promise<number | null>((resolve) => running.once('exit', (code) => resolve(code)));
      running.kill(signal);
      return exited;
    }

    it(`${LETTERS} letters, slow endpoint, prefetch ${PREFETCH}: every letter filed exactly once`, async () => {
      const courier = c!;
      const stand = endpoint!;
      const config = await connectorConfigFor(courier, {
        amqpUrl: rabbit().url,
        prefetch: PREFETCH,
        logLevel: 'warn',
        practices: [{ ods: ODS, sink: { kind: 'fhir', baseUrl: stand.baseUrl, timeout: 'PT5S' } }],
      });
      dir = config.dir;
      const configFile = join(dir, 'connector.json');
      await writeFile(configFile, JSON.stringify(config.raw));
      // First hand-overs, by arrival time: one is in flight at the endpoint for SLOW_MS after it arrived.
      const arrivals: number[] = [];
      stand.answer = (id, earlier) => {
        arrivals.push(Date.now());
        return FILE_IT(id, earlier);
      };
      const inFlight = (): number => arrivals.filter((t) => t > Date.now() - SLOW_MS).length;
      const startChild = (): ChildProcess => {
        // bin/courier execs node itself, so the pid is the connector's own and SIGKILL reaches it.
        const started = spawn(CLI, ['connect', '--config', configFile], { stdio: ['ignore', 'ignore', 'ignore'] });
        started.on('error', () => undefined);
        return started;
      };

      const began = Date.now();
      const accepted = await submitAll(courier, Array.from({ length: LETTERS }, () => syntheticDocumentReferenceLetter({ destination: ODS })));
      child = startChild();
      const heldAtKills: number[] = [];
      const requestsAtKills: number[] = [];
      for (let k = 1; k <= KILLS; k++) {
        const target = Math.round((LETTERS * k) / (KILLS + 1));
        // Killed mid-stream, with hand-overs in flight at the endpoint (and more letters prefetched behind them).
        const held = await waitFor(`${target} filed with hand-overs in flight`, () => {
          const now = inFlight();
          return stand.filed >= target && now >= 2 ? now : undefined;
        }, 60_000);
        heldAtKills.push(held);
        await stopChild('SIGKILL');
        requestsAtKills.push(stand.requests.length);
        expect(stand.filed, `kill ${k} came mid-stream`).to.be.below(LETTERS);
        child = startChild();
      }
      const settledAt = await waitSettled(courier, [ODS], LETTERS, 90_000);
      expect(await stopChild('SIGTERM'), 'a clean stop on SIGTERM').to.equal(0);

      const views = await courierLetters(courier.baseUrl);
      const figures = expectLedgerHolds({
        accepted: new Set(accepted.map((a) => a.messageHeaderId)),
        filed: stand.filings,
        states: statesOf(views),
        duplicateDeliveries: repeats(stand.requests.map((r) => r.id)),
      });
      expect(figures.filed, 'all filed, none escalated').to.equal(LETTERS);
      // A letter is handed over again only when a kill caught it mid-hand-over (in doubt): at most the PREFETCH letters held.
      expect(figures.duplicatesDelivered, 'hand-overs again: at most the letters held at each kill').to.be.at.most(KILLS * PREFETCH);
      // Per kill, for the figures: letters asked for before the kill and again before the next one.
      const rehandedPerKill = requestsAtKills.map((at, k) => {
        const earlier = new Set(stand.requests.slice(0, at).map((r) => r.id));
        return new Set(stand.requests.slice(at, requestsAtKills[k + 1]).map((r) => r.id).filter((id) => earlier.has(id))).size;
      });
      reportFigures('3 connector SIGKILLed x3 holding letters', figures, settledAt - began, {
        kills: KILLS,
        inFlightAtEndpointAtKills: heldAtKills.join('/'),
        handedOverAgainPerKill: rehandedPerKill.join('/'),
        endpointRequests: stand.requests.length,
      });
    });
  });

  describe('scenario 4: a practice that never answers, beside two healthy ones', function () {
    const SILENT = 'A81001';
    const HEALTHY = ['A81002', 'A81003'];
    const MAX_ATTEMPTS = 3;
    const DEADLINE_S = 40;
    let c: TestCourier | undefined;
    let practice: ScriptedPractice | undefined;

    before(async () => {
      c = await startTestCourier({
        amqpUrl: rabbit().url,
        overrides: [
          {
            practices: [SILENT, ...HEALTHY].map((ods) => ({ ods, name: ods === SILENT ? 'Black hole' : 'Healthy' })),
            delivery: { infrastructureAckTimeout: 'PT3S', backoff: { initial: 'PT0.5S', max: 'PT1S' }, maxAttempts: MAX_ATTEMPTS, ...sweep },
            deadlines: { ITK003D: `PT${DEADLINE_S}S` },
          },
        ],
      });
      practice = await ScriptedPractice.start({
        url: rabbit().url,
        prefix: c.prefix,
        practices: [SILENT, ...HEALTHY],
        logger: captureLogger().logger,
        script: (ods) => (ods === SILENT ? 'ignore' : 'file'), // the silent system takes its letters and says nothing
      });
    });
    after(async () => {
      await practice?.stop();
      await c?.stop();
    });

    it('its letters are escalated after maxAttempts, within the deadline; the others all filed at once', async () => {
      const courier = c!;
      const gp = practice!;
      const letters = interleave({ [SILENT]: 100, [HEALTHY[0]!]: 300, [HEALTHY[1]!]: 300 }).map((ods) => syntheticDocumentReferenceLetter({ destination: ods }));
      const began = Date.now();
      const accepted = await submitAll(courier, letters);
      const settledAt = await waitSettled(courier, [SILENT, ...HEALTHY], letters.length, 90_000);

      const views = await courierLetters(courier.baseUrl);
      const silent = accepted.filter((a) => a.destination === SILENT);
      const healthy = accepted.filter((a) => a.destination !== SILENT);
      const escalatedAfter: number[] = [];
      for (const letter of silent) {
        const history = await historyOf(courier, letter.trackingId);
        const escalated = history.at(-1);
        expect(escalated?.to, letter.trackingId).to.equal('escalated');
        expect(escalated?.cause).to.match(new RegExp(`no infrastructure ack for attempt ${MAX_ATTEMPTS} in time; ${MAX_ATTEMPTS} attempts made`));
        const received = enteredAt(history, 'received') ?? 0;
        escalatedAfter.push((enteredAt(history, 'escalated') ?? Infinity) - received);
      }
      expect(Math.max(...escalatedAfter), 'escalated before the filing deadline').to.be.below(DEADLINE_S * 1000);
      for (const letter of healthy) expect(views.get(letter.messageHeaderId)?.state, letter.trackingId).to.equal('filed');

      const healthyLatency = healthy.map((a) => (gp.filedAt.get(a.messageHeaderId) ?? Infinity) - a.acceptedAt);
      const figures = expectLedgerHolds({
        accepted: new Set(accepted.map((a) => a.messageHeaderId)),
        filed: gp.filings,
        states: statesOf(views),
        duplicateDeliveries: gp.duplicates(),
      });
      expect(figures.escalated).to.equal(silent.length);
      reportFigures('4 practice never acks beside healthy ones', figures, settledAt - began, {
        silentRedeliveries: gp.duplicates(new Set(healthy.map((a) => a.messageHeaderId))),
        silentEscalatedP50Seconds: seconds(quantile(escalatedAfter, 0.5)),
        silentEscalatedMaxSeconds: seconds(Math.max(...escalatedAfter)),
        healthyFiledP50Seconds: seconds(quantile(healthyLatency, 0.5)),
        healthyFiledP99Seconds: seconds(quantile(healthyLatency, 0.99)),
        healthyFiledMaxSeconds: seconds(Math.max(...healthyLatency)),
        healthyRetried: healthy.filter((a) => (views.get(a.messageHeaderId)?.attempts ?? 0) > 1).length,
      });
    });
  });

  describe('scenario 6: a poison letter among 1,000 (one per parking path)', function () {
    const CONNECTED = 'A81001'; // the connector; its FHIR endpoint answers 500 for the poison letter, always
    const NATIVE = 'A81002'; // a native consumer that hands the poison letter back to the queue, always
    const PER_PRACTICE = 500;
    const POISON_AT = 20; // the poison is the 20th letter of its practice: nearly everything queues behind it
    const MAX_ATTEMPTS = 3;
    let c: TestCourier | undefined;
    let endpoint: FhirEndpointStandIn | undefined;
    let connector: TestConnector | undefined;
    let practice: ScriptedPractice | undefined;
    const poison = { connected: '', native: '' };

    before(async () => {
      c = await startTestCourier({
        amqpUrl: rabbit().url,
        overrides: [
          {
            practices: [{ ods: CONNECTED, name: 'Connector practice' }, { ods: NATIVE, name: 'Native practice' }],
            // The ack timeout is long: the poison letters are parked by the transient-error count and by the queue's delivery limit.
            delivery: { infrastructureAckTimeout: 'PT30S', backoff: { initial: 'PT1S', max: 'PT2S' }, maxAttempts: MAX_ATTEMPTS, ...sweep },
            deadlines: { ITK003D: 'PT2M' },
          },
        ],
      });
      endpoint = await FhirEndpointStandIn.start();
      connector = await startTestConnector(c, {
        amqpUrl: rabbit().url,
        prefetch: 16,
        retry: { limit: 4, initial: 'PT0.2S', max: 'PT1S' },
        practices: [{ ods: CONNECTED, sink: { kind: 'fhir', baseUrl: endpoint.baseUrl, timeout: 'PT5S' } }],
      });
      practice = await ScriptedPractice.start({
        url: rabbit().url,
        prefix: c.prefix,
        practices: [NATIVE],
        logger: captureLogger().logger,
        handBackDelayMs: 300,
        script: (_ods, id) => (id === poison.native ? 'hand-back' : 'file'),
      });
    });
    after(async () => {
      await connector?.stop();
      await practice?.stop();
      await endpoint?.stop();
      await c?.stop();
    });

    it('each poison letter is parked and escalated, the other 998 are filed, and the queues keep flowing meanwhile', async () => {
      const courier = c!;
      const stand = endpoint!;
      const gp = practice!;
      const destinations = interleave({ [CONNECTED]: PER_PRACTICE, [NATIVE]: PER_PRACTICE });
      const letters = destinations.map((ods) => syntheticDocumentReferenceLetter({ destination: ods }));
      const nth = (ods: string): string => letters.filter((_, i) => destinations[i] === ods)[POISON_AT - 1].entry[0].resource.id as string;
      poison.connected = nth(CONNECTED);
      poison.native = nth(NATIVE);
      const filedAt = new Map<string, number>();
      stand.answer = (id, earlier) => {
        if (id === poison.connected) return { status: 500, body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception' }] } };
        filedAt.set(id, Date.now());
        return FILE_IT(id, earlier);
      };

      const began = Date.now();
      const accepted = await submitAll(courier, letters);
      const settledAt = await waitSettled(courier, [CONNECTED, NATIVE], letters.length, 90_000);
      const views = await courierLetters(courier.baseUrl);

      /** Letters queued behind the poison (higher sequence, same practice) that were filed while it was still being retried. */
      const flowedPast = async (ods: string, poisonId: string, filed: ReadonlyMap<string, number>, cause: RegExp): Promise<number> => {
        const view = views.get(poisonId)!;
        const history = await historyOf(courier, view.trackingId);
        expect(history.at(-1)?.to, `poison letter for ${ods}`).to.equal('escalated');
        expect(history.at(-1)?.cause).to.match(cause);
        const parkedAt = enteredAt(history, 'escalated')!;
        const behind = accepted.filter((a) => a.destination === ods && views.get(a.messageHeaderId)!.sequence > view.sequence);
        return behind.filter((a) => (filed.get(a.messageHeaderId) ?? Infinity) < parkedAt).length;
      };
      const pastConnected = await flowedPast(CONNECTED, poison.connected, filedAt, new RegExp(`transient error from the practice.*${MAX_ATTEMPTS} attempts made`));
      const pastNative = await flowedPast(NATIVE, poison.native, gp.filedAt, /dead-lettered by the broker: the delivery limit was reached/);
      expect(pastConnected, 'letters behind the poison filed while the connector retried it').to.be.greaterThan(0);
      expect(pastNative, 'letters behind the poison filed while the native practice handed it back').to.be.greaterThan(0);

      const poisons = new Set([poison.connected, poison.native]);
      const figures = expectLedgerHolds({
        accepted: new Set(accepted.map((a: Accepted) => a.messageHeaderId)),
        filed: new Map([...stand.filings, ...gp.filings]),
        states: statesOf(views),
        duplicateDeliveries: repeats(stand.requests.map((r) => r.id), poisons) + gp.duplicates(poisons),
      });
      expect(figures.filed).to.equal(letters.length - 2);
      expect(figures.escalated).to.equal(2);
      reportFigures('6 poison letter among 1,000 (connector 500s; native hand-back)', figures, settledAt - began, {
        poisonHandOversAtEndpoint: stand.requestsFor(poison.connected),
        poisonHandBacksNative: gp.handedBack,
        filedBehindPoisonWhileRetriedConnector: pastConnected,
        filedBehindPoisonWhileRetriedNative: pastNative,
      });
    });
  });

  describe('scenario 7: an operator deletes a practice queue with letters in it', function () {
    const GONE = 'A81001'; // its system is offline: letters wait in its queue, which an operator then deletes
    const HEALTHY = 'A81002';
    const DEADLINE_S = 45;
    let c: TestCourier | undefined;
    let practice: ScriptedPractice | undefined;
    let probe: RabbitProbe | undefined;

    before(async () => {
      c = await startTestCourier({
        amqpUrl: rabbit().url,
        overrides: [
          {
            practices: [{ ods: GONE, name: 'Queue deleted' }, { ods: HEALTHY, name: 'Healthy' }],
            // maxAttempts is high so only the deletion can escalate these letters before the deadline.
            delivery: { infrastructureAckTimeout: 'PT6S', backoff: { initial: 'PT0.5S', max: 'PT1S' }, maxAttempts: 5, ...sweep },
            deadlines: { ITK003D: `PT${DEADLINE_S}S` },
          },
        ],
      });
      probe = await RabbitProbe.open(rabbit().url, rabbit().node);
      practice = await ScriptedPractice.start({ url: rabbit().url, prefix: c.prefix, practices: [HEALTHY], logger: captureLogger().logger, script: () => 'file' });
    });
    after(async () => {
      await practice?.stop();
      await probe?.close();
      await c?.stop();
    });

    it('the letters it held are escalated as unroutable on their next attempt, new ones at once; none lost silently', async () => {
      const courier = c!;
      const broker = probe!;
      const queue = `${courier.prefix}.gp.${GONE}`;
      const escalations = await broker.tap(`${courier.prefix}.events`, `escalated.${GONE}`);
      const began = Date.now();
      const held = await submitAll(courier, interleave({ [GONE]: 40, [HEALTHY]: 120 }).map((ods) => syntheticDocumentReferenceLetter({ destination: ods })));
      await waitFor('the letters waiting in the queue', async () => ((await broker.messageCount(queue)) ?? 0) >= 40 || undefined, 30_000);
      const deletedAt = Date.now();
      await rabbit().ctl('delete_queue', queue); // what an operator tidying up would type
      expect(await broker.messageCount(queue), 'the queue is gone, and its letters with it').to.equal(undefined);
      const later = await submitAll(courier, interleave({ [GONE]: 10, [HEALTHY]: 10 }).map((ods) => syntheticDocumentReferenceLetter({ destination: ods })));
      const accepted = [...held, ...later];
      const settledAt = await waitSettled(courier, [GONE, HEALTHY], accepted.length, 60_000);

      const views = await courierLetters(courier.baseUrl);
      const gone = accepted.filter((a) => a.destination === GONE);
      const noticedAfter: number[] = [];
      for (const letter of gone) {
        const history = await historyOf(courier, letter.trackingId);
        expect(history.at(-1)?.to, letter.trackingId).to.equal('escalated');
        expect(history.at(-1)?.cause, 'the escalation says why').to.match(/attempt \d+ was unroutable: no queue is bound for the practice/);
        const escalatedAt = enteredAt(history, 'escalated')!;
        expect(escalatedAt - enteredAt(history, 'received')!, 'escalated before the filing deadline').to.be.below(DEADLINE_S * 1000);
        if (held.includes(letter)) noticedAfter.push(escalatedAt - deletedAt);
      }
      await waitFor('an escalation event per letter', () => (escalations.length === gone.length ? true : undefined), 10_000);
      const metrics = await (await fetch(`${courier.baseUrl}/metrics`)).text();
      const returned = Number(/courier_publishes_total\{what="letter",outcome="returned"\} (\d+)/.exec(metrics)?.[1] ?? 0);
      expect(returned, 'returned publishes counted').to.be.at.least(gone.length);

      const gp = practice!;
      const figures = expectLedgerHolds({
        accepted: new Set(accepted.map((a) => a.messageHeaderId)),
        filed: gp.filings,
        states: statesOf(views),
        duplicateDeliveries: gp.duplicates(),
      });
      expect(figures.escalated).to.equal(gone.length);
      reportFigures('7 practice queue deleted with letters in it', figures, settledAt - began, {
        lettersInDeletedQueue: 40,
        sentAfterDeletion: 10,
        noticedAfterDeletionP50Seconds: seconds(quantile(noticedAfter, 0.5)),
        noticedAfterDeletionMaxSeconds: seconds(Math.max(...noticedAfter)),
        returnedPublishes: returned,
      });
    });
  });
});
