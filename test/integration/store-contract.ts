import { expect } from 'chai';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { MessageFilter, MessageRecord, NewLetter } from '../../src/app/ports.js';
import { MalformedRequestError, StoreUnavailableError } from '../../src/app/errors.js';
import type { MessageHeaderId, OdsCode, TrackingId } from '../../src/domain/ids.js';
import type { SqlExecutor } from '../../src/adapters/store/sql-client.js';
import type { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';

const HOUR = 3_600_000;

/** A synthetic letter; the body is arbitrary bytes as far as the store is concerned. */
export function newLetter(overrides: Partial<NewLetter> = {}): NewLetter {
  const acceptedAt = overrides.acceptedAt ?? new Date();
  return {
    trackingId: randomUUID() as TrackingId,
    messageHeaderId: randomUUID() as MessageHeaderId,
    bundleIdentifier: `urn:ietf:rfc:3986|urn:uuid:${randomUUID()}`,
    sender: 'RX1',
    event: 'ITK003D',
    destination: 'A81001' as OdsCode,
    contentHash: createHash('sha256').update(randomBytes(16)).digest('hex'),
    body: new Uint8Array(randomBytes(64)),
    acceptedAt,
    deadlineAt: new Date(acceptedAt.getTime() + 24 * HOUR),
    replyTo: null,
    ...overrides,
  };
}

export interface OpenedStore {
  readonly store: SqlMessageStore;
  /** The same database, for checks and fault injection the port deliberately does not offer. */
  readonly sql: SqlExecutor;
  readonly cleanup: () => Promise<void>;
}

/**
 * The MessageStore contract (app/ports.ts), run against every engine.
 * `open` gives a store over an empty, migrated database.
 */
export function storeContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`MessageStore contract: ${name}`, function () {
    let store: SqlMessageStore;
    let sql: SqlExecutor;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, sql, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    const accepted = async (letter: NewLetter): Promise<MessageRecord> => {
      const outcome = await store.accept(letter);
      if (outcome.kind !== 'accepted') throw new Error(`expected acceptance, got ${outcome.kind}`);
      return outcome.record;
    };
    const all = async (filter: Partial<MessageFilter> = {}, now = new Date()) => (await store.list({ limit: 500, ...filter }, now)).items;

    it('keeps a large letter body uncompressed, out of line: no pglz attempt on every insert', async () => {
      const body = new Uint8Array(Buffer.from('A'.repeat(16_384))); // pglz would shrink this 100-fold
      const letter = newLetter({ body });
      await accepted(letter);
      const { rows } = await sql.query(
        `SELECT a.attstorage, pg_column_size(m.body) AS stored FROM messages m, pg_attribute a
          WHERE a.attrelid = 'messages'::regclass AND a.attname = 'body' AND m.tracking_id = $1`,
        [letter.trackingId],
      );
      expect(rows).to.deep.equal([{ attstorage: 'e', stored: 16_384 }]);
      expect(Buffer.from((await store.body(letter.trackingId)) ?? []).equals(Buffer.from(body))).to.equal(true);
    });

    it('takes a letter into custody: record, exact bytes, first history entry, outbox rows', async () => {
      const body = new Uint8Array(Array.from({ length: 512 }, (_, i) => i % 256));
      const letter = newLetter({ body, acceptedAt: new Date('2026-03-01T10:00:00.123Z') });
      const record = await accepted(letter);
      expect(record).to.deep.equal({
        trackingId: letter.trackingId,
        messageHeaderId: letter.messageHeaderId,
        bundleIdentifier: letter.bundleIdentifier,
        sender: 'RX1',
        event: 'ITK003D',
        destination: 'A81001',
        state: 'received',
        version: 1,
        attempts: 0,
        sequence: 1,
        createdAt: letter.acceptedAt,
        updatedAt: letter.acceptedAt,
        nextDeadline: letter.deadlineAt,
        deadlineAt: letter.deadlineAt,
        replyTo: null,
      });
      expect(await store.get(letter.trackingId)).to.deep.equal(record);
      expect(Buffer.from((await store.body(letter.trackingId)) ?? []).equals(Buffer.from(body))).to.equal(true);
      expect(await store.history(letter.trackingId)).to.deep.equal([{ at: letter.acceptedAt, from: null, to: 'received', cause: 'accepted' }]);

      const outbox = await store.outboxRows(letter.trackingId);
      expect(outbox.map(({ kind, payload, availableAt, claimedUntil, attempts }) => ({ kind, payload, availableAt, claimedUntil, attempts }))).to.deep.equal([
        { kind: 'dispatch', payload: { trackingId: letter.trackingId }, availableAt: letter.acceptedAt, claimedUntil: null, attempts: 0 },
        {
          kind: 'events',
          payload: [
            {
              trackingId: letter.trackingId,
              messageHeaderId: letter.messageHeaderId,
              state: 'received',
              previousState: null,
              at: '2026-03-01T10:00:00.123Z',
              reason: null,
              destination: 'A81001',
            },
          ],
          availableAt: letter.acceptedAt,
          claimedUntil: null,
          attempts: 0,
        },
      ]);
    });

    /** Accepts `first` alone, and while it is being written, `rest` at once: they go to the store as one group-committed batch. */
    const acceptAsBatch = async (first: NewLetter, rest: readonly NewLetter[]) => {
      const lone = store.accept(first);
      const batch = Promise.all(rest.map((l) => store.accept(l)));
      return { lone: await lone, batch: await batch };
    };

    it('stores a group-committed letter exactly as a lone one: record, bytes, history, outbox rows in order', async () => {
      const acceptedAt = new Date('2026-03-01T10:00:00.123Z');
      const letters = Array.from({ length: 6 }, (_, i) =>
        newLetter({ acceptedAt, body: new Uint8Array([i, 0, 255, 10, 13, ...new Array<number>(i * 900).fill(i)]), /* lengths differ, some past TOAST's ~2 KB */ destination: (i % 2 === 0 ? 'A81001' : 'A81002') as OdsCode, replyTo: i === 3 ? 'https://trust.example/fhir' : null, bundleIdentifier: i === 4 ? null : `urn:x|${i}` }),
      );
      const lone = newLetter({ acceptedAt, destination: 'B82005' as OdsCode });
      const { batch } = await acceptAsBatch(lone, letters);
      for (const [i, letter] of letters.entries()) {
        const outcome = batch[i];
        if (outcome?.kind !== 'accepted') throw new Error(`letter ${i} not accepted`);
        expect(outcome.record).to.deep.equal({
          trackingId: letter.trackingId,
          messageHeaderId: letter.messageHeaderId,
          bundleIdentifier: letter.bundleIdentifier,
          sender: 'RX1',
          event: 'ITK003D',
          destination: letter.destination,
          state: 'received',
          version: 1,
          attempts: 0,
          sequence: Math.floor(i / 2) + 1, // each practice numbered in the order its letters were submitted
          createdAt: acceptedAt,
          updatedAt: acceptedAt,
          nextDeadline: letter.deadlineAt,
          deadlineAt: letter.deadlineAt,
          replyTo: letter.replyTo,
        });
        expect(await store.get(letter.trackingId)).to.deep.equal(outcome.record);
        expect(Buffer.from((await store.body(letter.trackingId)) ?? []).equals(Buffer.from(letter.body)), `letter ${i}'s bytes`).to.equal(true);
        expect(await store.history(letter.trackingId)).to.deep.equal([{ at: acceptedAt, from: null, to: 'received', cause: 'accepted' }]);
      }
      // The lone letter's statement first, then the batch's: each writes its dispatches in letter order, then one row of their events.
      const rows = await store.outboxRows();
      expect(rows.map((r) => [r.trackingId, r.kind])).to.deep.equal([
        [lone.trackingId, 'dispatch'],
        [null, 'events'],
        ...letters.map((l) => [l.trackingId, 'dispatch']),
        [null, 'events'],
      ]);
      const received = (l: NewLetter) => ({
        trackingId: l.trackingId,
        messageHeaderId: l.messageHeaderId,
        state: 'received',
        previousState: null,
        at: '2026-03-01T10:00:00.123Z',
        reason: null,
        destination: l.destination,
      });
      expect(rows[1]?.payload).to.deep.equal([received(lone)]);
      expect(rows.at(-1)?.payload, 'in letter order').to.deep.equal(letters.map(received));
    });

    it('answers duplicates inside a group-committed batch and of held letters, leaving no sequence gap', async () => {
      const held = await accepted(newLetter());
      const a = newLetter();
      const fresh = newLetter();
      const rest = [
        a,
        { ...a, trackingId: randomUUID() as TrackingId }, // the same letter again in the same batch
        newLetter({ messageHeaderId: held.messageHeaderId as MessageHeaderId }), // a held letter's MessageHeader.id, other content
        newLetter({ bundleIdentifier: a.bundleIdentifier }), // a's sender + Bundle.identifier, new MessageHeader.id
        fresh,
      ];
      const { lone, batch } = await acceptAsBatch(newLetter(), rest);
      expect(lone.kind).to.equal('accepted');
      expect(batch[0]?.kind).to.equal('accepted');
      expect(batch[1]).to.deep.equal({ kind: 'duplicate', trackingId: a.trackingId, sameContent: true });
      expect(batch[2]).to.deep.equal({ kind: 'duplicate', trackingId: held.trackingId, sameContent: false });
      expect(batch[3]).to.deep.equal({ kind: 'duplicate', trackingId: a.trackingId, sameContent: false });
      expect(batch[4]?.kind).to.equal('accepted');
      const sequences = (await all()).map((m) => m.sequence).sort((x, y) => x - y);
      expect(sequences).to.deep.equal([1, 2, 3, 4]);
      expect((await store.deliveryStats()).outbox, 'work for four letters only').to.deep.equal({ dispatch: 4, event: 4 });
    });

    it('refuses only the letter that breaks a batch statement; the rest of its batch is kept, without sequence gaps', async () => {
      // A practice counter at bigint's maximum makes the batch statement overflow.
      await sql.query(`INSERT INTO practice_sequences (ods, last_sequence) VALUES ('Z99999', 9223372036854775807)`);
      const innocent = newLetter();
      const overflowing = newLetter({ destination: 'Z99999' as OdsCode });
      const first = store.accept(newLetter());
      const settled = await Promise.allSettled([store.accept(innocent), store.accept(overflowing), store.accept(newLetter())]);
      expect((await first).kind).to.equal('accepted');
      expect(settled.map((s) => s.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
      expect(await store.get(overflowing.trackingId)).to.equal(undefined);
      expect((await all({ destination: 'A81001' as OdsCode })).map((m) => m.sequence).sort((x, y) => x - y)).to.deep.equal([1, 2, 3]);
    });

    it('keeps a 5 MiB body byte for byte', async () => {
      const body = randomBytes(5 * 1024 * 1024);
      const letter = newLetter({ body });
      await accepted(letter);
      expect(Buffer.from((await store.body(letter.trackingId)) ?? []).equals(body)).to.equal(true);
    });

    it('reports duplicates by MessageHeader.id and by sender + Bundle.identifier, comparing content', async () => {
      const first = newLetter();
      await accepted(first);
      const byHeader = { messageHeaderId: first.messageHeaderId, bundleIdentifier: null };
      expect(await store.accept(newLetter({ ...byHeader, contentHash: first.contentHash }))).to.deep.equal({
        kind: 'duplicate',
        trackingId: first.trackingId,
        sameContent: true,
      });
      expect(await store.accept(newLetter(byHeader))).to.deep.equal({ kind: 'duplicate', trackingId: first.trackingId, sameContent: false });
      const byBundle = { bundleIdentifier: first.bundleIdentifier };
      expect(await store.accept(newLetter({ ...byBundle, contentHash: first.contentHash }))).to.deep.equal({
        kind: 'duplicate',
        trackingId: first.trackingId,
        sameContent: true,
      });
      expect(await store.accept(newLetter(byBundle))).to.deep.equal({ kind: 'duplicate', trackingId: first.trackingId, sameContent: false });

      const otherSender = await accepted(newLetter({ ...byBundle, sender: 'RX2' }));
      await accepted(newLetter({ bundleIdentifier: null }));
      await accepted(newLetter({ bundleIdentifier: null }));
      expect(otherSender.sequence, 'duplicates took no sequence numbers').to.equal(2);
      expect(await all()).to.have.length(4);
      expect((await store.deliveryStats()).outbox, 'work for four letters only').to.deep.equal({ dispatch: 4, event: 4 });
    });

    it('prefers the MessageHeader.id match when the two identities point at different letters', async () => {
      const a = newLetter();
      const b = newLetter();
      await accepted(a);
      await accepted(b);
      const outcome = await store.accept(newLetter({ messageHeaderId: a.messageHeaderId, bundleIdentifier: b.bundleIdentifier }));
      expect(outcome).to.deep.equal({ kind: 'duplicate', trackingId: a.trackingId, sameContent: false });
    });

    it('holds one of ten identical letters sent at once and answers the rest as duplicates of it', async () => {
      const template = newLetter();
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => store.accept({ ...template, trackingId: randomUUID() as TrackingId })));
      const winners = outcomes.filter((o) => o.kind === 'accepted');
      expect(winners).to.have.length(1);
      const winner = winners[0]?.record.trackingId;
      expect(outcomes.filter((o) => o.kind === 'duplicate' && o.sameContent && o.trackingId === winner)).to.have.length(9);
      expect((await accepted(newLetter())).sequence, 'the losers left no gap').to.equal(2);
      expect((await store.deliveryStats()).outbox, 'work for two letters only').to.deep.equal({ dispatch: 2, event: 2 });
    });

    it('holds one of ten letters racing with one sender + Bundle.identifier', async () => {
      const template = newLetter();
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, () => store.accept({ ...template, trackingId: randomUUID() as TrackingId, messageHeaderId: randomUUID() as MessageHeaderId })),
      );
      expect(outcomes.filter((o) => o.kind === 'accepted')).to.have.length(1);
      expect(outcomes.filter((o) => o.kind === 'duplicate' && o.sameContent)).to.have.length(9);
    });

    it('numbers each practice 1..n without gaps under 50 concurrent acceptances', async () => {
      const practices = ['A81001', 'A81002', 'B82005'] as OdsCode[];
      const letters = Array.from({ length: 50 }, (_, i) => newLetter({ destination: practices[i % 3] as OdsCode }));
      const outcomes = await Promise.all(letters.map((l) => store.accept(l)));
      expect(outcomes.every((o) => o.kind === 'accepted')).to.equal(true);
      for (const [i, ods] of practices.entries()) {
        const sequences = (await all({ destination: ods })).map((m) => m.sequence).sort((x, y) => x - y);
        const expected = letters.filter((_, j) => j % 3 === i).length;
        expect(sequences, ods).to.deep.equal(Array.from({ length: expected }, (_, k) => k + 1));
      }
    });

    it('finds a letter by its practice and sequence number, and nothing for another practice, number or non-number', async () => {
      const a1 = await accepted(newLetter({ destination: 'A81001' as OdsCode }));
      const b1 = await accepted(newLetter({ destination: 'B82005' as OdsCode }));
      const a2 = await accepted(newLetter({ destination: 'A81001' as OdsCode }));
      expect([a1.sequence, b1.sequence, a2.sequence]).to.deep.equal([1, 1, 2]);
      expect(await store.findBySequence('A81001' as OdsCode, 1)).to.deep.equal(a1);
      expect(await store.findBySequence('A81001' as OdsCode, 2)).to.deep.equal(a2);
      expect(await store.findBySequence('B82005' as OdsCode, 1)).to.deep.equal(b1);
      for (const [ods, sequence] of [['B82005', 2], ['C83001', 1], ['A81001', 3], ['A81001', 0], ['A81001', -1], ['A81001', 1.5], ['A81001', Number.MAX_SAFE_INTEGER + 2]] as const) {
        expect(await store.findBySequence(ods as OdsCode, sequence), `${ods} ${sequence}`).to.equal(undefined);
      }
      // Whatever its state: the letter as stored now.
      await sql.query(`UPDATE messages SET state = 'filed', version = version + 1, next_deadline = NULL WHERE tracking_id = $1`, [a1.trackingId]);
      expect(await store.findBySequence('A81001' as OdsCode, 1)).to.deep.include({ trackingId: a1.trackingId, state: 'filed', version: 2, nextDeadline: null });
    });

    it('stores nothing of a letter whose transaction fails after the sequence step, and leaves no gap', async () => {
      const bad = newLetter({ event: null as unknown as string }); // violates NOT NULL on the letter row
      const error: unknown = await store.accept(bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(Error);
      expect(error).not.to.be.instanceOf(StoreUnavailableError);
      await expectNothingStored(bad);
      expect((await accepted(newLetter())).sequence).to.equal(1);
    });

    it('stores nothing of a letter whose last write (the status events outbox row) fails', async () => {
      await sql.query(`CREATE FUNCTION courier_test_fail_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.kind = 'events' AND NEW.payload->0->>'messageHeaderId' LIKE 'fail-%' THEN RAISE EXCEPTION 'injected failure'; END IF;
          RETURN NEW;
        END $$`);
      await sql.query('CREATE TRIGGER courier_test_fail_event BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION courier_test_fail_event()');
      try {
        const bad = newLetter({ messageHeaderId: `fail-${randomUUID()}` as MessageHeaderId });
        const error: unknown = await store.accept(bad).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).to.be.instanceOf(Error).with.property('message', 'injected failure');
        await expectNothingStored(bad);
        expect((await accepted(newLetter())).sequence).to.equal(1);
      } finally {
        await sql.query('DROP TRIGGER courier_test_fail_event ON outbox');
        await sql.query('DROP FUNCTION courier_test_fail_event()');
      }
    });

    async function expectNothingStored(letter: NewLetter): Promise<void> {
      expect(await store.get(letter.trackingId)).to.equal(undefined);
      expect(await store.body(letter.trackingId)).to.equal(undefined);
      expect(await store.history(letter.trackingId)).to.deep.equal([]);
      expect(await store.outboxRows()).to.deep.equal([]);
      expect((await sql.query('SELECT * FROM practice_sequences')).rows).to.deep.equal([]);
    }

    it('lists oldest first (createdAt, then trackingId) with filters, overdue and keyset pages', async () => {
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      const at = (i: number) => new Date(t0 + Math.floor(i / 2) * 1000); // pairs share an instant
      const letters = Array.from({ length: 9 }, (_, i) =>
        newLetter({
          acceptedAt: at(i),
          deadlineAt: new Date(at(i).getTime() + (i < 3 ? 10 : HOUR)),
          destination: (i % 2 === 0 ? 'A81001' : 'A81002') as OdsCode,
        }),
      );
      for (const letter of [...letters].reverse()) await accepted(letter);
      const expected = [...letters].sort((x, y) => x.acceptedAt.getTime() - y.acceptedAt.getTime() || (x.trackingId < y.trackingId ? -1 : 1));
      const ids = (records: readonly MessageRecord[]) => records.map((m) => m.trackingId);

      const first = await store.list({ limit: 500 }, new Date());
      expect(ids(first.items)).to.deep.equal(expected.map((l) => l.trackingId));
      expect(first.nextCursor).to.equal(null);

      for (const limit of [1, 2, 4, 9]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: Awaited<ReturnType<SqlMessageStore['list']>> = await store.list({ limit, ...(cursor === null ? {} : { cursor }) }, new Date());
          expect(page.items.length).to.be.at.most(limit);
          seen.push(...ids(page.items));
          cursor = page.nextCursor;
          pages++;
        } while (cursor !== null);
        expect(seen, `limit ${limit}`).to.deep.equal(expected.map((l) => l.trackingId));
        expect(pages, `limit ${limit}`).to.equal(Math.ceil(9 / limit));
      }

      const a81002 = expected.filter((l) => l.destination === 'A81002').map((l) => l.trackingId);
      expect(ids(await all({ destination: 'A81002' as OdsCode }))).to.deep.equal(a81002);
      const page1 = await store.list({ limit: 2, destination: 'A81002' as OdsCode }, new Date());
      const page2 = await store.list({ limit: 2, destination: 'A81002' as OdsCode, cursor: page1.nextCursor ?? '' }, new Date());
      expect([...ids(page1.items), ...ids(page2.items)]).to.deep.equal(a81002);
      expect(await all({ state: 'received' })).to.have.length(9);
      expect(await all({ state: 'escalated' })).to.have.length(0);
      expect(ids(await all({ since: new Date(t0 + 3000) }))).to.deep.equal(expected.slice(6).map((l) => l.trackingId));
      const overdue = await all({ overdue: true }, new Date(t0 + 60_000));
      expect(ids(overdue)).to.deep.equal(expected.filter((l) => l.deadlineAt.getTime() < t0 + 60_000).map((l) => l.trackingId));
      expect(overdue).to.have.length(3);
      expect(await all({ overdue: true, destination: 'A81002' as OdsCode }, new Date(t0 + 60_000))).to.have.length(1);
    });

    it('refuses a cursor it did not make', async () => {
      for (const cursor of ['nonsense', Buffer.from('["x","y"]').toString('base64url'), '']) {
        const error: unknown = await store.list({ limit: 10, cursor }, new Date()).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, cursor).to.be.instanceOf(MalformedRequestError);
      }
    });

    it('counts open letters per practice and state with the oldest acceptance, and the outbox backlog', async () => {
      expect(await store.deliveryStats()).to.deep.equal({ open: [], outbox: { dispatch: 0, event: 0 } });
      const old = new Date('2026-01-01T08:00:00Z');
      await accepted(newLetter({ acceptedAt: new Date('2026-01-02T08:00:00Z') }));
      await accepted(newLetter({ acceptedAt: old }));
      await accepted(newLetter({ destination: 'B82005' as OdsCode, acceptedAt: new Date('2026-01-03T08:00:00Z') }));
      const filed = await accepted(newLetter({ destination: 'B82005' as OdsCode, acceptedAt: new Date('2025-12-01T08:00:00Z') }));
      await sql.query(`UPDATE messages SET state = 'filed' WHERE tracking_id = $1`, [filed.trackingId]);
      const escalated = await accepted(newLetter({ destination: 'B82005' as OdsCode, acceptedAt: new Date('2026-01-04T08:00:00Z') }));
      await sql.query(`UPDATE messages SET state = 'escalated' WHERE tracking_id = $1`, [escalated.trackingId]);

      const stats = await store.deliveryStats();
      expect(stats.open).to.deep.equal([
        { destination: 'A81001', state: 'received', count: 2, oldestAcceptedAt: old },
        { destination: 'B82005', state: 'escalated', count: 1, oldestAcceptedAt: new Date('2026-01-04T08:00:00Z') },
        { destination: 'B82005', state: 'received', count: 1, oldestAcceptedAt: new Date('2026-01-03T08:00:00Z') },
      ]);
      // Each acceptance queued one dispatch and one status event.
      expect(stats.outbox).to.deep.equal({ dispatch: 5, event: 5 });
      // A practice alarm's event is a row of its own ('event'), counted with the rest.
      await sql.query(`INSERT INTO outbox (tracking_id, kind, payload, available_at, created_at) VALUES (NULL, 'event', '{}'::jsonb, now(), now())`);
      expect((await store.deliveryStats()).outbox).to.deep.equal({ dispatch: 5, event: 6 });
    });

    it('keeps every acknowledgement of a letter, oldest first, and those for no letter apart', async () => {
      const letter = await accepted(newLetter());
      const delivery = store.deliveryStore();
      const base = { messageHeaderId: randomUUID(), respondsTo: letter.messageHeaderId, practice: 'A81001', receivedAt: new Date('2026-02-01T10:00:00Z') };
      await delivery.recordAck({ ...base, trackingId: letter.trackingId, code: 'ok', itkCodes: ['30001'], outcome: 'applied: filed', receivedAt: new Date('2026-02-01T10:00:05Z') });
      await delivery.recordAck({ ...base, trackingId: letter.trackingId, code: 'ok', itkCodes: ['20013'], outcome: 'applied: delivered' });
      await delivery.recordAck({ ...base, trackingId: null, respondsTo: 'nothing', practice: null, code: 'fatal-error', itkCodes: [], outcome: 'recorded without effect' });
      const acks = await store.acks(letter.trackingId);
      expect(acks.map((a) => [a.itkCodes, a.outcome, a.receivedAt.toISOString(), a.practice, a.trackingId])).to.deep.equal([
        [['20013'], 'applied: delivered', '2026-02-01T10:00:00.000Z', 'A81001', letter.trackingId],
        [['30001'], 'applied: filed', '2026-02-01T10:00:05.000Z', 'A81001', letter.trackingId],
      ]);
      expect(await store.acks(randomUUID() as TrackingId)).to.deep.equal([]);
    });

    it('records and finds for concurrent acknowledgements exactly what it does one at a time', async () => {
      const letters = [await accepted(newLetter()), await accepted(newLetter()), await accepted(newLetter())];
      const delivery = store.deliveryStore();
      const found = await Promise.all([...letters.map((l) => delivery.findByMessageHeaderId(l.messageHeaderId)), delivery.findByMessageHeaderId(randomUUID())]);
      expect(found.map((r) => r?.trackingId)).to.deep.equal([...letters.map((l) => l.trackingId), undefined]);
      const at = new Date('2026-02-01T10:00:00Z');
      await Promise.all(
        letters.map((l, i) =>
          delivery.recordAck({ messageHeaderId: randomUUID(), respondsTo: l.messageHeaderId, practice: 'A81001', trackingId: l.trackingId, code: 'ok', itkCodes: ['20013', `3000${i}`], outcome: `applied ${i}`, receivedAt: at }),
        ),
      );
      for (const [i, l] of letters.entries()) {
        expect((await store.acks(l.trackingId)).map((a) => [a.itkCodes, a.outcome, a.respondsTo, a.receivedAt.toISOString()])).to.deep.equal([
          [['20013', `3000${i}`], `applied ${i}`, l.messageHeaderId, at.toISOString()],
        ]);
      }
    });

    it('answers ping, and undefined or empty for unknown letters', async () => {
      await store.ping();
      const unknown = randomUUID() as TrackingId;
      expect(await store.get(unknown)).to.equal(undefined);
      expect(await store.body(unknown)).to.equal(undefined);
      expect(await store.history(unknown)).to.deep.equal([]);
    });

    it('answers StoreUnavailableError once closed, and closes idempotently', async () => {
      await store.close();
      await store.close();
      for (const call of [() => store.ping(), () => store.accept(newLetter()), () => store.get(randomUUID() as TrackingId)]) {
        const error: unknown = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).to.be.instanceOf(StoreUnavailableError);
      }
    });
  });
}
