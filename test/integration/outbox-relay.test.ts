import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyDeliveryEvent, type ApplyDeliveryEvent } from '../../src/app/apply-delivery-event.js';
import { OutboxRelay, type OutboxRelayDeps } from '../../src/app/outbox-relay.js';
import { PublishesInFlight } from '../../src/app/publishes-in-flight.js';
import { BrokerConnection } from '../../src/adapters/amqp/broker-connection.js';
import { OutboxPublisher } from '../../src/adapters/amqp/outbox-publisher.js';
import { declareTopology } from '../../src/adapters/amqp/topology.js';
import { CourierMetrics } from '../../src/adapters/metrics/prometheus.js';
import { openMemoryStore } from '../../src/adapters/store/open-store.js';
import type { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import type { OdsCode } from '../../src/domain/ids.js';
import { topologyNames } from '../../src/domain/topology-names.js';
import { captureLogger, randomPrefix, RabbitProbe, TEST_AMQP_URL } from '../support/rabbit.js';
import { newLetter } from './store-contract.js';

const A = 'A81001' as OdsCode;
const HOUR = 3_600_000;

/** The outbox relay against real RabbitMQ and the embedded store. */
describe('OutboxRelay', function () {
  this.timeout(60_000);
  const prefix = randomPrefix();
  let probe: RabbitProbe;
  let broker: BrokerConnection;
  let publisher: OutboxPublisher;
  let store: SqlMessageStore;

  before(async () => {
    probe = await RabbitProbe.open();
    broker = await BrokerConnection.open(TEST_AMQP_URL, { logger: captureLogger().logger });
    await broker.withChannel((channel) => declareTopology(channel, prefix, [A], { deliveryLimit: 10 }));
    const metrics = new CourierMetrics({ practices: [A] });
    publisher = new OutboxPublisher(broker, { maxInFlight: 16, logger: captureLogger().logger, observer: metrics.delivery, lettersExchange: topologyNames(prefix).outbound });
    await publisher.start();
    store = await openMemoryStore();
  });
  after(async () => {
    await store?.close();
    await publisher?.close();
    await broker?.close();
    await probe?.cleanup(prefix, [A]);
    await probe?.close();
  });

  const newApply = () =>
    applyDeliveryEvent({
      messages: store,
      delivery: store.deliveryStore(),
      policy: { infrastructureAckTimeoutMs: HOUR, backoff: { initialMs: HOUR, maxMs: HOUR }, maxAttempts: 5 },
      filingWindows: { ITK003D: 24 * HOUR },
      clock: { now: () => new Date() },
      random: () => 0.5,
      observer: new CourierMetrics({ practices: [A] }).delivery,
      notices: { webhook: false, notifySenders: false, courierEndpoint: 'https://courier.test/fhir', newId: randomUUID },
      logger: captureLogger().logger,
    });

  /** A relay over this suite's store and publisher, batches of 10, its clock a second ahead so fresh rows are due. */
  const newRelay = (deps: Pick<OutboxRelayDeps, 'apply' | 'idleMs'> & Partial<Pick<OutboxRelayDeps, 'lingerMs' | 'inFlight'>>) =>
    new OutboxRelay({
      delivery: store.deliveryStore(),
      publisher,
      names: topologyNames(prefix),
      clock: { now: () => new Date(Date.now() + 1_000) },
      logger: captureLogger().logger,
      batchSize: 10,
      leaseMs: 60_000,
      ...deps,
    });

  // An acknowledgement that overtakes the confirm waits for it.
  it('holds each letter in flight from its publish until its published state change is done, then lets it go', async () => {
    const letters = [newLetter({ destination: A }), newLetter({ destination: A })];
    for (const letter of letters) expect((await store.accept(letter)).kind).to.equal('accepted');
    const inFlight = new PublishesInFlight();
    const apply = newApply();
    // Whether the other letter is still in flight depends on how the confirms interleave; the letter being applied must be.
    const inFlightWhenPublished: boolean[] = [];
    const observing: ApplyDeliveryEvent = (trackingId, event) => {
      if (event.kind === 'published') inFlightWhenPublished.push(inFlight.has(trackingId));
      return apply(trackingId, event);
    };
    const relay = newRelay({ apply: observing, idleMs: 50, inFlight });
    expect(await relay.round(), 'two letters and their two received events').to.equal(4);
    expect(inFlightWhenPublished, 'each letter still in flight while its confirm is applied').to.deep.equal([true, true]);
    expect(inFlight.size, 'settled: let go').to.equal(0);
    for (const letter of letters) expect((await store.get(letter.trackingId))?.state).to.equal('dispatched');
  });

  it('publishes each status event of a row that holds several, and deletes the row once the broker took them all', async () => {
    const relay = newRelay({ apply: newApply(), idleMs: 50 });
    while ((await relay.round()) > 0); // what earlier tests left in the outbox
    const events = await probe.tap(topologyNames(prefix).events, 'received.#');
    const letters = Array.from({ length: 4 }, () => newLetter({ destination: A }));
    // Accepted together: the first goes alone, the others wait for it and go as one batch, whose events share a row.
    const outcomes = await Promise.all(letters.map((letter) => store.accept(letter)));
    expect(outcomes.map((o) => o.kind)).to.deep.equal(['accepted', 'accepted', 'accepted', 'accepted']);
    const rows = await store.outboxRows();
    const held = rows.filter((row) => row.kind === 'events').map((row) => (row.payload as unknown[]).length);
    expect(Math.max(...held), 'a row holding several events').to.be.above(1);
    expect(held.reduce((a, b) => a + b)).to.equal(4);

    expect(await relay.round(), 'rows done with: four dispatches and the events rows').to.equal(4 + held.length);
    const left = (await store.outboxRows()).filter((row) => rows.some((r) => r.id === row.id));
    expect(left, 'the rows claimed are deleted (the letters\' dispatched events are new rows)').to.deep.equal([]);
    for (let waited = 0; events.length < 4 && waited < 5_000; waited += 10) await sleep(10);
    await sleep(100); // no more than one message per event
    const received = events.map((m) => JSON.parse(m.content.toString()) as { trackingId: string; state: string });
    expect(received.map((e) => e.trackingId).sort()).to.deep.equal(letters.map((l) => l.trackingId).sort());
    expect(events.map((m) => m.fields.routingKey)).to.deep.equal(Array<string>(4).fill(`received.${A}`));
  });

  it('lingers under load, so rows committed meanwhile are claimed together, yet sends a lone letter at once and stops without waiting', async () => {
    const LINGER_MS = 2_000;
    const published = new Map<string, number>();
    const apply = newApply();
    const observing: ApplyDeliveryEvent = (trackingId, event) => {
      if (event.kind === 'published') published.set(trackingId, Date.now());
      return apply(trackingId, event);
    };
    const relay = newRelay({ apply: observing, idleMs: 60_000 /* only a nudge ends the idle pause */, lingerMs: LINGER_MS });
    const accept = async () => {
      const letter = newLetter({ destination: A });
      expect((await store.accept(letter)).kind).to.equal('accepted');
      relay.nudge();
      return { id: letter.trackingId, at: Date.now() };
    };
    const publishedAt = async (id: string) => {
      while (!published.has(id)) await sleep(10);
      return published.get(id) ?? Number.NaN;
    };
    while ((await relay.round()) > 0); // what earlier tests left in the outbox
    relay.start();
    try {
      await sleep(200); // the empty outbox sends the relay into its idle pause
      const lone = await accept();
      expect((await publishedAt(lone.id)) - lone.at, 'a letter after idle is not held back').to.be.below(LINGER_MS / 2);
      // The relay now lingers after the round that took the lone letter: two letters 200 ms apart wait for its end and go out together.
      const first = await accept();
      await sleep(200);
      const second = await accept();
      expect(await publishedAt(first.id), 'the first waited for the second').to.be.at.least(second.at);
      await publishedAt(second.id);
    } finally {
      const stopping = Date.now();
      await relay.stop();
      expect(Date.now() - stopping, 'stop ends a linger').to.be.below(LINGER_MS / 2);
    }
  });
});
