import { expect } from 'chai';
import type { ConsumeMessage, Message } from 'amqplib';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { startTestConnector, submitLetters, tracked, waitForStates, type TestConnector } from '../support/connector-harness.js';
import { FhirEndpointStandIn } from '../support/fhir-endpoint-stand-in.js';
import { RabbitProbe, TEST_AMQP_URL, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

const ODS = 'A81001';

/**
 * Gap detection (issue 5, item 3): a letter lost between Courier and the
 * connector (here taken off the practice queue by hand) leaves a hole in
 * `x-courier-sequence`. Once the grace period is over the connector reports
 * it — an event `sequence-gap.<ODS>` on `<prefix>.events`, a log line, the
 * gauge — and asks Courier to resend through the API; the letter then comes
 * again and is filed, and the gap closes.
 */
describe('practice connector: sequence gaps are reported and resent (real RabbitMQ)', function () {
  this.timeout(120_000);
  let c: TestCourier;
  let endpoint: FhirEndpointStandIn;
  let connector: TestConnector | undefined;
  let probe: RabbitProbe;
  let firstDir: string | undefined;

  before(async () => {
    c = await startTestCourier({ overrides: [{ practices: [{ ods: ODS, name: 'Test practice' }], delivery: { infrastructureAckTimeout: 'PT5M' } }] });
    endpoint = await FhirEndpointStandIn.start();
    probe = await RabbitProbe.open(TEST_AMQP_URL);
  });
  after(async () => {
    await connector?.stop();
    if (firstDir !== undefined) await rm(firstDir, { recursive: true, force: true });
    await probe.close();
    await endpoint.stop();
    await c.stop();
  });

  it('a lost letter is noticed after the grace period, reported, resent by Courier and filed', async () => {
    const gapEvents = await probe.tap(`${c.prefix}.events`, `sequence-gap.${ODS}`);
    const connect = () =>
      startTestConnector(c, { gaps: { grace: 'PT1S', checkInterval: 'PT0.2S' }, practices: [{ ods: ODS, sink: { kind: 'fhir', baseUrl: endpoint.baseUrl } }] });
    const first = await connect();
    firstDir = dirname(first.config.dataDir);
    // Letter 1 with the connector running (its sequence state is saved), then letters 2 and 3 while it is stopped.
    const letters = await submitLetters(c, 1, () => syntheticDocumentReferenceLetter({ destination: ODS }));
    await waitForStates(c, letters, 'filed');
    await first.connector.stop();
    letters.push(...(await submitLetters(c, 2, () => syntheticDocumentReferenceLetter({ destination: ODS }))));
    await waitForStates(c, letters.slice(1), 'dispatched');
    const lost = letters[1];
    if (lost === undefined) throw new Error('no letter');
    await loseFromQueue(probe, `${c.prefix}.gp.${ODS}`, 2);

    // Restarted on the same inbox: it sees 3 after 1, waits out the grace period, reports 2 and asks for it.
    connector = await startTestConnector(c, {
      dataDir: first.config.dataDir,
      gaps: { grace: 'PT1S', checkInterval: 'PT0.2S' },
      practices: [{ ods: ODS, sink: { kind: 'fhir', baseUrl: endpoint.baseUrl } }],
    });
    await waitForStates(c, letters, 'filed');

    expect(gapEvents).to.have.length(1);
    const event = JSON.parse((gapEvents[0] as ConsumeMessage).content.toString('utf8')) as Record<string, unknown>;
    expect(event).to.include({ practice: ODS, sequence: 2 });
    expect(Object.keys(event).sort()).to.deep.equal(['at', 'noticedAt', 'practice', 'sequence']); // ids and numbers only
    const history = (await tracked(c, lost.trackingId)).history.map((h) => h.cause ?? '');
    expect(history.some((cause) => cause.startsWith('resend requested by the practice'))).to.equal(true);
    expect((await tracked(c, lost.trackingId)).attempts).to.equal(2);
    expect(endpoint.filings.get(lost.messageHeaderId)).to.equal(1);
    expect(connector.connector.sequences.missing(ODS)).to.deep.equal([]);
    expect(connector.logs.some((line) => line.includes('sequence gap: a letter for this practice has not arrived') && line.includes('"sequence":2'))).to.equal(true);
    await waitFor('gauge back to 0', async () => {
      const text = await connector?.connector.metrics.registry.getSingleMetricAsString('courier_connector_sequence_gaps');
      return text?.includes(`courier_connector_sequence_gaps{practice="${ODS}"} 0`) === true ? true : undefined;
    });
  });
});

/** Takes the letter with `x-courier-sequence` = `sequence` off `queue` for good, putting every other one back. */
async function loseFromQueue(probe: RabbitProbe, queue: string, sequence: number): Promise<void> {
  await probe.withChannel(async (channel) => {
    const held: Message[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: false });
      if (message === false) throw new Error(`sequence ${sequence} not on ${queue}`);
      if (message.properties.headers?.['x-courier-sequence'] === sequence) {
        channel.ack(message);
        break;
      }
      held.push(message);
    }
    for (const message of held) channel.nack(message, false, true);
  });
}
