import { expect } from 'chai';
import type { ConsumeMessage } from 'amqplib';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { RabbitProbe, waitFor } from '../support/rabbit.js';
import { ackMessage, syntheticDocumentReferenceLetter } from '../fixtures/letters.js';
import { SENTINEL_NHS_NUMBER } from '../fixtures/nhs-numbers.js';

interface Tracked {
  trackingId: string;
  messageHeaderId: string;
  state: string;
  attempts: number;
  sequence: number;
  history: { at: string; from: string | null; to: string; cause: string | null }[];
}
interface Outcome {
  resourceType: string;
  issue: { severity: string; code: string; diagnostics: string; expression?: string[] }[];
}
interface StatusEvent {
  trackingId: string;
  state: string;
  previousState: string | null;
  reason: string | null;
}

const PRACTICE = 'A81001';
const OTHER = 'A81002';

/**
 * Issue 5: a practice connector that never saw a sequence number asks for
 * that letter again (`POST /api/practices/{ods}/resend`), against a whole
 * Courier (real RabbitMQ, embedded store). The ack timeout is an hour and the
 * filing deadline a day, so no timer moves a letter while a test runs: every
 * publish seen here is the first attempt or the one the request caused.
 */
describe('resend requests from practice connectors (real RabbitMQ)', function () {
  this.timeout(60_000);
  let c: TestCourier;
  let probe: RabbitProbe;
  let delivered: ConsumeMessage[];
  let events: ConsumeMessage[];

  before(async () => {
    probe = await RabbitProbe.open();
    c = await startTestCourier({
      overrides: [
        {
          delivery: { infrastructureAckTimeout: 'PT1H', backoff: { initial: 'PT1H', max: 'PT1H' } },
          practices: [
            { ods: PRACTICE, name: 'Practice whose connector asks' },
            { ods: OTHER, name: 'Another practice' },
          ],
        },
      ],
    });
    events = await probe.tap(`${c.prefix}.events`, '#');
    // The practice's queue is drained (acked to the broker) but no ITK ack is ever sent: the letters stay dispatched.
    delivered = await probe.collect(`${c.prefix}.gp.${PRACTICE}`);
  });
  after(async () => {
    await c?.stop();
    await probe?.close();
  });

  async function tracked(trackingId: string): Promise<Tracked> {
    return (await (await fetch(`${c.baseUrl}/api/messages/${trackingId}`)).json()) as Tracked;
  }
  async function stateBecomes(trackingId: string, state: string): Promise<Tracked> {
    return waitFor(`state ${state}`, async () => {
      const t = await tracked(trackingId);
      return t.state === state ? t : undefined;
    });
  }
  /** Accepts a letter for the practice and waits until attempt 1 is on its queue; returns the letter and that delivery. */
  async function dispatchedLetter(): Promise<{ letter: Tracked; first: ConsumeMessage }> {
    const res = await postMessage(c.baseUrl, syntheticDocumentReferenceLetter({ destination: PRACTICE }));
    expect(res.status, res.text).to.equal(202);
    const trackingId = (res.location ?? '').split('/').at(-1) ?? '';
    const letter = await stateBecomes(trackingId, 'dispatched');
    const first = await waitFor('attempt 1 on the practice queue', () => deliveriesOf(trackingId)[0]);
    return { letter, first };
  }
  function deliveriesOf(trackingId: string): ConsumeMessage[] {
    return delivered.filter((m) => m.properties.headers?.['x-courier-tracking-id'] === trackingId);
  }
  async function ask(ods: string, body: unknown, contentType = 'application/json'): Promise<{ status: number; json: unknown; contentType: string | null }> {
    const res = await fetch(`${c.baseUrl}/api/practices/${ods}/resend`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json(), contentType: res.headers.get('content-type') };
  }
  async function resendMetric(result: 'resent' | 'not-resent'): Promise<number | undefined> {
    const text = await (await fetch(`${c.baseUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`courier_resend_requests_total{practice="${PRACTICE}",result="${result}"}`));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  }
  /** Nothing more arrives for the letter while the relay has had ample time to publish anything queued. */
  async function nothingMorePublished(trackingId: string, count: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(deliveriesOf(trackingId), 'deliveries on the practice queue').to.have.length(count);
  }

  it('publishes a dispatched letter nobody acknowledged again: same ids, sequence and bytes, attempt 2, the request in its history', async () => {
    const { letter, first } = await dispatchedLetter();
    expect(first.properties.headers?.['x-courier-attempt']).to.equal(1);
    const reason = `sequence ${letter.sequence} missing for 10 minutes`;

    const res = await ask(PRACTICE, { sequence: letter.sequence, reason, actor: 'connector-a81001' });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(res.contentType).to.match(/^application\/json/);
    const cause = `resend requested by the practice (connector-a81001): ${reason}`;
    expect(res.json).to.deep.equal({
      trackingId: letter.trackingId,
      messageHeaderId: letter.messageHeaderId,
      sequence: letter.sequence,
      state: 'retrying',
      resent: true,
      detail: cause,
    });

    const second = await waitFor('attempt 2 on the practice queue', () => deliveriesOf(letter.trackingId)[1]);
    expect(second.properties.headers?.['x-courier-attempt']).to.equal(2);
    expect(second.properties.headers?.['x-courier-sequence']).to.equal(letter.sequence);
    expect(second.properties.headers?.['x-courier-sequence']).to.equal(first.properties.headers?.['x-courier-sequence']);
    expect(second.properties.messageId).to.equal(letter.messageHeaderId);
    expect(second.properties.messageId).to.equal(first.properties.messageId);
    expect(second.properties.type).to.equal(first.properties.type);
    expect(second.content.equals(first.content), 'byte-equal body').to.equal(true);

    const after = await stateBecomes(letter.trackingId, 'dispatched');
    expect(after.attempts).to.equal(2);
    expect(after.history.map((h) => [h.from, h.to])).to.deep.equal([
      [null, 'received'],
      ['received', 'dispatched'],
      ['dispatched', 'retrying'],
      ['retrying', 'dispatched'],
    ]);
    expect(after.history[2]!.cause).to.equal(cause);
    const event = await waitFor('retrying status event', () =>
      events
        .map((m) => ({ key: m.fields.routingKey, body: JSON.parse(m.content.toString()) as StatusEvent }))
        .find((e) => e.body.trackingId === letter.trackingId && e.body.state === 'retrying'),
    );
    expect(event.key).to.equal(`retrying.${PRACTICE}`);
    expect(event.body).to.include({ previousState: 'dispatched', reason: cause });
    expect(await resendMetric('resent')).to.equal(1);
    await nothingMorePublished(letter.trackingId, 2);
  });

  it('answers a filed letter with its state and resent false, publishing nothing', async () => {
    const { letter } = await dispatchedLetter();
    const ack = await postMessage(c.baseUrl, ackMessage({ respondsTo: letter.messageHeaderId, code: 'ok', senderOds: PRACTICE }));
    expect(ack.status, ack.text).to.equal(200);
    const filed = await stateBecomes(letter.trackingId, 'filed');
    const notResentBefore = (await resendMetric('not-resent')) ?? Number.NaN;

    const res = await ask(PRACTICE, { sequence: letter.sequence, reason: `Patient ${SENTINEL_NHS_NUMBER} letter missing`, actor: 'connector-a81001' });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(res.json).to.deep.equal({
      trackingId: letter.trackingId,
      messageHeaderId: letter.messageHeaderId,
      sequence: letter.sequence,
      state: 'filed',
      resent: false,
      detail: 'resend-requested ignored: filed is final',
    });
    expect(await tracked(letter.trackingId)).to.deep.equal(filed);
    expect(await resendMetric('not-resent')).to.equal(notResentBefore + 1);
    await nothingMorePublished(letter.trackingId, 1);
    const logs = c.logs.join('');
    expect(logs).to.include('resend request: letter not published again');
    expect(logs, 'the request reason is never logged').not.to.include(SENTINEL_NHS_NUMBER);
  });

  it('answers 404 with an OperationOutcome for a sequence number the practice has no letter for, or a practice not in the directory', async () => {
    const { letter } = await dispatchedLetter();
    const request = { reason: 'sequence missing', actor: 'connector-a81001' };
    const unknown = await ask(PRACTICE, { ...request, sequence: letter.sequence + 1000 });
    expect(unknown.status).to.equal(404);
    expect(unknown.contentType).to.match(/^application\/fhir\+json/);
    expect(unknown.json).to.deep.equal({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'not-found', diagnostics: `Letter with sequence ${letter.sequence + 1000} for practice ${PRACTICE} not found` }],
    });
    // The number exists for PRACTICE, not for OTHER: each practice has its own sequence.
    expect((await ask(OTHER, { ...request, sequence: letter.sequence })).status).to.equal(404);
    const practice = await ask('Z99999', { ...request, sequence: 1 });
    expect(practice.status).to.equal(404);
    expect((practice.json as Outcome).issue[0]!.diagnostics).to.equal('Practice not found');
    expect(await tracked(letter.trackingId)).to.deep.include({ state: 'dispatched', attempts: 1 });
    await nothingMorePublished(letter.trackingId, 1);
  });

  it('answers 400 listing every problem with the body, and 415 for another content type, changing nothing', async () => {
    const { letter } = await dispatchedLetter();
    const before = await tracked(letter.trackingId);

    const empty = await ask(PRACTICE, {});
    expect(empty.status).to.equal(400);
    expect(empty.contentType).to.match(/^application\/fhir\+json/);
    expect((empty.json as Outcome).issue.map((i) => [i.code, i.expression])).to.deep.equal([
      ['required', ['sequence']],
      ['required', ['reason']],
      ['required', ['actor']],
    ]);

    const sentinel = `Patient ${SENTINEL_NHS_NUMBER}`;
    const bad = await ask(PRACTICE, { sequence: `${letter.sequence}`, reason: `${sentinel}\nsecond line`, actor: 'x'.repeat(201), [sentinel]: 1 });
    expect(bad.status).to.equal(400);
    expect((bad.json as Outcome).issue.map((i) => [i.code, i.expression?.join() ?? '-'])).to.deep.equal([
      ['structure', 'sequence'],
      ['value', 'reason'],
      ['too-long', 'actor'],
      ['structure', '-'],
    ]);
    expect(JSON.stringify(bad.json), 'no input echoed').not.to.include(SENTINEL_NHS_NUMBER);

    for (const sequence of [0, -3, 1.5]) {
      const res = await ask(PRACTICE, { sequence, reason: 'missing', actor: 'connector-a81001' });
      expect(res.status, String(sequence)).to.equal(400);
      expect((res.json as Outcome).issue).to.deep.equal([{ severity: 'error', code: 'value', diagnostics: 'sequence must be a whole number, 1 or more', expression: ['sequence'] }]);
    }
    const notJson = await ask(PRACTICE, '{"sequence": 1, "reason": ');
    expect(notJson.status).to.equal(400);
    const duplicateKeys = await ask(PRACTICE, `{"sequence": 1000000, "sequence": ${letter.sequence}, "reason": "x", "actor": "y"}`);
    expect(duplicateKeys.status).to.equal(400);
    const wrongType = await ask(PRACTICE, `sequence=${letter.sequence}&reason=x&actor=y`, 'application/x-www-form-urlencoded');
    expect(wrongType.status).to.equal(415);

    expect(await tracked(letter.trackingId)).to.deep.equal(before);
    await nothingMorePublished(letter.trackingId, 1);
  });
});
