import { expect } from 'chai';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { RabbitProbe, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

async function stateOf(baseUrl: string, location: string): Promise<string> {
  return ((await (await fetch(`${baseUrl}${location}`)).json()) as { state: string }).state;
}

describe('dispatch: outbox relay to the practice queue (real RabbitMQ)', function () {
  let c: TestCourier;
  let probe: RabbitProbe;
  before(async () => {
    probe = await RabbitProbe.open();
    c = await startTestCourier({ overrides: [{ practices: [{ ods: 'A81001', name: 'Test practice' }] }] });
  });
  after(async () => {
    await c.stop();
    await probe.close();
  });

  it('delivers each letter byte-equal with its properties and sequence 1..n, and marks it dispatched', async () => {
    const queue = await probe.collect(`${c.prefix}.gp.A81001`);
    const events = await probe.tap(`${c.prefix}.events`, '#');
    const bodies = [1, 2, 3].map(() => Buffer.from(JSON.stringify(syntheticDocumentReferenceLetter(), null, 1)));
    const locations: string[] = [];
    for (const body of bodies) {
      const res = await postMessage(c.baseUrl, body);
      expect(res.status, res.text).to.equal(202);
      locations.push(res.location ?? '');
    }
    await waitFor('three deliveries', () => (queue.length >= 3 ? true : undefined));
    expect(queue.map((m) => m.content)).to.deep.equal(bodies);
    expect(queue.map((m) => m.properties.headers?.['x-courier-sequence'])).to.deep.equal([1, 2, 3]);
    for (const [i, message] of queue.entries()) {
      const letter = JSON.parse(bodies[i]!.toString()) as { entry: { resource: { id: string } }[] };
      expect(message.properties.messageId).to.equal(letter.entry[0]!.resource.id);
      expect(message.properties.contentType).to.equal('application/fhir+json');
      expect(message.properties.type).to.equal('ITK003D');
      expect(message.properties.deliveryMode).to.equal(2);
      expect(message.properties.headers?.['x-courier-attempt']).to.equal(1);
      expect(`/api/messages/${String(message.properties.headers?.['x-courier-tracking-id'])}`).to.equal(locations[i]);
    }
    for (const location of locations) {
      await waitFor('dispatched', async () => ((await stateOf(c.baseUrl, location)) === 'dispatched' ? true : undefined));
    }
    await waitFor('six status events', () => (events.length >= 6 ? true : undefined));
    const parsed = events.map((e) => ({ key: e.fields.routingKey, body: JSON.parse(e.content.toString()) as { state: string; previousState: string | null; trackingId: string } }));
    expect(parsed.filter((e) => e.key === 'received.A81001' && e.body.previousState === null)).to.have.length(3);
    expect(parsed.filter((e) => e.key === 'dispatched.A81001' && e.body.previousState === 'received')).to.have.length(3);
    expect(Object.keys(parsed[0]!.body).sort()).to.deep.equal(['at', 'messageHeaderId', 'previousState', 'reason', 'state', 'trackingId']);
  });
});

describe('dispatch: an unroutable letter is escalated, never dropped', function () {
  let c: TestCourier;
  let probe: RabbitProbe;
  before(async () => {
    probe = await RabbitProbe.open();
    c = await startTestCourier({ overrides: [{ practices: [{ ods: 'A81001', name: 'Test practice' }] }] });
  });
  after(async () => {
    await c.stop();
    await probe.close();
  });

  it('escalates a letter whose practice queue has gone', async () => {
    await probe.channel.unbindQueue(`${c.prefix}.gp.A81001`, `${c.prefix}.outbound`, 'A81001');
    const res = await postMessage(c.baseUrl, syntheticDocumentReferenceLetter());
    expect(res.status).to.equal(202);
    await waitFor('escalated', async () => ((await stateOf(c.baseUrl, res.location ?? '')) === 'escalated' ? true : undefined));
    const tracked = (await (await fetch(`${c.baseUrl}${res.location}`)).json()) as { history: { to: string }[]; nextDeadline: string | null };
    expect(tracked.history.map((h) => h.to)).to.deep.equal(['received', 'escalated']);
    expect(tracked.nextDeadline).to.equal(null);
  });
});
