import { expect } from 'chai';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { startTestConnector, submitLetters, tracked, type Sent, type TestConnector } from '../support/connector-harness.js';
import { FhirEndpointStandIn } from '../support/fhir-endpoint-stand-in.js';
import { dropSchema, randomSchema } from '../support/postgres.js';
import { OwnRabbitNode, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';
import { checkLedger } from './support/ledger.js';
import { PgGate } from './support/pg-gate.js';
import { reportFigures } from './support/report.js';
import { createSchemaUrl } from './support/schema-url.js';

const ODS = 'A81001';
const LETTERS = 120;
const OUTAGE_MS = 5_000;

/**
 * The connector's own database (its inbox, on PostgreSQL) goes away for
 * seconds while letters stream through it. Letters it holds must wait, not be
 * handed back: every requeue spends one of the queue's delivery limit (here
 * 3), so handing them back through an outage would dead-letter them and
 * Courier would escalate letters nothing was wrong with. After the outage
 * every letter is filed, once, and none escalated.
 */
describe('faults: the connector inbox database goes away for a while', function () {
  this.timeout(180_000);
  let node: OwnRabbitNode | undefined;
  let c: TestCourier | undefined;
  let endpoint: FhirEndpointStandIn | undefined;
  let connector: TestConnector | undefined;
  let gate: PgGate | undefined;
  const schema = randomSchema();

  before(async function () {
    this.timeout(120_000);
    node = await OwnRabbitNode.start(`courierinbox${process.pid}`, 5720);
    c = await startTestCourier({
      amqpUrl: node.url,
      overrides: [{ practices: [{ ods: ODS, name: 'Test practice' }], amqp: { deliveryLimit: 3 }, delivery: { infrastructureAckTimeout: 'PT5M' } }],
    });
    endpoint = await FhirEndpointStandIn.start();
    endpoint.delayMs = 20;
    gate = await PgGate.open();
  });
  after(async function () {
    this.timeout(120_000);
    await connector?.stop();
    await gate?.close();
    await endpoint?.stop();
    await c?.stop();
    await node?.stop();
    await dropSchema(schema);
  });

  it(`${LETTERS} letters, the inbox database cut for ${OUTAGE_MS / 1000} s mid-stream: all filed once, none escalated`, async () => {
    const courier = c!;
    const stand = endpoint!;
    const databaseUrl = gate!.url(await createSchemaUrl(schema));
    connector = await startTestConnector(courier, {
      amqpUrl: node!.url,
      databaseUrl,
      prefetch: 8,
      practices: [{ ods: ODS, sink: { kind: 'fhir', baseUrl: stand.baseUrl } }],
    });
    const started = Date.now();
    const letters: Sent[] = await submitLetters(courier, LETTERS, () => syntheticDocumentReferenceLetter({ destination: ODS }));
    await waitFor('some letters filed', () => (stand.filed >= 20 ? true : undefined), 60_000);
    const filedAtCut = stand.filed;
    await gate!.cut();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    const filedDuringOutage = stand.filed - filedAtCut; // hand-overs already past the inbox write may finish
    await gate!.restore();

    const states = new Map<string, string>();
    await waitFor(
      'every letter settled',
      async () => {
        for (const letter of letters) {
          if (states.get(letter.messageHeaderId) === 'filed') continue;
          const state = (await tracked(courier, letter.trackingId)).state;
          states.set(letter.messageHeaderId, state);
          if (state !== 'filed' && state !== 'escalated') return undefined;
        }
        return true;
      },
      120_000,
    );
    const settleMs = Date.now() - started;
    const verdict = checkLedger({ accepted: new Set(letters.map((l) => l.messageHeaderId)), filed: stand.filings, states });
    reportFigures('connector inbox database cut', verdict.figures, settleMs, { outageSeconds: OUTAGE_MS / 1000, filedAtCut, filedDuringOutage, deliveryLimit: 3 });
    expect(verdict.problems).to.deep.equal([]);
    expect(verdict.figures.escalated, 'no letter dead-lettered by the outage').to.equal(0);
    expect(verdict.figures.filed).to.equal(LETTERS);
    expect(connector.logs.some((line) => line.includes('inbox or broker unavailable; holding the letter'))).to.equal(true);
  });
});
