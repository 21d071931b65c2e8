import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { applyDeliveryEvent, type ApplyDeliveryEvent } from '../../src/app/apply-delivery-event.js';
import { NotFoundError } from '../../src/app/errors.js';
import type { MessageRecord } from '../../src/app/ports.js';
import { resendLetter, type ResendLetter } from '../../src/app/resend-request.js';
import { CourierMetrics } from '../../src/adapters/metrics/prometheus.js';
import { openMemoryStore } from '../../src/adapters/store/open-store.js';
import type { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import type { DeliveryEvent } from '../../src/domain/delivery-events.js';
import type { OdsCode } from '../../src/domain/ids.js';
import { SENTINEL_NHS_NUMBER } from '../fixtures/nhs-numbers.js';
import { captureLogger } from '../support/rabbit.js';
import { newLetter } from './store-contract.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const PRACTICE = 'A81001' as OdsCode;
const OTHER = 'B82005' as OdsCode;
const T0 = new Date('2026-03-01T09:00:00.000Z');

/**
 * The resend use case over the real pieces it is wired to in Courier: the
 * embedded store (PGlite), applyDeliveryEvent with the state machine, and the
 * Prometheus metrics. What it commits (history, outbox) is read back from the
 * store; the broker side is test/e2e/resend-requests.test.ts.
 */
describe('resend request: the use case over the embedded store', function () {
  this.timeout(60_000);
  let store: SqlMessageStore;
  let apply: ApplyDeliveryEvent;
  let resend: ResendLetter;
  let metrics: CourierMetrics;
  let lines: string[];
  let nudges: number;
  let now: Date;

  before(async () => {
    store = await openMemoryStore();
  });
  after(() => store.close());
  beforeEach(() => {
    now = new Date(T0.getTime() + HOUR);
    nudges = 0;
    metrics = new CourierMetrics({ practices: [PRACTICE, OTHER] });
    const captured = captureLogger();
    lines = captured.lines;
    apply = applyDeliveryEvent({
      messages: store,
      delivery: store.deliveryStore(),
      policy: { infrastructureAckTimeoutMs: 10 * MINUTE, backoff: { initialMs: MINUTE, maxMs: HOUR }, maxAttempts: 5 },
      filingWindows: { ITK003D: 24 * HOUR },
      clock: { now: () => now },
      random: () => 0.5,
      observer: metrics.delivery,
      notices: { webhook: false, notifySenders: false, courierEndpoint: 'https://courier.test/fhir', newId: randomUUID },
      logger: captured.logger,
    });
    resend = resendLetter({
      practices: new Set([PRACTICE, OTHER]),
      messages: store,
      apply,
      observer: metrics.delivery,
      logger: captured.logger,
      publishQueued: () => nudges++,
    });
  });

  const REQUEST = { sequence: 0, reason: `missing since 09:10, ticket ${SENTINEL_NHS_NUMBER}`, actor: 'connector-a81001' };
  const CAUSE = `resend requested by the practice (connector-a81001): ${REQUEST.reason}`;

  /** A letter for `destination` taken through `events` (at `now`), as the relay, acks and timers would. */
  async function letterIn(events: readonly DeliveryEvent[], destination = PRACTICE): Promise<MessageRecord> {
    const outcome = await store.accept(newLetter({ destination, acceptedAt: T0, deadlineAt: new Date(T0.getTime() + 24 * HOUR) }));
    if (outcome.kind !== 'accepted') throw new Error('not accepted');
    for (const event of events) {
      const result = await apply(outcome.record.trackingId, event);
      if (result?.kind !== 'changed') throw new Error(`${event.kind} did not apply`);
    }
    const record = await store.get(outcome.record.trackingId);
    if (record === undefined) throw new Error('letter vanished');
    return record;
  }
  const dispatches = async (letter: MessageRecord) => (await store.outboxRows(letter.trackingId)).filter((row) => row.kind === 'dispatch').map((row) => row.payload);
  async function counted(result: 'resent' | 'not-resent', practice = PRACTICE): Promise<number> {
    const metric = await metrics.registry.getSingleMetric('courier_resend_requests_total')?.get();
    return metric?.values.find((v) => v.labels['practice'] === practice && v.labels['result'] === result)?.value ?? Number.NaN;
  }

  it('publishes a dispatched letter again as the next attempt, in one commit with its history and status event', async () => {
    const letter = await letterIn([{ kind: 'published', attempt: 1 }]);
    const outboxBefore = await store.outboxRows(letter.trackingId);
    expect(await counted('resent')).to.equal(0);

    const outcome = await resend(PRACTICE, { ...REQUEST, sequence: letter.sequence });
    expect(outcome).to.deep.equal({
      trackingId: letter.trackingId,
      messageHeaderId: letter.messageHeaderId,
      sequence: letter.sequence,
      state: 'retrying',
      resent: true,
      detail: CAUSE,
    });
    expect(await store.get(letter.trackingId)).to.deep.include({ state: 'retrying', attempts: 1, version: letter.version + 1 });
    expect((await store.history(letter.trackingId)).at(-1)).to.deep.equal({ at: now, from: 'dispatched', to: 'retrying', cause: CAUSE });
    const added = (await store.outboxRows(letter.trackingId)).slice(outboxBefore.length);
    expect(added.map((row) => [row.kind, row.payload])).to.deep.equal([
      ['events', [{ trackingId: letter.trackingId, messageHeaderId: letter.messageHeaderId, state: 'retrying', previousState: 'dispatched', at: now.toISOString(), reason: CAUSE, destination: PRACTICE }]],
      ['dispatch', { trackingId: letter.trackingId, attempt: 2 }],
    ]);
    expect(nudges, 'the relay is woken to publish now').to.equal(1);
    expect([await counted('resent'), await counted('not-resent')]).to.deep.equal([1, 0]);
    const logged = lines.join('');
    expect(logged).to.include('resend request: letter published again').and.include(letter.trackingId);
    expect(logged, 'neither the reason nor the actor is logged').not.to.include(SENTINEL_NHS_NUMBER).and.not.include('connector-a81001');
  });

  it('answers a letter in any other state with its state and why nothing was sent, changing nothing', async () => {
    const cases = [
      { events: [], state: 'received', detail: 'resend-requested ignored: the letter is not yet published, it is on its way' },
      { events: [{ kind: 'published', attempt: 1 }, { kind: 'transient-error', reason: 'busy' }], state: 'retrying', detail: 'resend-requested ignored: the next attempt is already scheduled' },
      { events: [{ kind: 'published', attempt: 1 }, { kind: 'infrastructure-ack' }], state: 'delivered', detail: 'resend-requested ignored: the practice system already acknowledged receipt' },
      { events: [{ kind: 'publish-failed', attempt: 1, failure: 'unroutable' }], state: 'escalated', detail: 'resend-requested ignored: escalated, waiting for a person' },
      { events: [{ kind: 'published', attempt: 1 }, { kind: 'business-ack' }], state: 'filed', detail: 'resend-requested ignored: filed is final' },
      { events: [{ kind: 'cancel', reason: 'sent in error', actor: 'jsmith@trust' }], state: 'cancelled', detail: 'resend-requested ignored: cancelled is final' },
    ] as const;
    for (const { events, state, detail } of cases) {
      const letter = await letterIn(events);
      const [history, outbox] = [await store.history(letter.trackingId), await store.outboxRows(letter.trackingId)];
      const outcome = await resend(PRACTICE, { ...REQUEST, sequence: letter.sequence });
      expect(outcome, state).to.deep.equal({ trackingId: letter.trackingId, messageHeaderId: letter.messageHeaderId, sequence: letter.sequence, state, resent: false, detail });
      expect(await store.get(letter.trackingId), state).to.deep.equal(letter);
      expect(await store.history(letter.trackingId), state).to.deep.equal(history);
      expect(await store.outboxRows(letter.trackingId), state).to.deep.equal(outbox);
    }
    expect(nudges).to.equal(0);
    expect([await counted('resent'), await counted('not-resent')]).to.deep.equal([0, cases.length]);
    expect(lines.join('')).to.include('resend request: letter not published again').and.not.include(SENTINEL_NHS_NUMBER);
  });

  it('escalates a dispatched letter past its filing deadline instead of publishing it', async () => {
    const letter = await letterIn([{ kind: 'published', attempt: 1 }]);
    now = new Date(T0.getTime() + 25 * HOUR);
    const outcome = await resend(PRACTICE, { ...REQUEST, sequence: letter.sequence });
    expect(outcome).to.include({ state: 'escalated', resent: false, detail: `not filed by the filing deadline ${letter.deadlineAt.toISOString()}` });
    expect(await dispatches(letter)).to.deep.equal([{ trackingId: letter.trackingId }]);
    expect(nudges).to.equal(0);
    expect(await counted('not-resent')).to.equal(1);
  });

  it('finds the letter by its own practice and sequence number only; anything else is not found and changes nothing', async () => {
    const mine = await letterIn([{ kind: 'published', attempt: 1 }]);
    const theirs = await letterIn([{ kind: 'published', attempt: 1 }], OTHER);
    const missing = async (ods: string, sequence: number) => resend(ods, { ...REQUEST, sequence }).then(() => undefined, (e: unknown) => e);
    for (const [ods, sequence] of [['C83001', mine.sequence], ['a81001', mine.sequence], ['../A81001', mine.sequence], [PRACTICE, mine.sequence + 1000]] as const) {
      const error = await missing(ods, sequence);
      expect(error, `${ods} ${sequence}`).to.be.instanceOf(NotFoundError);
    }
    expect(((await missing('C83001', 1)) as Error).message).to.equal('Practice not found');
    expect(((await missing(PRACTICE, mine.sequence + 1000)) as Error).message).to.equal(`Letter with sequence ${mine.sequence + 1000} for practice ${PRACTICE} not found`);
    expect(await store.get(mine.trackingId)).to.deep.equal(mine);
    // The other practice's letters are numbered on their own: its request finds its letter and leaves this one alone.
    expect((await resend(OTHER, { ...REQUEST, sequence: theirs.sequence })).trackingId).to.equal(theirs.trackingId);
    expect(await store.get(mine.trackingId)).to.deep.equal(mine);
    expect([await counted('resent', OTHER), await counted('resent'), await counted('not-resent')]).to.deep.equal([1, 0, 0]);
  });
});
