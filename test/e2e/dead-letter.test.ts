import { expect } from 'chai';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { RabbitProbe, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

interface Tracked {
  state: string;
  history: { to: string; cause: string | null }[];
}

/**
 * DESIGN §5: a letter the broker dead-letters (the practice system keeps
 * handing it back until `x-delivery-limit`) is escalated with the cause, and
 * the escalation is published as a status event.
 */
describe('dead-lettered letters are escalated (real RabbitMQ)', function () {
  this.timeout(60_000);
  let c: TestCourier;
  let probe: RabbitProbe;
  let handedBack = 0;

  before(async () => {
    probe = await RabbitProbe.open();
    c = await startTestCourier({ overrides: [{ amqp: { deliveryLimit: 2 }, practices: [{ ods: 'A81001', name: 'Broken practice' }] }] });
    // A broken practice system: takes each letter and hands it back, for ever.
    await probe.channel.consume(`${c.prefix}.gp.A81001`, (message) => {
      if (message === null) return;
      handedBack++;
      probe.channel.nack(message, false, true);
    });
  });
  after(async () => {
    await c.stop();
    await probe.close();
  });

  it('escalates after the delivery limit with the cause, and publishes escalated.<ODS>', async () => {
    const events = await probe.tap(`${c.prefix}.events`, 'escalated.*');
    const res = await postMessage(c.baseUrl, syntheticDocumentReferenceLetter());
    expect(res.status).to.equal(202);
    const location = res.location ?? '';
    const trackingId = location.split('/').at(-1);
    const tracked = await waitFor('escalated', async () => {
      const t = (await (await fetch(`${c.baseUrl}${location}`)).json()) as Tracked;
      return t.state === 'escalated' ? t : undefined;
    });
    expect(tracked.history.map((h) => h.to)).to.deep.equal(['received', 'dispatched', 'escalated']);
    expect(tracked.history.at(-1)?.cause).to.match(/delivery limit was reached/);
    expect(handedBack, 'the first delivery and the redeliveries up to the limit').to.be.at.least(2);
    const event = await waitFor('escalation event', () => events.find((m) => (JSON.parse(m.content.toString()) as { trackingId: string }).trackingId === trackingId));
    expect(event.fields.routingKey).to.equal('escalated.A81001');
    expect(await probe.messageCount(`${c.prefix}.dead-letter`), 'the dead letter was consumed').to.equal(0);
  });
});
