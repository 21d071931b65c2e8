import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCourier, type CourierProcess } from '../support/courier-process.js';
import { randomPrefix } from '../support/courier-harness.js';
import { dropSchema, randomSchema } from '../support/postgres.js';
import { OwnRabbitNode, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';
import { statesOf, waitUntilSettled, type TrackedLetter } from './support/courier-letters.js';
import { FilingPractice } from './support/filing-practice.js';
import { checkLedger } from './support/ledger.js';
import { createSchemaUrl } from './support/schema-url.js';
import { reportFigures } from './support/report.js';
import { ResendingSender, type OutgoingLetter } from './support/resending-sender.js';
import { faultsSeed, seededRandom } from './support/seeded-random.js';

const PRACTICES = ['A81001', 'A81002', 'B82005'];
const TOTAL = 1_000;
const KILLS = 5;
/** Concurrent sender connections, each resending what got no answer, a 503 or a broken connection. */
const SENDERS = 4;
/**
 * From the last letter held to every letter settled. A kill can leave up to
 * one relay batch (200 rows) claimed by the dead process; its claim lease
 * (60 s, src/courier.ts) must run out before a new process publishes them.
 */
const SETTLE_DEADLINE_MS = 120_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Scenario 2 of the faults suite (issue 6): Courier is SIGKILLed (no
 * shutdown hook runs) at random moments while 1,000 letters arrive from
 * several senders and are published and acknowledged, and started again on
 * the same store each time. The store is PostgreSQL (the production store;
 * a fresh schema), the broker a RabbitMQ node of the test's own. Senders
 * resend whatever got no answer, a 503 or a broken connection, as a real
 * sender would. The ledger must hold: every letter Courier said it holds is
 * filed (or escalated), none filed twice, Courier holds each letter once,
 * sequence numbers are 1..n per practice without a gap, and all is settled
 * by the deadline. The kill schedule comes from a seed, printed, and
 * replayed with COURIER_FAULTS_SEED (the interleaving itself is the
 * machine's).
 */
describe('faults: Courier SIGKILLed repeatedly during a run (PostgreSQL store)', function () {
  this.timeout(420_000);
  const schema = randomSchema();
  const prefix = randomPrefix();
  let node: OwnRabbitNode | undefined;
  let dir: string | undefined;
  let courier: CourierProcess | undefined;
  let practice: FilingPractice | undefined;
  let running: ResendingSender | undefined;

  before(async function () {
    this.timeout(120_000);
    node = await OwnRabbitNode.start(`courierkills${process.pid}`, 5785);
    dir = await mkdtemp(join(tmpdir(), 'courier-kills-'));
  });
  after(async function () {
    this.timeout(120_000);
    running?.stop();
    if (courier !== undefined && courier.child.exitCode === null && courier.child.signalCode === null) {
      courier.child.kill('SIGKILL');
      await courier.exited;
    }
    await practice?.stop();
    await node?.stop();
    await dropSchema(schema);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it(`files each of ${TOTAL} letters once across ${KILLS} SIGKILLs at random moments`, async () => {
    const own = requireValue(node);
    const seed = faultsSeed();
    const random = seededRandom(seed);
    process.stdout.write(`\n    [faults] courier-kills seed ${seed} (COURIER_FAULTS_SEED=${seed} replays the kill schedule)\n`);
    // Kill k comes once killAt[k] letters are held, plus a pause of up to half a second.
    const killAt = Array.from({ length: KILLS }, () => Math.floor(TOTAL * (0.05 + 0.85 * random()))).sort((a, b) => a - b);
    const pauses = killAt.map(() => Math.floor(random() * 500));

    const env = {
      COURIER_AMQP_URL: own.url,
      COURIER_AMQP_PREFIX: prefix,
      COURIER_DATABASE_URL: await createSchemaUrl(schema),
      COURIER_DATA_DIR: join(requireValue(dir), 'data'),
      COURIER_CONFIG: await writeConfig(requireValue(dir)),
      COURIER_HTTP_PORT: String(await freePort()), // the same address across restarts, as behind a load balancer
    };
    const started = Date.now();
    courier = await spawnCourier(env, 60_000);
    const baseUrl = courier.baseUrl;
    practice = await FilingPractice.start({ url: own.url, prefix, practices: PRACTICES });
    const gp = practice;

    const letters: OutgoingLetter[] = Array.from({ length: TOTAL }, (_, i) => {
      const letter = syntheticDocumentReferenceLetter({ destination: PRACTICES[i % PRACTICES.length] ?? 'A81001' });
      return { messageHeaderId: letter.entry[0].resource.id as string, body: Buffer.from(JSON.stringify(letter)) };
    });
    const sender = new ResendingSender({ baseUrl: () => baseUrl, senders: SENDERS, giveUpMs: 180_000 });
    running = sender;
    let sendingDone = false;
    const sending = sender.sendAll(letters).finally(() => (sendingDone = true));
    sending.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled meanwhile

    const kills: { held: number; notYetAtPractice: number; downMs: number }[] = [];
    for (const [k, threshold] of killAt.entries()) {
      await waitFor(`${threshold} letters held`, () => (sender.held.size >= threshold || sendingDone ? true : undefined), 240_000);
      await sleep(pauses[k] ?? 0);
      const victim = requireValue(courier);
      const held = sender.held.size;
      const notYetAtPractice = held - gp.letters.size; // held by Courier, not yet seen by the practice: in the relay's hands
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      expect(await victim.exited, `kill ${k + 1}`).to.equal('SIGKILL');
      courier = await spawnCourier(env, 60_000);
      kills.push({ held, notYetAtPractice, downMs: Date.now() - killedAt });
    }
    await sending;
    const sentAt = Date.now();

    const ids = new Set(letters.map((l) => l.messageHeaderId));
    const { letters: tracked, settleMs } = await waitUntilSettled(() => baseUrl, ids, SETTLE_DEADLINE_MS);

    const ledger = checkLedger({ accepted: sender.held, filed: gp.filed(), states: statesOf(tracked), duplicateDeliveries: gp.duplicateDeliveries });
    const counts = sender.statusCounts();
    reportFigures('courier-kills (PostgreSQL)', ledger.figures, settleMs, {
      seed,
      kills: kills.length,
      killedAtHeld: kills.map((k) => k.held).join(' '),
      notYetAtPracticeAtKills: kills.map((k) => k.notYetAtPractice).join(' '),
      meanDownSeconds: Math.round(kills.reduce((sum, k) => sum + k.downMs, 0) / kills.length / 100) / 10,
      answered202: counts['202'] ?? 0,
      answered200: counts['200'] ?? 0,
      answered503: counts['503'] ?? 0,
      noAnswer: counts['0'] ?? 0,
      sendSeconds: Math.round((sentAt - started) / 100) / 10,
      runSeconds: Math.round((Date.now() - started) / 100) / 10,
    });

    expect(ledger.problems).to.deep.equal([]);
    // Courier holds each letter once, with per-practice sequences 1..n (gap-free across crashes).
    expect(sender.held.size, 'every letter held by Courier\'s word').to.equal(TOTAL);
    expect(sender.acceptedTwice, 'letters answered 202 twice').to.deep.equal([]);
    expect(tracked.size, 'letters Courier holds').to.equal(TOTAL);
    const expected = new Map(PRACTICES.map((ods) => [ods, [...tracked.values()].filter((l) => l.destination === ods).length]));
    for (const ods of PRACTICES) expect(sequencesOf(tracked, ods), `${ods} sequences in Courier`).to.deep.equal(Array.from({ length: expected.get(ods) ?? 0 }, (_, i) => i + 1));
    expect(gp.sequenceProblems(expected), 'what the practice saw').to.deep.equal([]);
    expect(counts['0'] ?? 0, 'the kills broke requests in flight or refused connections (they happened mid-run)').to.be.greaterThan(0);
    expect(Object.keys(counts).filter((s) => !['0', '200', '202', '503'].includes(s)), `answers ${JSON.stringify(counts)}`).to.deep.equal([]);

    const last = requireValue(courier);
    last.child.kill('SIGTERM');
    expect(await last.exited, 'the last Courier stops cleanly').to.equal(0);
    courier = undefined;
  });
});

function sequencesOf(letters: ReadonlyMap<string, TrackedLetter>, ods: string): number[] {
  return [...letters.values()].filter((l) => l.destination === ods).map((l) => l.sequence).sort((a, b) => a - b);
}

/**
 * Three practices; timers and logging at their defaults (spawnCourier waits
 * for the info line "Courier listening"), except the claim lease: the outbox
 * rows a killed Courier had claimed wait it out before the restarted one
 * publishes them (a delay, never a loss), and the default minute would make
 * five kills take minutes.
 */
async function writeConfig(dir: string): Promise<string> {
  const path = join(dir, 'courier.json');
  await writeFile(path, JSON.stringify({ practices: PRACTICES.map((ods) => ({ ods, name: ods })), delivery: { claimLease: 'PT5S' } }));
  return path;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

function requireValue<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('missing value (a before hook or an earlier step did not finish)');
  return value;
}
