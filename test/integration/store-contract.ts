import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { MessageStore, NewLetter } from '../../src/app/ports.js';
import type { MessageHeaderId, OdsCode, TrackingId } from '../../src/domain/ids.js';

export function newLetter(overrides: Partial<NewLetter> = {}): NewLetter {
  const acceptedAt = overrides.acceptedAt ?? new Date();
  return {
    trackingId: randomUUID() as TrackingId,
    messageHeaderId: randomUUID() as MessageHeaderId,
    bundleIdentifier: `urn:ietf:rfc:3986|${randomUUID()}`,
    sender: 'RX1',
    event: 'ITK003D',
    destination: 'A81001' as OdsCode,
    contentHash: randomUUID(),
    body: Buffer.from(`{"letter":"${randomUUID()}"}`),
    acceptedAt,
    deadlineAt: new Date(acceptedAt.getTime() + 86_400_000),
    ...overrides,
  };
}

/**
 * The MessageStore contract (see app/ports.ts), run against every adapter.
 * `open` gives a store with an empty database; `rows` reads a table for checks
 * the port deliberately does not expose (the outbox belongs to the relay).
 */
export function storeContract(
  name: string,
  open: () => Promise<{ store: MessageStore; rows: (sql: string, params?: unknown[]) => Promise<unknown[]>; cleanup: () => Promise<void> }>,
): void {
  describe(`MessageStore contract: ${name}`, function () {
    let store: MessageStore;
    let rows: (sql: string, params?: unknown[]) => Promise<unknown[]>;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, rows, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('takes a letter into custody with its exact bytes, first history entry and outbox rows', async () => {
      const letter = newLetter({ body: Buffer.from([0x7b, 0x00, 0xff, 0x7d]) });
      const outcome = await store.accept(letter);
      expect(outcome.kind).to.equal('accepted');
      const record = await store.get(letter.trackingId);
      expect(record).to.include({ state: 'received', sequence: 1, attempts: 0, version: 1, destination: 'A81001', event: 'ITK003D' });
      expect(record?.createdAt.getTime()).to.equal(letter.acceptedAt.getTime());
      expect(record?.nextDeadline?.getTime()).to.equal(letter.deadlineAt.getTime());
      expect(Buffer.from((await store.body(letter.trackingId)) ?? [])).to.deep.equal(Buffer.from([0x7b, 0x00, 0xff, 0x7d]));
      const history = await store.history(letter.trackingId);
      expect(history.map((h) => ({ from: h.from, to: h.to, cause: h.cause }))).to.deep.equal([{ from: null, to: 'received', cause: 'accepted' }]);
      const outbox = (await rows('SELECT kind, payload FROM outbox WHERE tracking_id = $1 ORDER BY id', [letter.trackingId])) as { kind: string; payload: { routingKey?: string; body?: { state: string; previousState: null } } }[];
      expect(outbox.map((o) => o.kind)).to.deep.equal(['dispatch', 'event']);
      expect(outbox[1]?.payload.routingKey).to.equal('received.A81001');
      expect(outbox[1]?.payload.body).to.include({ state: 'received', previousState: null, trackingId: letter.trackingId });
    });

    it('reports duplicates by MessageHeader.id and by sender + Bundle.identifier, comparing content', async () => {
      const first = newLetter();
      await store.accept(first);
      expect(await store.accept(newLetter({ messageHeaderId: first.messageHeaderId, contentHash: first.contentHash }))).to.deep.equal({
        kind: 'duplicate', trackingId: first.trackingId, sameContent: true,
      });
      expect(await store.accept(newLetter({ messageHeaderId: first.messageHeaderId }))).to.deep.equal({ kind: 'duplicate', trackingId: first.trackingId, sameContent: false });
      expect(await store.accept(newLetter({ bundleIdentifier: first.bundleIdentifier, contentHash: first.contentHash }))).to.include({ kind: 'duplicate', sameContent: true });
      expect((await store.accept(newLetter({ bundleIdentifier: first.bundleIdentifier, sender: 'RX2' }))).kind, 'other sender').to.equal('accepted');
      expect((await store.accept(newLetter({ bundleIdentifier: null }))).kind).to.equal('accepted');
      expect((await store.accept(newLetter({ bundleIdentifier: null }))).kind).to.equal('accepted');
      expect(await rows('SELECT 1 FROM messages WHERE message_header_id = $1', [first.messageHeaderId])).to.have.length(1);
    });

    it('holds one of ten identical letters sent at once and answers the rest as duplicates', async () => {
      const template = newLetter();
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => store.accept({ ...template, trackingId: randomUUID() as TrackingId })));
      expect(outcomes.filter((o) => o.kind === 'accepted')).to.have.length(1);
      expect(outcomes.filter((o) => o.kind === 'duplicate' && o.sameContent)).to.have.length(9);
      const next = await store.accept(newLetter());
      expect(next.kind === 'accepted' && next.record.sequence, 'no gap left by the losers').to.equal(2);
    });

    it('numbers each practice 1..n without gaps under concurrent acceptance', async () => {
      const practices = ['A81001', 'A81002', 'B82005'] as OdsCode[];
      await Promise.all(Array.from({ length: 51 }, (_, i) => store.accept(newLetter({ destination: practices[i % 3] as OdsCode }))));
      for (const ods of practices) {
        const seqs = (await rows('SELECT sequence FROM messages WHERE destination = $1 ORDER BY sequence', [ods])).map((r) => Number((r as { sequence: unknown }).sequence));
        expect(seqs).to.deep.equal(Array.from({ length: 17 }, (_, i) => i + 1));
      }
    });

    it('stores nothing of a letter whose transaction fails', async () => {
      const bad = newLetter({ event: null as unknown as string }); // violates NOT NULL after the sequence step
      const error = await store.accept(bad).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(Error);
      expect(await store.get(bad.trackingId)).to.equal(undefined);
      expect(await rows('SELECT * FROM outbox')).to.deep.equal([]);
      expect(await rows('SELECT * FROM message_history')).to.deep.equal([]);
      const ok = await store.accept(newLetter());
      expect(ok.kind === 'accepted' && ok.record.sequence, 'the failed letter left no gap').to.equal(1);
    });

    it('lists oldest first with filters, overdue, and keyset pages', async () => {
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      const letters = Array.from({ length: 7 }, (_, i) =>
        newLetter({ acceptedAt: new Date(t0 + i * 1000), deadlineAt: new Date(t0 + i * 1000 + (i < 2 ? 10 : 1e9)), destination: (i % 2 === 0 ? 'A81001' : 'A81002') as OdsCode }),
      );
      for (const l of [...letters].reverse()) await store.accept(l);
      const all = await store.list({ limit: 100 }, new Date(t0 + 60_000));
      expect(all.items.map((m) => m.trackingId)).to.deep.equal(letters.map((l) => l.trackingId));
      expect(all.nextCursor).to.equal(null);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<MessageStore['list']>> = await store.list({ limit: 3, ...(cursor === null ? {} : { cursor }) }, new Date());
        expect(page.items.length).to.be.at.most(3);
        seen.push(...page.items.map((m) => m.trackingId));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).to.deep.equal(letters.map((l) => l.trackingId));
      expect((await store.list({ limit: 100, destination: 'A81002' as OdsCode }, new Date())).items).to.have.length(3);
      expect((await store.list({ limit: 100, state: 'filed' }, new Date())).items).to.have.length(0);
      expect((await store.list({ limit: 100, since: new Date(t0 + 5000) }, new Date())).items).to.have.length(2);
      const overdue = await store.list({ limit: 100, overdue: true }, new Date(t0 + 60_000));
      expect(overdue.items.map((m) => m.trackingId)).to.deep.equal(letters.slice(0, 2).map((l) => l.trackingId));
    });

    it('answers ping and returns undefined for unknown letters', async () => {
      await store.ping();
      const unknown = randomUUID() as TrackingId;
      expect(await store.get(unknown)).to.equal(undefined);
      expect(await store.body(unknown)).to.equal(undefined);
      expect(await store.history(unknown)).to.deep.equal([]);
    });
  });
}
