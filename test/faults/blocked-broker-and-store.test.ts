import { expect } from 'chai';
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { dropSchema, randomSchema } from '../support/postgres.js';
import { OwnRabbitNode, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';
import { statesOf, waitUntilSettled } from './support/courier-letters.js';
import { FilingPractice } from './support/filing-practice.js';
import { checkLedger, type LedgerVerdict } from './support/ledger.js';
import { PgGate } from './support/pg-gate.js';
import { reportFigures } from './support/report.js';
import { ResendingSender, type OutgoingLetter, type SentAnswer } from './support/resending-sender.js';
import { createSchemaUrl } from './support/schema-url.js';

const PRACTICES = ['A81001', 'A81002', 'B82005'];
const SENDERS = 3;
/** Senders stop taking new letters once this many more were held after the fault ended (ingest resumed). */
const AFTER_RECOVERY = 100;
/** The fault starts once this many letters are held, so letters are in every stage when it strikes. */
const FAULT_AFTER = 120;
/** How long the fault lasts once Courier has been seen to notice it. */
const FAULT_MS = 6_000;
const SETTLE_DEADLINE_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Readiness {
  readonly httpStatus: number;
  readonly store?: string;
  readonly broker?: string;
}

/**
 * Scenario 8 of the faults suite (issue 6): the two things Courier cannot
 * keep a promise without. (a) The broker raises a disk alarm and blocks
 * publishing connections: nothing can be published, so Courier must refuse
 * custody (503) rather than let its outbox fill with letters nobody can
 * send; a 202 must still always mean a committed row. (b) The database goes
 * away (a TCP gate in front of the shared PostgreSQL resets every connection
 * and refuses new ones; the server itself is never touched): 503, no 202.
 * After each, everything recovers by itself: every letter held is filed, the
 * ledger holds. Courier runs on PostgreSQL in a fresh schema, against a
 * RabbitMQ node of the test's own.
 */
describe('faults: blocked broker and unreachable store', function () {
  this.timeout(240_000);
  let node: OwnRabbitNode | undefined;

  before(async function () {
    this.timeout(120_000);
    node = await OwnRabbitNode.start(`courierblocked${process.pid}`, 5791);
  });
  after(async function () {
    this.timeout(60_000);
    await node?.stop();
  });

  describe('(a) a broker disk alarm blocks publishing', () => {
    const schema = randomSchema();
    let courier: TestCourier | undefined;
    let practice: FilingPractice | undefined;
    let running: ResendingSender | undefined;
    let limitRaised = false;

    after(async function () {
      this.timeout(60_000);
      running?.stop();
      if (limitRaised) await node?.ctl('set_disk_free_limit', '50MB'); // a blocked connection would not close cleanly
      await practice?.stop();
      await courier?.stop();
      await dropSchema(schema);
    });

    it('answers 503 while blocked, no 202 without a committed row, and files everything once the alarm clears', async () => {
      const own = requireValue(node);
      courier = await startTestCourier({ amqpUrl: own.url, databaseUrl: await createSchemaUrl(schema), overrides: [{ practices: PRACTICES.map((ods) => ({ ods, name: ods })) }] });
      const c = courier;
      practice = await FilingPractice.start({ url: own.url, prefix: c.prefix, practices: PRACTICES });
      const sender = new ResendingSender({ baseUrl: () => c.baseUrl, senders: SENDERS });
      running = sender;
      const started = Date.now();
      const sending = startSending(sender);

      await waitFor(`${FAULT_AFTER} letters held`, () => (sender.held.size >= FAULT_AFTER ? true : undefined), 60_000);
      const { bavail, bsize } = await statfs(tmpdir());
      const limitBytes = String(Number(bavail) * Number(bsize) * 2 + 1_000_000_000); // above the free space of the node's disk
      await own.ctl('set_disk_free_limit', limitBytes);
      limitRaised = true;
      const alarmAt = Date.now();
      // The broker blocks a connection when it next publishes; Courier's relay publishes all the time.
      await waitFor('the broker to block Courier\'s connection', async () => ((await connectionState(own, 'courier')) === 'blocked' ? true : undefined), 20_000);
      const brokerBlockedAt = Date.now();
      // From when Courier has the broker's connection.blocked (readiness says so), no letter may be taken.
      const readyWhileBlocked = await waitFor('Courier to report the broker blocked', async () => {
        const ready = await readiness(c.baseUrl);
        return ready.broker === 'blocked' ? ready : undefined;
      }, 10_000);
      const blockedAt = Date.now();
      await sleep(FAULT_MS);
      const outboxAtEnd = await outboxDepth(c.baseUrl);
      const restoringAt = Date.now();
      await own.ctl('set_disk_free_limit', '50MB');
      limitRaised = false;

      await sending.finish();
      const sentAt = Date.now();
      const { verdict, settleMs } = await settleAndCheck(c, sender, requireValue(practice));

      const inWindow = answersWithin(sender, blockedAt, restoringAt);
      const counts = sender.statusCounts();
      reportFigures('blocked-broker (disk alarm, PostgreSQL)', verdict.figures, settleMs, {
        secondsToBlock: seconds(brokerBlockedAt - alarmAt),
        secondsToNotice: seconds(blockedAt - brokerBlockedAt),
        blockedSeconds: seconds(restoringAt - blockedAt),
        accepted202AfterAlarmBeforeBlocked: sender.answers.filter((a) => a.status === 202 && a.answeredAt >= alarmAt && a.startedAt < blockedAt).length,
        accepted202WhileBlocked: inWindow.filter((a) => a.status === 202).length,
        answered503WhileBlocked: inWindow.filter((a) => a.status === 503).length,
        answered200: counts['200'] ?? 0,
        outboxDispatchAtRestore: outboxAtEnd.dispatch,
        sendSeconds: seconds(sentAt - started),
        runSeconds: seconds(Date.now() - started),
      });

      expect(inWindow.filter((a) => a.status === 202).length, '202s to letters sent while the broker blocked Courier').to.equal(0);
      expect(inWindow.filter((a) => a.status === 503).length, '503s while blocked').to.be.greaterThan(0);
      expect(readyWhileBlocked, '/readyz while blocked').to.deep.include({ httpStatus: 503, broker: 'blocked', store: 'up' });
      expect(verdict.problems).to.deep.equal([]);
      expect(otherAnswers(sender), 'answers other than 202, 200, 503').to.deep.equal({});
    });
  });

  describe('(b) the database goes away', () => {
    const schema = randomSchema();
    let courier: TestCourier | undefined;
    let practice: FilingPractice | undefined;
    let gate: PgGate | undefined;
    let running: ResendingSender | undefined;

    after(async function () {
      this.timeout(60_000);
      running?.stop();
      await gate?.restore(); // so Courier can close its pool cleanly
      await practice?.stop();
      await courier?.stop();
      await gate?.close();
      await dropSchema(schema);
    });

    it('answers 503 while PostgreSQL is unreachable, no 202, and recovers by itself: all filed once', async () => {
      const own = requireValue(node);
      gate = await PgGate.open();
      const g = gate;
      courier = await startTestCourier({ amqpUrl: own.url, databaseUrl: g.url(await createSchemaUrl(schema)), overrides: [{ practices: PRACTICES.map((ods) => ({ ods, name: ods })) }] });
      const c = courier;
      practice = await FilingPractice.start({ url: own.url, prefix: c.prefix, practices: PRACTICES });
      const sender = new ResendingSender({ baseUrl: () => c.baseUrl, senders: SENDERS });
      running = sender;
      const started = Date.now();
      const sending = startSending(sender);

      await waitFor(`${FAULT_AFTER} letters held`, () => (sender.held.size >= FAULT_AFTER ? true : undefined), 60_000);
      await g.cut();
      const cutAt = Date.now();
      const readyWhileCut = await waitFor('Courier to report the store down', async () => {
        const ready = await readiness(c.baseUrl);
        return ready.store === 'down' ? ready : undefined;
      }, 20_000);
      const noticedAt = Date.now();
      await sleep(FAULT_MS);
      const restoringAt = Date.now();
      await g.restore();

      await sending.finish();
      const sentAt = Date.now();
      const { verdict, settleMs } = await settleAndCheck(c, sender, requireValue(practice));

      const inWindow = answersWithin(sender, cutAt, restoringAt);
      const counts = sender.statusCounts();
      reportFigures('store-unreachable (PostgreSQL behind a cut TCP gate)', verdict.figures, settleMs, {
        secondsToNotice: seconds(noticedAt - cutAt),
        cutSeconds: seconds(restoringAt - cutAt),
        accepted202WhileCut: inWindow.filter((a) => a.status === 202).length,
        answered503WhileCut: inWindow.filter((a) => a.status === 503).length,
        answered200: counts['200'] ?? 0,
        noAnswer: counts['0'] ?? 0,
        sendSeconds: seconds(sentAt - started),
        runSeconds: seconds(Date.now() - started),
      });

      expect(inWindow.filter((a) => a.status === 202).length, '202s to letters sent while the database was unreachable').to.equal(0);
      expect(inWindow.filter((a) => a.status === 503).length, '503s while the database was unreachable').to.be.greaterThan(0);
      expect(readyWhileCut, '/readyz while the database was unreachable').to.deep.include({ httpStatus: 503, store: 'down', broker: 'up' });
      expect(verdict.problems).to.deep.equal([]);
      expect(otherAnswers(sender), 'answers other than 202, 200, 503').to.deep.equal({});
    });
  });
});

/**
 * Starts senders that keep sending new letters (to the practices in turn)
 * through the fault. `finish()`, called once the fault is over, lets them go
 * on until AFTER_RECOVERY more letters were held, then stop taking new ones;
 * it resolves when every letter started is held.
 */
function startSending(sender: ResendingSender): { finish(): Promise<void> } {
  let made = 0;
  let stopAt = Number.POSITIVE_INFINITY;
  const make = (): OutgoingLetter => {
    const letter = syntheticDocumentReferenceLetter({ destination: PRACTICES[made++ % PRACTICES.length] ?? 'A81001' });
    return { messageHeaderId: letter.entry[0].resource.id as string, body: Buffer.from(JSON.stringify(letter)) };
  };
  const done = sender.sendWhile(() => sender.held.size < stopAt, make);
  done.catch(() => undefined); // awaited by finish(); this only keeps an early failure from counting as unhandled meanwhile
  return {
    finish: async () => {
      stopAt = sender.held.size + AFTER_RECOVERY;
      await done;
    },
  };
}

/**
 * Waits until every letter held is settled, then checks the ledger, plus:
 * Courier holds each letter once, every letter answered 202 is in the store
 * under the Location it was given, and each practice saw sequences 1..n.
 * Those extra problems join the ledger's, so the figures print before any
 * assertion fails.
 */
async function settleAndCheck(c: TestCourier, sender: ResendingSender, practice: FilingPractice): Promise<{ verdict: LedgerVerdict; settleMs: number }> {
  const { letters, settleMs } = await waitUntilSettled(() => c.baseUrl, sender.held, SETTLE_DEADLINE_MS);
  const verdict = checkLedger({ accepted: sender.held, filed: practice.filed(), states: statesOf(letters), duplicateDeliveries: practice.duplicateDeliveries });
  const problems = [...verdict.problems];
  if (letters.size !== sender.held.size) problems.push(`Courier holds ${letters.size} letters for ${sender.held.size} held by its word`);
  const misplaced = [...sender.accepted].filter(([id, location]) => `/api/messages/${letters.get(id)?.trackingId ?? 'missing'}` !== location).map(([id]) => id);
  if (misplaced.length > 0) problems.push(`${misplaced.length} letters answered 202 not in the store under their Location: ${misplaced.slice(0, 5).join(', ')}`);
  if (sender.acceptedTwice.length > 0) problems.push(`letters answered 202 twice: ${sender.acceptedTwice.slice(0, 5).join(', ')}`);
  const expected = new Map(PRACTICES.map((ods) => [ods, [...letters.values()].filter((l) => l.destination === ods).length]));
  problems.push(...practice.sequenceProblems(expected));
  return { verdict: { ...verdict, ok: problems.length === 0, problems }, settleMs };
}

/** Answers to requests started at or after `from` and answered before `to`. */
function answersWithin(sender: ResendingSender, from: number, to: number): SentAnswer[] {
  return sender.answers.filter((a) => a.startedAt >= from && a.answeredAt < to);
}

/** Answers by status other than 202, 200, 503 and no answer (a 500 in an outage would be a bug). */
function otherAnswers(sender: ResendingSender): Record<string, number> {
  return Object.fromEntries(Object.entries(sender.statusCounts()).filter(([status]) => !['0', '200', '202', '503'].includes(status)));
}

async function readiness(baseUrl: string): Promise<Readiness> {
  const res = await fetch(`${baseUrl}/readyz`);
  const body = (await res.json()) as { store?: string; broker?: string };
  return { httpStatus: res.status, ...body };
}

/** `courier_outbox_depth` from /metrics: work not yet confirmed by the broker. */
async function outboxDepth(baseUrl: string): Promise<{ dispatch: number; event: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const series = (kind: string) => Number(new RegExp(`^courier_outbox_depth\\{kind="${kind}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  return { dispatch: series('dispatch'), event: series('event') };
}

/** The broker's state of the client connection named `name` (`running`, `blocking`, `blocked`, …). */
async function connectionState(node: OwnRabbitNode, name: string): Promise<string | undefined> {
  const rows = (await node.ctl('list_connections', 'state', 'client_properties')).split('\n');
  return rows.find((row) => row.includes(`{"connection_name","${name}"}`))?.split('\t')[0];
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function requireValue<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('missing value (a before hook or an earlier step did not finish)');
  return value;
}
