import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { applyDeliveryEvent, type ApplyDeliveryEvent } from '../../src/app/apply-delivery-event.js';
import { OutboxRelay } from '../../src/app/outbox-relay.js';
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

/**
 * The relay marks each letter it publishes as in flight until the broker's
 * confirm and the `published` state change are done (real RabbitMQ, embedded
 * store), so an acknowledgement that overtakes the confirm waits for it.
 */
describe('OutboxRelay: letters in flight until their publish settles', function () {
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

  it('holds each letter in flight from its publish until its published state change is done, then lets it go', async () => {
    const letters = [newLetter({ destination: A }), newLetter({ destination: A })];
    for (const letter of letters) expect((await store.accept(letter)).kind).to.equal('accepted');
    const inFlight = new PublishesInFlight();
    const apply = applyDeliveryEvent({
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
    // Whether the other letter is still in flight depends on how the confirms interleave; the letter being applied must be.
    const inFlightWhenPublished: boolean[] = [];
    const observing: ApplyDeliveryEvent = (trackingId, event) => {
      if (event.kind === 'published') inFlightWhenPublished.push(inFlight.has(trackingId));
      return apply(trackingId, event);
    };
    const relay = new OutboxRelay({
      delivery: store.deliveryStore(),
      publisher,
      apply: observing,
      names: topologyNames(prefix),
      clock: { now: () => new Date(Date.now() + 1_000) },
      logger: captureLogger().logger,
      batchSize: 10,
      leaseMs: 60_000,
      idleMs: 50,
      inFlight,
    });
    expect(await relay.round(), 'two letters and their two received events').to.equal(4);
    expect(inFlightWhenPublished, 'each letter still in flight while its confirm is applied').to.deep.equal([true, true]);
    expect(inFlight.size, 'settled: let go').to.equal(0);
    for (const letter of letters) expect((await store.get(letter.trackingId))?.state).to.equal('dispatched');
  });
});
