import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import type { DeliveryStore, LetterChange, MessageRecord } from '../../src/app/ports.js';
import type { OdsCode, TrackingId } from '../../src/domain/ids.js';
import type { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import { newLetter, type OpenedStore } from './store-contract.js';

const SECOND = 1_000;

/**
 * The DeliveryStore contract (app/ports.ts), run against every engine: the
 * outbox claims the relay depends on, and the versioned state change with its
 * history and outbox rows in one transaction.
 */
export function deliveryStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`DeliveryStore contract: ${name}`, function () {
    let store: SqlMessageStore;
    let delivery: DeliveryStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
      delivery = store.deliveryStore();
    });
    afterEach(async () => {
      await cleanup();
    });

    const T0 = new Date('2026-03-01T10:00:00Z');
    const later = (ms: number) => new Date(T0.getTime() + ms);
    const accepted = async (overrides: Parameters<typeof newLetter>[0] = {}): Promise<MessageRecord> => {
      const outcome = await store.accept(newLetter({ acceptedAt: T0, ...overrides }));
      if (outcome.kind !== 'accepted') throw new Error('expected acceptance');
      return outcome.record;
    };
    const claim = (now: Date, limit = 100) => delivery.claimOutbox(limit, now, new Date(now.getTime() + 60 * SECOND));
    const dispatched = (record: MessageRecord): LetterChange => ({
      state: 'dispatched',
      attempts: 1,
      nextDeadline: later(600 * SECOND),
      deadlineAt: record.deadlineAt,
      cause: 'published to the practice queue',
      at: later(SECOND),
      event: { previousState: 'received', reason: null },
    });

    it('hands out an accepted letter as dispatch work with its exact bytes, and its status event', async () => {
      const body = new Uint8Array([0, 1, 2, 250, 255]);
      const record = await accepted({ body });
      const { dispatches, events } = await claim(T0);
      expect(dispatches).to.have.length(1);
      const [work] = dispatches;
      expect({ ...work, body: undefined, outboxId: undefined }).to.deep.equal({
        outboxId: undefined,
        trackingId: record.trackingId,
        messageHeaderId: record.messageHeaderId,
        destination: 'A81001',
        event: 'ITK003D',
        sequence: 1,
        attempt: 1,
        body: undefined,
      });
      expect(Buffer.from(work?.body ?? []).equals(Buffer.from(body))).to.equal(true);
      expect(events.map((e) => [e.routingKey, e.body])).to.deep.equal([
        [
          'received.A81001',
          { trackingId: record.trackingId, messageHeaderId: record.messageHeaderId, state: 'received', previousState: null, at: T0.toISOString(), reason: null },
        ],
      ]);
    });

    it('hides claimed rows until the lease ends or they are released, and forgets completed ones', async () => {
      await accepted();
      const first = await claim(T0);
      expect(first.dispatches).to.have.length(1);
      expect(await claim(later(30 * SECOND)), 'within the lease').to.deep.equal({ dispatches: [], events: [] });
      const afterLease = await claim(later(61 * SECOND));
      expect(afterLease.dispatches.map((d) => d.outboxId)).to.deep.equal(first.dispatches.map((d) => d.outboxId));

      await delivery.releaseOutbox([...afterLease.dispatches.map((d) => d.outboxId), ...afterLease.events.map((e) => e.outboxId)]);
      const again = await claim(later(62 * SECOND));
      expect([again.dispatches.length, again.events.length]).to.deep.equal([1, 1]);
      await delivery.completeOutbox([...again.dispatches.map((d) => d.outboxId), ...again.events.map((e) => e.outboxId)]);
      expect(await claim(later(3600 * SECOND))).to.deep.equal({ dispatches: [], events: [] });
    });

    it('claims at most `limit` rows, oldest first', async () => {
      const records = [];
      for (let i = 0; i < 3; i++) records.push(await accepted());
      const { dispatches, events } = await claim(T0, 3);
      // Each acceptance wrote its dispatch row, then its events row.
      expect(dispatches.map((d) => d.trackingId)).to.deep.equal([records[0]?.trackingId, records[1]?.trackingId]);
      expect(events.map((e) => (e.body as { trackingId: string }).trackingId)).to.deep.equal([records[0]?.trackingId]);
    });

    it('never hands one row to two claimers at once', async () => {
      for (let i = 0; i < 12; i++) await accepted();
      const claims = await Promise.all(Array.from({ length: 4 }, () => claim(T0, 7)));
      const ids = claims.flatMap((c) => [...c.dispatches.map((d) => d.outboxId), ...c.events.map((e) => e.outboxId)]);
      expect(new Set(ids).size, 'no row twice').to.equal(ids.length);
      expect(ids).to.have.length(24);
    });

    it('commits a change with its history entry, status event and next publish only at the expected version', async () => {
      const record = await accepted();
      const drained = await claim(T0);
      await delivery.completeOutbox([...drained.dispatches.map((d) => d.outboxId), ...drained.events.map((e) => e.outboxId)]);

      expect(await delivery.applyChange(record.trackingId, record.version + 1, dispatched(record)), 'stale version').to.equal(false);
      expect(await store.get(record.trackingId)).to.deep.equal(record);
      expect(await store.history(record.trackingId)).to.have.length(1);

      expect(await delivery.applyChange(record.trackingId, record.version, dispatched(record))).to.equal(true);
      const now = await store.get(record.trackingId);
      expect(now).to.deep.include({ state: 'dispatched', attempts: 1, version: record.version + 1, nextDeadline: later(600 * SECOND), updatedAt: later(SECOND) });
      expect((await store.history(record.trackingId)).at(-1)).to.deep.equal({ at: later(SECOND), from: 'received', to: 'dispatched', cause: 'published to the practice queue' });
      const { dispatches, events } = await claim(later(2 * SECOND));
      expect(dispatches, 'no publish asked for').to.deep.equal([]);
      expect(events.map((e) => [e.routingKey, (e.body as { previousState: string }).previousState])).to.deep.equal([['dispatched.A81001', 'received']]);

      // A retry: same state row, a new attempt to publish, no status event when the state stays.
      const retry: LetterChange = { state: 'dispatched', attempts: 2, nextDeadline: null, deadlineAt: record.deadlineAt, cause: 'retry', at: later(3 * SECOND), publishAttempt: 2 };
      expect(await delivery.applyChange(record.trackingId, record.version + 1, retry)).to.equal(true);
      const next = await claim(later(4 * SECOND));
      expect(next.dispatches.map((d) => [d.trackingId, d.attempt, d.sequence])).to.deep.equal([[record.trackingId, 2, 1]]);
      expect(next.events).to.deep.equal([]);
      expect(await store.history(record.trackingId), 'no history without a state change').to.have.length(2);
    });

    it('claims letters past their next deadline for one sweeper at a time, without touching their version', async () => {
      const timers = store.timerStore();
      const a = await accepted({ deadlineAt: later(3600 * SECOND) });
      const b = await accepted({ deadlineAt: later(1800 * SECOND) });
      const c = await accepted({ deadlineAt: later(7200 * SECOND) });
      const lease = (now: Date) => new Date(now.getTime() + 60 * SECOND);
      const now = later(3600 * SECOND);
      expect(await timers.claimDue(T0, 10, lease(T0)), 'nothing due yet').to.deep.equal([]);
      const first = await timers.claimDue(now, 1, lease(now));
      expect(first.map((r) => r.trackingId), 'soonest first, at most limit').to.deep.equal([b.trackingId]);
      expect(first[0]?.version).to.equal(b.version);
      expect((await timers.claimDue(now, 10, lease(now))).map((r) => r.trackingId), 'claimed ones hidden').to.deep.equal([a.trackingId]);
      expect(await timers.claimDue(now, 10, lease(now))).to.deep.equal([]);
      await timers.releaseTimers([a.trackingId]);
      expect((await timers.claimDue(now, 10, lease(now))).map((r) => r.trackingId), 'released').to.deep.equal([a.trackingId]);
      const afterLease = later(3661 * SECOND);
      expect((await timers.claimDue(afterLease, 10, lease(afterLease))).map((r) => r.trackingId).sort(), 'leases lapse').to.deep.equal(
        [a.trackingId, b.trackingId].sort(),
      );
      expect((await store.get(b.trackingId))?.version, 'a claim is not a change').to.equal(b.version);
      expect(await delivery.applyChange(b.trackingId, b.version, dispatched(b)), 'a claimed letter still changes').to.equal(true);
      const end = later(9000 * SECOND);
      const racing = await Promise.all([0, 1, 2].map(() => timers.claimDue(end, 2, lease(end))));
      const ids = racing.flatMap((r) => r.map((x) => x.trackingId));
      expect(new Set(ids).size, 'no letter to two sweepers').to.equal(ids.length);
      expect(ids).to.include(c.trackingId);
    });

    it('hands each letter of a mixed batch its own facts and bytes, and completes the whole batch at once', async () => {
      const records: MessageRecord[] = [];
      const bodies: Uint8Array[] = [];
      for (let i = 0; i < 5; i++) {
        const body = new Uint8Array(randomBytes(9_000));
        bodies.push(body);
        records.push(await accepted({ body, destination: (i % 2 === 0 ? 'A81001' : 'A81002') as OdsCode }));
      }
      const { dispatches, events } = await claim(T0);
      expect(dispatches.map((d) => d.trackingId)).to.deep.equal(records.map((r) => r.trackingId));
      expect(events).to.have.length(5);
      dispatches.forEach((work, i) => {
        const record = records[i];
        expect([work.messageHeaderId, work.destination, work.sequence, work.attempt]).to.deep.equal([record?.messageHeaderId, record?.destination, record?.sequence, 1]);
        expect(Buffer.from(work.body).equals(Buffer.from(bodies[i] ?? [])), `bytes of letter ${i}`).to.equal(true);
      });
      await delivery.completeOutbox([...dispatches.map((d) => d.outboxId), ...events.map((e) => e.outboxId)]);
      expect(await claim(later(3600 * SECOND)), 'nothing left, even after the lease').to.deep.equal({ dispatches: [], events: [] });
      expect(await store.deliveryStats()).to.deep.include({ outbox: { dispatch: 0, event: 0 } });
    });

    it('writes a change\'s status event before its publish, and nothing at all at a stale version', async () => {
      const record = await accepted();
      const drained = await claim(T0);
      await delivery.completeOutbox([...drained.dispatches.map((d) => d.outboxId), ...drained.events.map((e) => e.outboxId)]);
      const retrying: LetterChange = {
        state: 'retrying',
        attempts: 1,
        nextDeadline: later(60 * SECOND),
        deadlineAt: record.deadlineAt,
        cause: 'transient-error',
        at: later(SECOND),
        publishAttempt: 2,
        event: { previousState: 'received', reason: 'practice asked to try later' },
      };
      expect(await delivery.applyChange(record.trackingId, record.version + 5, retrying), 'stale version').to.equal(false);
      expect(await claim(later(2 * SECOND)), 'no outbox rows from a stale change').to.deep.equal({ dispatches: [], events: [] });
      expect(await store.history(record.trackingId), 'no history from a stale change').to.have.length(1);

      expect(await delivery.applyChange(record.trackingId, record.version, retrying)).to.equal(true);
      const { dispatches, events } = await claim(later(3 * SECOND));
      expect(events.map((e) => e.body)).to.deep.equal([
        {
          trackingId: record.trackingId,
          messageHeaderId: record.messageHeaderId,
          state: 'retrying',
          previousState: 'received',
          at: later(SECOND).toISOString(),
          reason: 'practice asked to try later',
        },
      ]);
      expect(events.map((e) => e.routingKey)).to.deep.equal(['retrying.A81001']);
      expect(dispatches.map((d) => [d.trackingId, d.attempt])).to.deep.equal([[record.trackingId, 2]]);
      expect(events[0]?.outboxId, 'event row first').to.be.below(dispatches[0]?.outboxId ?? 0);
      expect((await store.history(record.trackingId)).at(-1)).to.deep.equal({ at: later(SECOND), from: 'received', to: 'retrying', cause: 'transient-error' });
    });

    it('commits many letters\' changes in one call, each on its own version check, with their rows in change order', async () => {
      const records = [await accepted(), await accepted({ destination: 'A81002' as OdsCode }), await accepted()];
      const drained = await claim(T0);
      await delivery.completeOutbox([...drained.dispatches.map((d) => d.outboxId), ...drained.events.map((e) => e.outboxId)]);
      const [a, b, c] = records as [MessageRecord, MessageRecord, MessageRecord];
      const escalated: LetterChange = {
        state: 'escalated',
        attempts: 1,
        nextDeadline: null,
        deadlineAt: b.deadlineAt,
        cause: 'deadline passed',
        at: later(2 * SECOND),
        event: { previousState: 'received', reason: 'deadline passed' },
        notifications: [
          { kind: 'escalation-webhook', url: null, payload: { trackingId: b.trackingId, n: 1 }, practice: 'A81002' },
          { kind: 'sender-response', url: 'https://trust.example/fhir', payload: { n: 2 } },
        ],
      };
      const results = await delivery.applyChanges([
        { trackingId: a.trackingId, expectedVersion: a.version, change: { ...dispatched(a), publishAttempt: 1 } },
        { trackingId: b.trackingId, expectedVersion: b.version, change: escalated },
        { trackingId: c.trackingId, expectedVersion: c.version + 1, change: dispatched(c) }, // stale
        { trackingId: randomUUID() as TrackingId, expectedVersion: 1, change: dispatched(c) }, // unknown
      ]);
      expect(results).to.deep.equal([true, true, false, false]);
      expect(await store.get(a.trackingId)).to.deep.include({ state: 'dispatched', version: a.version + 1 });
      expect(await store.get(b.trackingId)).to.deep.include({ state: 'escalated', version: b.version + 1, nextDeadline: null });
      expect(await store.get(c.trackingId), 'the stale change changed nothing').to.deep.equal(c);
      expect(await store.history(c.trackingId)).to.have.length(1);
      expect((await store.history(b.trackingId)).at(-1)).to.deep.equal({ at: later(2 * SECOND), from: 'received', to: 'escalated', cause: 'deadline passed' });

      const rows = (await store.outboxRows()).map((r) => [r.trackingId, r.kind]);
      expect(rows, 'the events of a and b in one row, then a\'s dispatch; nothing for c').to.deep.equal([
        [null, 'events'],
        [a.trackingId, 'dispatch'],
      ]);
      const { events, dispatches } = await claim(later(3 * SECOND), 1);
      expect(dispatches, 'a limit of one row: the events row, not the dispatch after it').to.deep.equal([]);
      expect(events.map((e) => [e.routingKey, (e.body as { messageHeaderId: string }).messageHeaderId])).to.deep.equal([
        ['dispatched.A81001', a.messageHeaderId],
        ['escalated.A81002', b.messageHeaderId],
      ]);
      expect(new Set(events.map((e) => e.outboxId)).size, 'both from the one row').to.equal(1);
      const notes = await store.notifications(b.trackingId);
      expect(notes.map((n) => n.kind)).to.deep.equal(['escalation-webhook', 'sender-response']);
      expect(await store.notifications(a.trackingId)).to.deep.equal([]);
    });

    it('refuses two changes of one letter in one call, changing nothing', async () => {
      const record = await accepted();
      const change = { trackingId: record.trackingId, expectedVersion: record.version, change: dispatched(record) };
      let refused: unknown;
      await delivery.applyChanges([change, change]).catch((error: unknown) => (refused = error));
      expect(refused).to.be.instanceOf(RangeError);
      expect(await store.get(record.trackingId)).to.deep.equal(record);
    });

    it('reads many letters at once, leaving out unknown ids', async () => {
      const a = await accepted();
      const b = await accepted();
      const found = await delivery.letters([b.trackingId, randomUUID() as TrackingId, a.trackingId]);
      expect([...found].sort((x, y) => x.sequence - y.sequence)).to.deep.equal([a, b]);
      expect(await delivery.letters([])).to.deep.equal([]);
    });

    it('finds letters by MessageHeader.id, and lists those past their next deadline, soonest first', async () => {
      const a = await accepted({ deadlineAt: later(3600 * SECOND) });
      const b = await accepted({ deadlineAt: later(1800 * SECOND) });
      await accepted({ deadlineAt: later(7200 * SECOND) });
      expect((await delivery.findByMessageHeaderId(a.messageHeaderId))?.trackingId).to.equal(a.trackingId);
      expect(await delivery.findByMessageHeaderId(randomUUID())).to.equal(undefined);
      const due = await delivery.due(later(3600 * SECOND), 10);
      expect(due.map((r) => r.trackingId)).to.deep.equal([b.trackingId, a.trackingId]);
      expect((await delivery.due(later(3600 * SECOND), 1)).map((r) => r.trackingId)).to.deep.equal([b.trackingId]);
      expect(await delivery.due(T0, 10)).to.deep.equal([]);
      expect(await store.get(randomUUID() as TrackingId)).to.equal(undefined);
    });
  });
}
