import { expect } from 'chai';
import type { PracticeAlarmChange } from '../../src/app/ports.js';
import type { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import { newLetter, type OpenedStore } from './store-contract.js';

const SECOND = 1_000;

/** The NotificationStore and PracticeStore contracts (app/ports.ts), run against every engine. */
export function notificationStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`NotificationStore and PracticeStore contracts: ${name}`, function () {
    let store: SqlMessageStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    const T0 = new Date('2026-03-01T10:00:00Z');
    const later = (ms: number) => new Date(T0.getTime() + ms);
    const lease = (now: Date) => new Date(now.getTime() + 60 * SECOND);

    it('keeps notifications until delivered, hides claimed ones, reschedules failures and shows them per letter', async () => {
      const outcome = await store.accept(newLetter({ acceptedAt: T0 }));
      if (outcome.kind !== 'accepted') throw new Error('expected acceptance');
      const letter = outcome.record;
      const notifications = store.notificationStore();
      await notifications.enqueue(
        [
          { kind: 'escalation-webhook', url: null, payload: { type: 'letter-escalated' }, practice: 'A81001' },
          { kind: 'sender-response', url: 'https://trust.example/fhir', payload: { resourceType: 'Bundle' } },
        ],
        letter.trackingId,
        T0,
      );
      const claimed = await notifications.claimDue(T0, 10, lease(T0));
      expect(claimed.map((n) => [n.kind, n.url, n.attempts, n.trackingId])).to.deep.equal([
        ['escalation-webhook', null, 0, letter.trackingId],
        ['sender-response', 'https://trust.example/fhir', 0, letter.trackingId],
      ]);
      expect(claimed[1]?.payload).to.deep.equal({ resourceType: 'Bundle' });
      expect(await notifications.claimDue(T0, 10, lease(T0)), 'claimed ones hidden').to.deep.equal([]);

      const [webhook, response] = claimed;
      if (webhook === undefined || response === undefined) throw new Error('two claimed');
      await notifications.delivered(webhook.id, later(SECOND));
      await notifications.failed(response.id, 'HTTP 503', later(30 * SECOND));
      expect(await notifications.claimDue(later(10 * SECOND), 10, lease(later(10 * SECOND))), 'not before its retry time').to.deep.equal([]);
      const again = await notifications.claimDue(later(30 * SECOND), 10, lease(later(30 * SECOND)));
      expect(again.map((n) => [n.id, n.attempts])).to.deep.equal([[response.id, 1]]);

      expect(await notifications.pending()).to.deep.equal([{ kind: 'sender-response', count: 1, oldestCreatedAt: T0 }]);
      expect((await store.notifications(letter.trackingId)).map((n) => [n.kind, n.attempts, n.deliveredAt, n.lastError])).to.deep.equal([
        ['escalation-webhook', 0, later(SECOND), null],
        ['sender-response', 1, null, 'HTTP 503'],
      ]);
      await notifications.delivered(response.id, later(31 * SECOND));
      expect(await notifications.pending()).to.deep.equal([]);
    });

    it('raises a practice alarm once, with its event and notification, and clears it once', async () => {
      const practices = store.practiceStore();
      const change = (state: 'practice-silent' | 'practice-heard', at: Date): PracticeAlarmChange => ({
        ods: 'A81001',
        at,
        event: { state, ods: 'A81001' },
        notifications: state === 'practice-silent' ? [{ kind: 'practice-alarm-webhook', url: null, payload: { state } }] : [],
      });
      const raised = await Promise.all([practices.raise(change('practice-silent', T0)), practices.raise(change('practice-silent', T0))]);
      expect(raised.filter(Boolean), 'one of two concurrent raises').to.have.length(1);
      expect(await practices.activeAlarms()).to.deep.equal(new Map([['A81001', T0]]));
      expect(await practices.clear(change('practice-heard', later(SECOND)))).to.equal(true);
      expect(await practices.clear(change('practice-heard', later(2 * SECOND)))).to.equal(false);
      expect(await practices.activeAlarms()).to.deep.equal(new Map());
      const { events } = await store.deliveryStore().claimOutbox(10, later(3 * SECOND), lease(later(3 * SECOND)));
      expect(events.map((e) => e.routingKey)).to.deep.equal(['practice-silent.A81001', 'practice-heard.A81001']);
      expect((await store.notificationStore().pending()).map((p) => [p.kind, p.count])).to.deep.equal([['practice-alarm-webhook', 1]]);
    });

    it('reports what each practice has waiting and when it last spoke (refused acks do not count), and reconciles', async () => {
      const practices = store.practiceStore();
      const a = await store.accept(newLetter({ acceptedAt: T0 }));
      if (a.kind !== 'accepted') throw new Error('expected acceptance');
      const delivery = store.deliveryStore();
      const dispatchedAt = later(5 * SECOND);
      expect(
        await delivery.applyChange(a.record.trackingId, a.record.version, {
          state: 'dispatched',
          attempts: 1,
          nextDeadline: later(600 * SECOND),
          deadlineAt: a.record.deadlineAt,
          cause: 'published',
          at: dispatchedAt,
          event: { previousState: 'received', reason: null },
        }),
      ).to.equal(true);
      const ack = { messageHeaderId: 'x', respondsTo: a.record.messageHeaderId, code: 'ok' as const, itkCodes: ['20013'], trackingId: a.record.trackingId };
      await delivery.recordAck({ ...ack, practice: 'A81001', outcome: 'recorded without effect: repeat', receivedAt: later(7 * SECOND) });
      await delivery.recordAck({ ...ack, practice: 'A81001', outcome: 'refused: the acknowledging practice is not the letter destination', receivedAt: later(9 * SECOND) });
      // Other practices' acks: the latest of each counts, one only refused counts as silent, none for no practice.
      await delivery.recordAck({ ...ack, practice: 'C83001', outcome: 'recorded without effect: unknown letter', receivedAt: later(3 * SECOND) });
      await delivery.recordAck({ ...ack, practice: 'C83001', outcome: 'recorded without effect: unknown letter', receivedAt: later(4 * SECOND) });
      await delivery.recordAck({ ...ack, practice: 'D84001', outcome: 'refused: the acknowledging practice is not the letter destination', receivedAt: later(8 * SECOND) });
      await delivery.recordAck({ ...ack, practice: null, outcome: 'recorded without effect: unknown letter', receivedAt: later(9 * SECOND) });
      const activity = await practices.activity();
      expect(activity.get('A81001')).to.deep.equal({ awaiting: 1, oldestAwaitingSince: dispatchedAt, lastAckAt: later(7 * SECOND) });
      expect(activity.get('C83001')).to.deep.equal({ awaiting: 0, oldestAwaitingSince: null, lastAckAt: later(4 * SECOND) });
      expect([...activity.keys()].sort(), 'B82005 has no ack, D84001 only a refused one').to.deep.equal(['A81001', 'C83001']);
      expect(await practices.reconciliation('A81001')).to.deep.equal({
        accepted: 1,
        sent: 1,
        delivered: 0,
        filed: 0,
        rejected: 0,
        open: 1,
        escalated: 0,
        oldestOpenAcceptedAt: T0,
      });
    });
  });
}
