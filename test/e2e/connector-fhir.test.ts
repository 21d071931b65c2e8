import { expect } from 'chai';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { startTestConnector, submitLetters, tracked, waitForStates, type TestConnector } from '../support/connector-harness.js';
import { FhirEndpointStandIn, FILE_IT, itkOutcome } from '../support/fhir-endpoint-stand-in.js';
import { RabbitProbe, TEST_AMQP_URL, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

const ODS = 'A81001';

/**
 * `courier connect` with the FHIR endpoint sink (issue 5), end to end: a real
 * Courier, the real RabbitMQ, the connector, and an HTTP FHIR endpoint
 * stand-in that records every request and can answer 2xx, 4xx, 5xx or hang.
 */
describe('practice connector: FHIR endpoint sink (real RabbitMQ, real HTTP endpoint)', function () {
  this.timeout(120_000);
  let c: TestCourier;
  let endpoint: FhirEndpointStandIn;
  let connector: TestConnector | undefined;

  before(async () => {
    c = await startTestCourier({
      overrides: [{ practices: [{ ods: ODS, name: 'Test practice' }], delivery: { infrastructureAckTimeout: 'PT1M', backoff: { initial: 'PT0.2S', max: 'PT0.5S' } } }],
    });
    endpoint = await FhirEndpointStandIn.start();
  });
  beforeEach(() => {
    endpoint.answer = FILE_IT;
  });
  afterEach(async () => {
    await connector?.stop();
    connector = undefined;
  });
  after(async () => {
    await endpoint.stop();
    await c.stop();
  });

  const connect = async (sink: Record<string, unknown> = {}) => {
    connector = await startTestConnector(c, { practices: [{ ods: ODS, sink: { kind: 'fhir', baseUrl: endpoint.baseUrl, timeout: 'PT0.5S', ...sink } }] });
    return connector;
  };

  it('files every letter once: 2xx with 30001 ends filed in Courier, and each letter reached the endpoint exactly once', async () => {
    await connect();
    const letters = await submitLetters(c, 30, () => syntheticDocumentReferenceLetter({ destination: ODS }));
    await waitForStates(c, letters, 'filed');
    for (const letter of letters) {
      expect(endpoint.filings.get(letter.messageHeaderId), letter.messageHeaderId).to.equal(1);
      expect(endpoint.requestsFor(letter.messageHeaderId)).to.equal(1);
      const view = await tracked(c, letter.trackingId);
      expect(view.acknowledgements.map((a) => a.itkCodes.join())).to.deep.equal(['20013', '30001']);
    }
    for (const letter of letters) expect(endpoint.requests.find((r) => r.id === letter.messageHeaderId)?.path).to.equal('$process-message');
  });

  it('a 500 then a 201: retried with backoff, ends filed, filed once', async () => {
    endpoint.answer = (_id, earlier) => (earlier === 0 ? { status: 500, body: itkOutcome([], 'error') } : { status: 201, body: itkOutcome(['30001']) });
    await connect();
    const letters = await submitLetters(c, 5, () => syntheticDocumentReferenceLetter({ destination: ODS }));
    await waitForStates(c, letters, 'filed');
    for (const letter of letters) {
      expect(endpoint.requestsFor(letter.messageHeaderId)).to.equal(2);
      expect(endpoint.filings.get(letter.messageHeaderId)).to.equal(1);
      expect((await tracked(c, letter.trackingId)).attempts).to.equal(1); // the connector's retry is not a Courier attempt
    }
  });

  it('a 422 saying patient not known (30002) ends rejected in Courier, and is never retried', async () => {
    endpoint.answer = () => ({ status: 422, body: itkOutcome(['30002'], 'error') });
    await connect();
    const [letter] = await submitLetters(c, 1, () => syntheticDocumentReferenceLetter({ destination: ODS }));
    if (letter === undefined) throw new Error('no letter');
    await waitForStates(c, [letter], 'rejected');
    const view = await tracked(c, letter.trackingId);
    expect(view.history.at(-1)?.cause).to.contain('30002');
    expect(endpoint.requestsFor(letter.messageHeaderId)).to.equal(1);
    expect(endpoint.filings.has(letter.messageHeaderId)).to.equal(false);
  });

  it('an endpoint that fails or hangs past the retry limit is reported transient-error; Courier retries and the next attempt is filed', async () => {
    let failing = true;
    endpoint.answer = (_id, earlier) => (failing ? (earlier % 2 === 0 ? { status: 503 } : 'hang') : FILE_IT(_id, earlier));
    await connect();
    const [letter] = await submitLetters(c, 1, () => syntheticDocumentReferenceLetter({ destination: ODS }));
    if (letter === undefined) throw new Error('no letter');
    await waitFor(
      'Courier told transient-error',
      async () => ((await tracked(c, letter.trackingId)).acknowledgements.some((a) => a.code === 'transient-error') ? true : undefined),
      30_000,
    );
    expect(endpoint.requestsFor(letter.messageHeaderId)).to.be.at.least(3); // retry.limit hand-overs, then handed back
    failing = false;
    await waitForStates(c, [letter], 'filed');
    const view = await tracked(c, letter.trackingId);
    expect(view.attempts).to.be.at.least(2);
    expect(view.history.map((h) => h.cause ?? '').some((cause) => cause.includes('transient error from the practice'))).to.equal(true);
    expect(endpoint.filings.get(letter.messageHeaderId)).to.equal(1);
  });

  it('a letter redelivered after it was filed is not handed over again: its acks are sent again', async () => {
    const running = await connect();
    const [letter] = await submitLetters(c, 1, () => syntheticDocumentReferenceLetter({ destination: ODS }));
    if (letter === undefined) throw new Error('no letter');
    await waitForStates(c, [letter], 'filed');
    const acksBefore = (await tracked(c, letter.trackingId)).acknowledgements.length;
    // The same letter again on the practice queue (as after a lost broker ack or a resend).
    const probe = await RabbitProbe.open(TEST_AMQP_URL);
    try {
      const body = Buffer.from(JSON.stringify({ resourceType: 'Bundle' }));
      await probe.withChannel(async (channel) => {
        channel.sendToQueue(`${c.prefix}.gp.${ODS}`, body, { messageId: letter.messageHeaderId, headers: { 'x-courier-sequence': 1 }, persistent: true });
        return Promise.resolve();
      });
    } finally {
      await probe.close();
    }
    await waitFor('acks re-sent', async () => ((await tracked(c, letter.trackingId)).acknowledgements.length >= acksBefore + 2 ? true : undefined), 20_000);
    expect(endpoint.requestsFor(letter.messageHeaderId)).to.equal(1);
    expect(endpoint.filings.get(letter.messageHeaderId)).to.equal(1);
    const metrics = await running.connector.metrics.registry.getSingleMetricAsString('courier_connector_redeliveries_total');
    expect(metrics).to.contain(`practice="${ODS}"} 1`);
  });

  it('document-reference mode: a conditional create of the DocumentReference; 201 without ITK codes ends delivered', async () => {
    endpoint.answer = () => ({ status: 201, body: { resourceType: 'DocumentReference', id: 'x' } });
    await connect({ mode: 'document-reference' });
    const letters = await submitLetters(c, 3, () => syntheticDocumentReferenceLetter({ destination: ODS }));
    await waitForStates(c, letters, 'delivered');
    for (const letter of letters) expect(endpoint.requests.filter((r) => r.id === letter.messageHeaderId).map((r) => r.path)).to.deep.equal(['DocumentReference']);
    for (const letter of letters) expect(endpoint.filings.get(letter.messageHeaderId)).to.equal(1);
  });
});
