import { expect } from 'chai';
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { dropSchema, randomSchema } from '../support/postgres.js';
import { OwnRabbitNode } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter, type Letter } from '../fixtures/letters.js';
import { statesOf, waitUntilSettled } from './support/courier-letters.js';
import { FilingPractice } from './support/filing-practice.js';
import { checkLedger } from './support/ledger.js';
import { createSchemaUrl } from './support/schema-url.js';
import { reportFigures } from './support/report.js';
import { ResendingSender, type SentAnswer } from './support/resending-sender.js';

const PRACTICES = ['A81001', 'A81002', 'B82005'];
const LETTERS = 50;
/** Copies of each letter POSTed at once. */
const COPIES = 20;
/** Letters whose copies race at once (COPIES each), so 200 requests are in flight together. */
const LETTERS_AT_ONCE = 10;
/** The first this many letters have one copy with changed content among their concurrent copies (every other one sent first). */
const WITH_CHANGED_COPY = 10;
const SETTLE_DEADLINE_MS = 60_000;

/** How a copy relates to the letter: the same bytes, a FHIR-style resend (new Bundle.id, meta, timestamp: the same letter), or changed content. */
type CopyKind = 'same-bytes' | 'resend' | 'changed';

interface Copy {
  readonly kind: CopyKind;
  readonly body: Buffer;
}

interface SentLetter {
  readonly messageHeaderId: string;
  readonly destination: string;
  readonly copies: readonly Copy[];
  /** Filled in from the answers: the copy answered 202 and its Location. */
  winner?: Copy;
  location?: string;
}

/**
 * Scenario 5 of the faults suite (issue 6): one letter submitted many times
 * at once, and again after it was filed. DESIGN §2 step 5: the same
 * MessageHeader.id with the same content (ignoring Bundle.id, meta,
 * timestamp) is the same letter, `200` with the same Location; with other
 * content `409`. Under a race: exactly one `202` per letter, one sequence
 * number, one delivery sequence, filed once, and the bytes delivered are the
 * bytes of the copy that got the `202`. Replays after filing change nothing.
 * Run on PostgreSQL (concurrent transactions really race on the unique
 * MessageHeader.id) and on the embedded PGlite, against a RabbitMQ node of
 * the test's own.
 */
describe('faults: duplicate submissions (concurrent copies, replays after filing)', function () {
  this.timeout(180_000);
  let node: OwnRabbitNode | undefined;

  before(async function () {
    this.timeout(120_000);
    node = await OwnRabbitNode.start(`courierdups${process.pid}`, 5781);
  });
  after(async function () {
    this.timeout(60_000);
    await node?.stop();
  });

  for (const engine of ['PostgreSQL', 'PGlite'] as const) {
    describe(`on ${engine}`, () => {
      let courier: TestCourier | undefined;
      let practice: FilingPractice | undefined;
      const schema = randomSchema();

      before(async function () {
        this.timeout(60_000);
        const amqpUrl = requireValue(node).url;
        const databaseUrl = engine === 'PostgreSQL' ? await createSchemaUrl(schema) : undefined;
        courier = await startTestCourier({
          amqpUrl,
          ...(databaseUrl === undefined ? {} : { databaseUrl }),
          overrides: [{ practices: PRACTICES.map((ods) => ({ ods, name: ods })), logging: { level: 'warn' } }],
        });
        practice = await FilingPractice.start({ url: amqpUrl, prefix: courier.prefix, practices: PRACTICES });
      });
      after(async function () {
        this.timeout(60_000);
        await practice?.stop();
        await courier?.stop();
        if (engine === 'PostgreSQL') await dropSchema(schema);
      });

      it(`takes ${COPIES} concurrent copies of each of ${LETTERS} letters once, files each once, and replays change nothing`, async () => {
        const c = requireValue(courier);
        const gp = requireValue(practice);
        const started = Date.now();
        const sender = new ResendingSender({ baseUrl: () => c.baseUrl });
        const letters = Array.from({ length: LETTERS }, (_, i) =>
          makeLetter(PRACTICES[i % PRACTICES.length] ?? 'A81001', i >= WITH_CHANGED_COPY ? 'none' : i % 2 === 0 ? 'first' : 'anywhere'),
        );

        // The race: all copies of LETTERS_AT_ONCE letters in flight together.
        for (let i = 0; i < letters.length; i += LETTERS_AT_ONCE) {
          await Promise.all(letters.slice(i, i + LETTERS_AT_ONCE).map((letter) => sendCopiesAtOnce(sender, letter)));
        }
        const sentAt = Date.now();
        const raceCounts = sender.statusCounts();
        expect(Object.keys(raceCounts).sort(), `answers to the race ${JSON.stringify(raceCounts)}`).to.satisfy((codes: string[]) => codes.every((s) => ['200', '202', '409'].includes(s)));
        expect(sender.accepted.size, 'one 202 per letter').to.equal(LETTERS);
        expect(sender.acceptedTwice).to.deep.equal([]);

        const ids = new Set(letters.map((l) => l.messageHeaderId));
        const { letters: tracked, settleMs } = await waitUntilSettled(() => c.baseUrl, ids, SETTLE_DEADLINE_MS);
        expect(tracked.size, 'Courier holds one letter per MessageHeader.id').to.equal(LETTERS);

        // One sequence number, one Courier letter, the winner's exact bytes, per practice 1..n.
        const expected = new Map(PRACTICES.map((ods) => [ods, letters.filter((l) => l.destination === ods).length]));
        expect(gp.sequenceProblems(expected)).to.deep.equal([]);
        for (const letter of letters) {
          const seen = gp.letters.get(letter.messageHeaderId);
          const held = tracked.get(letter.messageHeaderId);
          expect(seen?.bodies, `${letter.messageHeaderId} delivered as the bytes answered 202`).to.deep.equal(new Set([sha256(requireValue(letter.winner).body)]));
          expect(`/api/messages/${held?.trackingId ?? ''}`).to.equal(letter.location);
          expect(seen?.courierLetters).to.deep.equal(new Set([`${held?.trackingId ?? ''}#${held?.sequence ?? ''}`]));
        }
        const ledger = checkLedger({ accepted: sender.held, filed: gp.filed(), states: statesOf(tracked), duplicateDeliveries: gp.duplicateDeliveries });
        expect(ledger.problems).to.deep.equal([]);

        // Replays after filing: the same letter (same bytes or a FHIR-style resend) → 200, same Location; changed → 409; nothing changes.
        const before = await letterDetails(c.baseUrl, letters);
        const deliveriesBefore = [...gp.letters.values()].reduce((sum, l) => sum + l.deliveries, 0);
        const replays = await Promise.all(letters.map((letter) => replay(sender, letter)));
        for (const [i, answers] of replays.entries()) {
          const letter = requireValue(letters[i]);
          for (const { copy, answer } of answers) {
            const same = copy.kind !== 'changed' && requireValue(letter.winner).kind !== 'changed';
            expect(answer.status, `replay (${copy.kind}) of ${letter.messageHeaderId}`).to.equal(same ? 200 : 409);
            if (same) expect(answer.location).to.equal(letter.location);
          }
        }
        expect(await letterDetails(c.baseUrl, letters), 'every letter (state, history, acks, attempts) unchanged by the replays').to.deep.equal(before);
        expect(await outboxDepth(c.baseUrl), 'nothing queued to publish after the replays').to.deep.equal({ dispatch: 0, event: 0 });
        expect([...gp.letters.values()].reduce((sum, l) => sum + l.deliveries, 0), 'no delivery since the replays').to.equal(deliveriesBefore);

        const counts = sender.statusCounts();
        const winnersChanged = letters.filter((l) => l.winner?.kind === 'changed').length;
        reportFigures(`duplicate-submissions (${engine})`, ledger.figures, settleMs, {
          posts: sender.answers.length,
          answered202: counts['202'] ?? 0,
          answered200: counts['200'] ?? 0,
          answered409: counts['409'] ?? 0,
          changedCopyWon: winnersChanged,
          raceSeconds: Math.round((sentAt - started) / 100) / 10,
          runSeconds: Math.round((Date.now() - started) / 100) / 10,
        });
      });
    });
  }
});

/**
 * A letter and its COPIES copies: half the exact same bytes, the rest
 * FHIR-style resends (new Bundle.id, meta and timestamp), and unless
 * `changedCopy` is `none` one copy (first, or at a random place) whose
 * content differs (an amended description).
 */
function makeLetter(destination: string, changedCopy: 'none' | 'first' | 'anywhere'): SentLetter {
  const letter: Letter = syntheticDocumentReferenceLetter({ destination });
  const original = Buffer.from(JSON.stringify(letter));
  const copies: Copy[] = [];
  // Sent first it usually wins the race (its content is then the letter); elsewhere it usually loses.
  const changedAt = changedCopy === 'none' ? -1 : changedCopy === 'first' ? 0 : randomInt(COPIES);
  for (let k = 0; k < COPIES; k++) {
    if (k === changedAt) {
      const changed = structuredClone(letter);
      changed.entry[1].resource.description = 'Synthetic letter (amended)';
      copies.push({ kind: 'changed', body: Buffer.from(JSON.stringify(changed)) });
    } else if (k % 2 === 0) {
      copies.push({ kind: 'same-bytes', body: original });
    } else {
      copies.push({ kind: 'resend', body: resendOf(letter) });
    }
  }
  return { messageHeaderId: letter.entry[0].resource.id as string, destination, copies };
}

/** The same letter as a FHIR sender resends it: new Bundle.id, meta.lastUpdated and timestamp. */
function resendOf(letter: Letter): Buffer {
  const resend = structuredClone(letter);
  resend.id = randomUUID();
  resend.meta = { lastUpdated: new Date().toISOString() };
  resend.timestamp = new Date().toISOString();
  return Buffer.from(JSON.stringify(resend));
}

/**
 * POSTs every copy at once (one attempt each: no answer is a failure here,
 * nothing is faulty) and checks the answers: exactly one 202; copies with
 * the winner's content 200 with its Location, the others 409.
 */
async function sendCopiesAtOnce(sender: ResendingSender, letter: SentLetter): Promise<void> {
  const answers = await Promise.all(letter.copies.map((copy) => sender.post({ messageHeaderId: letter.messageHeaderId, body: copy.body })));
  const winners = answers.flatMap((answer, k) => (answer.status === 202 ? [k] : []));
  expect(winners, `${letter.messageHeaderId}: one 202 among ${COPIES} concurrent copies (answers ${answers.map((a) => a.status).join(',')})`).to.have.length(1);
  const winner = requireValue(letter.copies[winners[0] ?? -1]);
  const location = requireValue(answers[winners[0] ?? -1]).location ?? '';
  letter.winner = winner;
  letter.location = location;
  sender.held.add(letter.messageHeaderId);
  sender.accepted.set(letter.messageHeaderId, location);
  for (const [k, answer] of answers.entries()) {
    if (k === winners[0]) continue;
    const copy = requireValue(letter.copies[k]);
    const same = (copy.kind === 'changed') === (winner.kind === 'changed');
    expect(answer.status, `${letter.messageHeaderId} copy ${k} (${copy.kind}; ${winner.kind} won)`).to.equal(same ? 200 : 409);
    if (same) expect(answer.location, `${letter.messageHeaderId} copy ${k}: the winner's Location`).to.equal(location);
  }
}

/** After filing: two same-bytes copies, a resend and two changed copies, at once. */
async function replay(sender: ResendingSender, letter: SentLetter): Promise<{ copy: Copy; answer: SentAnswer }[]> {
  const original = letter.copies.find((c) => c.kind === 'same-bytes');
  const resend = letter.copies.find((c) => c.kind === 'resend');
  const changed = JSON.parse(requireValue(letter.winner).body.toString('utf8'));
  changed.entry[1].resource.description = 'Synthetic letter (replayed with other content)';
  const copies: Copy[] = [
    requireValue(original),
    requireValue(original),
    requireValue(resend),
    { kind: 'changed', body: Buffer.from(JSON.stringify(changed)) },
    { kind: 'changed', body: Buffer.from(JSON.stringify(changed)) },
  ];
  return Promise.all(copies.map(async (copy) => ({ copy, answer: await sender.post({ messageHeaderId: letter.messageHeaderId, body: copy.body }) })));
}

/** Every letter's tracking JSON (state, attempts, history, acknowledgements, updatedAt). */
async function letterDetails(baseUrl: string, letters: readonly SentLetter[]): Promise<unknown[]> {
  return Promise.all(letters.map(async (letter) => (await fetch(`${baseUrl}${letter.location ?? ''}`)).json()));
}

/** `courier_outbox_depth` from /metrics: work not yet confirmed by the broker. */
async function outboxDepth(baseUrl: string): Promise<{ dispatch: number; event: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const series = (kind: string) => Number(new RegExp(`^courier_outbox_depth\\{kind="${kind}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  return { dispatch: series('dispatch'), event: series('event') };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function requireValue<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('missing value (a before hook or an earlier step did not finish)');
  return value;
}
