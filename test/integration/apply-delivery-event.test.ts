import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { applyDeliveryEvent, type ApplyDeliveryEvent } from '../../src/app/apply-delivery-event.js';
import type { DeliveryStore, MessageRecord, VersionedChange } from '../../src/app/ports.js';
import { CourierMetrics } from '../../src/adapters/metrics/prometheus.js';
import { openMemoryStore } from '../../src/adapters/store/open-store.js';
import type { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import type { OdsCode, TrackingId } from '../../src/domain/ids.js';
import { PublishesInFlight } from '../../src/app/publishes-in-flight.js';
import { receiveAck } from '../../src/app/receive-ack.js';
import { ackMessage } from '../fixtures/letters.js';
import { captureLogger } from '../support/rabbit.js';
import { newLetter } from './store-contract.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = new Date('2026-03-01T09:00:00.000Z');

/**
 * applyDeliveryEvent's group commit over the embedded store: concurrent
 * events are committed together, two events for one letter never share a
 * batch (the second sees the first), and a change that lost its version
 * check is decided again from a fresh read.
 */
describe('applyDeliveryEvent: group-committed state changes over the embedded store', function () {
  this.timeout(60_000);
  let store: SqlMessageStore;
  let batches: number[];

  before(async () => {
    store = await openMemoryStore();
  });
  after(() => store.close());

  /** The store's delivery side, recording how many changes each applyChanges call carried. */
  const counting = (delivery: DeliveryStore): DeliveryStore =>
    Object.assign(Object.create(delivery) as DeliveryStore, {
      applyChanges: (changes: readonly VersionedChange[]) => {
        batches.push(changes.length);
        return delivery.applyChanges(changes);
      },
    });

  const makeApply = (delivery: DeliveryStore = counting(store.deliveryStore())): ApplyDeliveryEvent =>
    applyDeliveryEvent({
      messages: store,
      delivery,
      policy: { infrastructureAckTimeoutMs: 10 * MINUTE, backoff: { initialMs: MINUTE, maxMs: HOUR }, maxAttempts: 5 },
      filingWindows: { ITK003D: 24 * HOUR },
      clock: { now: () => new Date(T0.getTime() + MINUTE) },
      random: () => 0.5,
      observer: new CourierMetrics({ practices: ['A81001'] }).delivery,
      notices: { webhook: false, notifySenders: false, courierEndpoint: 'https://courier.test/fhir', newId: randomUUID },
      logger: captureLogger().logger,
    });

  const acceptedLetters = async (n: number): Promise<MessageRecord[]> => {
    const records: MessageRecord[] = [];
    for (let i = 0; i < n; i++) {
      const outcome = await store.accept(newLetter({ acceptedAt: T0, destination: 'A81001' as OdsCode }));
      if (outcome.kind !== 'accepted') throw new Error('expected acceptance');
      records.push(outcome.record);
    }
    return records;
  };

  beforeEach(() => {
    batches = [];
  });

  it('commits the events that arrive while a batch is written together, each with its own result', async () => {
    const letters = await acceptedLetters(6);
    const apply = makeApply();
    const results = await Promise.all(letters.map((l) => apply(l.trackingId, { kind: 'published', attempt: 1 })));
    expect(results.map((r) => r?.kind === 'changed' && r.state)).to.deep.equal(Array(6).fill('dispatched'));
    expect(batches, 'one alone, then the five that waited in one statement').to.deep.equal([1, 5]);
    for (const l of letters) expect((await store.history(l.trackingId)).map((h) => h.to)).to.deep.equal(['received', 'dispatched']);
    expect(await apply(randomUUID() as TrackingId, { kind: 'published', attempt: 1 }), 'unknown letter').to.equal(undefined);
  });

  it('applies two events for one letter in order, in separate batches', async () => {
    const [letter] = await acceptedLetters(1);
    if (letter === undefined) throw new Error('no letter');
    const apply = makeApply();
    const [published, delivered] = await Promise.all([
      apply(letter.trackingId, { kind: 'published', attempt: 1 }),
      apply(letter.trackingId, { kind: 'infrastructure-ack' }),
    ]);
    expect([published?.kind === 'changed' && published.state, delivered?.kind === 'changed' && delivered.state]).to.deep.equal(['dispatched', 'delivered']);
    expect((await store.history(letter.trackingId)).map((h) => h.to)).to.deep.equal(['received', 'dispatched', 'delivered']);
    expect(batches).to.deep.equal([1, 1]);
  });

  it('decides again, from a fresh read, a change that lost its version check to another writer', async () => {
    const [filler, a, b] = await acceptedLetters(3);
    if (filler === undefined || a === undefined || b === undefined) throw new Error('no letters');
    const plain = store.deliveryStore();
    let calls = 0;
    // Another instance publishes `a` between this batch's read and its commit.
    const interfering = Object.assign(Object.create(plain) as DeliveryStore, {
      applyChanges: async (changes: readonly VersionedChange[]) => {
        if (++calls === 2) await makeApply(plain)(a.trackingId, { kind: 'published', attempt: 1 });
        batches.push(changes.length);
        return plain.applyChanges(changes);
      },
    });
    const apply = makeApply(interfering);
    const results = await Promise.all([
      apply(filler.trackingId, { kind: 'published', attempt: 1 }),
      apply(a.trackingId, { kind: 'infrastructure-ack' }),
      apply(b.trackingId, { kind: 'published', attempt: 1 }),
    ]);
    expect(results.map((r) => r?.kind === 'changed' && r.state)).to.deep.equal(['dispatched', 'delivered', 'dispatched']);
    expect(batches, 'the loser alone in a second round').to.deep.equal([1, 2, 1]);
    expect((await store.history(a.trackingId)).map((h) => h.to)).to.deep.equal(['received', 'dispatched', 'delivered']);
  });

  it('applies an acknowledgement that overtook its letter\'s publish confirm only after it: the history keeps dispatched', async () => {
    const [letter] = await acceptedLetters(1);
    if (letter === undefined) throw new Error('no letter');
    const inFlight = new PublishesInFlight();
    const apply = makeApply(store.deliveryStore());
    let confirm: () => void = () => undefined;
    const confirmed = new Promise<void>((resolve) => (confirm = resolve));
    // What the relay does: the publish is out, the broker's confirm (then `published`) still to come.
    const publishing = inFlight.track(letter.trackingId, confirmed.then(() => apply(letter.trackingId, { kind: 'published', attempt: 1 })));
    const receive = receiveAck({ delivery: store.deliveryStore(), apply, clock: { now: () => T0 }, observer: new CourierMetrics({ practices: ['A81001'] }).delivery, inFlight, logger: captureLogger().logger });
    const answered = receive(ackMessage({ respondsTo: letter.messageHeaderId, code: 'ok', itkCodes: ['20013'] }), () => ({ ods: letter.destination }));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect((await store.history(letter.trackingId)).map((h) => h.to), 'the ack waits for the confirm').to.deep.equal(['received']);
    confirm();
    expect((await publishing)?.kind).to.equal('changed');
    expect((await answered).outcome).to.equal('applied: delivered');
    expect((await store.history(letter.trackingId)).map((h) => h.to)).to.deep.equal(['received', 'dispatched', 'delivered']);
  });
});

