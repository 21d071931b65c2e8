import { expect } from 'chai';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { FILE_IT, PracticeSimulator } from '../support/practice-simulator.js';
import { captureLogger, RabbitProbe, TEST_AMQP_URL, waitFor } from '../support/rabbit.js';
import { ackMessage, syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

/** The value of one series in Prometheus text, or undefined when absent. */
function series(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/**
 * /metrics shows the delivery side: publishes and confirm latency, state
 * changes, acks by kind and result, the outbox backlog, and per practice the
 * open letters and the age of the oldest one (the gauge that would have
 * caught letters going nowhere for years).
 */
describe('delivery metrics (real RabbitMQ)', function () {
  this.timeout(60_000);
  let c: TestCourier;
  let practice: PracticeSimulator;
  let probe: RabbitProbe;
  const silent = new Set<string>();

  before(async () => {
    probe = await RabbitProbe.open();
    c = await startTestCourier({ overrides: [{ practices: [{ ods: 'A81001', name: 'Answers' }, { ods: 'A81002', name: 'Silent' }, { ods: 'B82005', name: 'Idle' }] }] });
    practice = await PracticeSimulator.start({
      url: TEST_AMQP_URL,
      prefix: c.prefix,
      practices: ['A81001', 'A81002'],
      logger: captureLogger().logger,
      answer: (delivery) => (silent.has(delivery.properties.messageId as string) ? [] : FILE_IT),
    });
  });
  after(async () => {
    await practice.stop();
    await c.stop();
    await probe.close();
  });

  const metrics = async (): Promise<string> => (await fetch(`${c.baseUrl}/metrics`)).text();

  it('counts publishes, state changes and acks, and gauges open letters per practice', async () => {
    for (let i = 0; i < 3; i++) expect((await postMessage(c.baseUrl, syntheticDocumentReferenceLetter({ destination: 'A81001' }))).status).to.equal(202);
    const quiet = syntheticDocumentReferenceLetter({ destination: 'A81002' });
    silent.add(quiet.entry[0].resource.id as string);
    expect((await postMessage(c.baseUrl, quiet)).status).to.equal(202);
    // An ack for no letter, and one from the wrong practice for the silent practice's letter.
    const unknown = ackMessage({ respondsTo: 'f0000000-0000-4000-8000-000000000000', code: 'ok', itkCodes: ['20013'] });
    probe.channel.publish(`${c.prefix}.inbound`, 'A81001', Buffer.from(JSON.stringify(unknown)), { contentType: 'application/fhir+json' });
    const wrong = ackMessage({ respondsTo: quiet.entry[0].resource.id, code: 'ok', itkCodes: ['20013'], senderOds: 'A81001' });
    probe.channel.publish(`${c.prefix}.inbound`, 'A81001', Buffer.from(JSON.stringify(wrong)), { contentType: 'application/fhir+json' });

    const text = await waitFor(
      'three letters filed and both stray acks counted',
      async () => {
        const t = await metrics();
        const settled =
          series(t, 'courier_letter_state_changes_total{state="filed"}') === 3 &&
          series(t, 'courier_acks_total{kind="infrastructure-ack",result="unknown-letter"}') === 1 &&
          series(t, 'courier_acks_total{kind="infrastructure-ack",result="refused"}') === 1 &&
          series(t, 'courier_open_letters{practice="A81002",state="dispatched"}') === 1 &&
          series(t, 'courier_outbox_depth{kind="event"}') === 0;
        return settled ? t : undefined;
      },
      30_000,
    );
    expect(series(text, 'courier_letter_state_changes_total{state="dispatched"}')).to.equal(4);
    expect(series(text, 'courier_letter_state_changes_total{state="delivered"}')).to.equal(3);
    expect(series(text, 'courier_acks_total{kind="infrastructure-ack",result="applied"}')).to.equal(3);
    expect(series(text, 'courier_acks_total{kind="business-ack",result="applied"}')).to.equal(3);
    expect(series(text, 'courier_publishes_total{what="letter",outcome="confirmed"}')).to.equal(4);
    expect(series(text, 'courier_publish_confirm_seconds_count{what="letter"}')).to.equal(4);
    // Status events: 4 received + 4 dispatched + 3 delivered + 3 filed.
    expect(series(text, 'courier_publishes_total{what="status-event",outcome="confirmed"}')).to.equal(14);
    expect(series(text, 'courier_outbox_depth{kind="dispatch"}')).to.equal(0);
    // Filed letters are not open; the silent practice's letter is, and ages.
    expect(series(text, 'courier_open_letters{practice="A81001",state="dispatched"}')).to.equal(undefined);
    expect(series(text, 'courier_oldest_open_letter_age_seconds{practice="A81001"}')).to.equal(0);
    expect(series(text, 'courier_oldest_open_letter_age_seconds{practice="B82005"}')).to.equal(0);
    expect(series(text, 'courier_oldest_open_letter_age_seconds{practice="A81002"}')).to.be.greaterThan(0);
  });
});
