import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
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
  nextDeadline: string | null;
  history: { at: string; from: string | null; to: string; cause: string | null }[];
  acknowledgements: unknown[];
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

/** A: a healthy practice. B: its system hands attempt 1 back until the broker dead-letters it, and takes later attempts. C: no queue bound. */
const HEALTHY = 'A81001';
const BROKEN = 'A81002';
const UNROUTABLE = 'A81003';

/**
 * DESIGN §6 manual actions against a whole Courier (real RabbitMQ, embedded
 * store): each action goes through the state machine, is recorded with its
 * actor and reason in the history and on `<prefix>.events`, and a retry
 * re-publishes the letter.
 */
describe('manual actions: retry, cancel, resolve (real RabbitMQ)', function () {
  this.timeout(60_000);
  let c: TestCourier;
  let probe: RabbitProbe;
  let events: ConsumeMessage[];
  const retried: ConsumeMessage[] = [];

  before(async () => {
    probe = await RabbitProbe.open();
    c = await startTestCourier({
      overrides: [
        {
          amqp: { deliveryLimit: 2 },
          practices: [
            { ods: HEALTHY, name: 'Healthy practice' },
            { ods: BROKEN, name: 'Practice whose system hands letters back' },
            { ods: UNROUTABLE, name: 'Practice without a bound queue' },
          ],
        },
      ],
    });
    events = await probe.tap(`${c.prefix}.events`, '#');
    await probe.collect(`${c.prefix}.gp.${HEALTHY}`);
    await probe.channel.consume(`${c.prefix}.gp.${BROKEN}`, (message) => {
      if (message === null) return;
      if (message.properties.headers?.['x-courier-attempt'] === 1) {
        probe.channel.nack(message, false, true);
        return;
      }
      retried.push(message);
      probe.channel.ack(message);
    });
    await probe.channel.unbindQueue(`${c.prefix}.gp.${UNROUTABLE}`, `${c.prefix}.outbound`, UNROUTABLE);
  });
  after(async () => {
    await c.stop();
    await probe.close();
  });

  async function tracked(location: string): Promise<Tracked> {
    return (await (await fetch(`${c.baseUrl}${location}`)).json()) as Tracked;
  }
  async function stateBecomes(location: string, state: string): Promise<Tracked> {
    return waitFor(`state ${state}`, async () => {
      const t = await tracked(location);
      return t.state === state ? t : undefined;
    });
  }
  async function letterIn(state: string, destination = HEALTHY): Promise<{ location: string; headerId: string }> {
    const letter = syntheticDocumentReferenceLetter({ destination });
    const res = await postMessage(c.baseUrl, letter);
    expect(res.status, res.text).to.equal(202);
    const location = res.location ?? '';
    await stateBecomes(location, state);
    return { location, headerId: letter.entry[0].resource.id as string };
  }
  async function act(
    path: string,
    action: string,
    body: unknown,
    contentType = 'application/json',
  ): Promise<{ status: number; json: unknown; contentType: string | null }> {
    const res = await fetch(`${c.baseUrl}${path}/${action}`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json(), contentType: res.headers.get('content-type') };
  }
  function statusEvent(trackingId: string, state: string): Promise<{ key: string; body: StatusEvent }> {
    return waitFor(`${state} status event`, () =>
      events
        .map((m) => ({ key: m.fields.routingKey, body: JSON.parse(m.content.toString()) as StatusEvent }))
        .find((e) => e.body.trackingId === trackingId && e.body.state === state),
    );
  }
  const idOf = (location: string): string => location.split('/').at(-1) ?? '';

  it('cancels a dispatched letter: 200 with the tracking JSON, actor and reason in history and on the status event, not in logs', async () => {
    const { location } = await letterIn('dispatched');
    const marker = `ticket ${randomUUID()}`;
    const reason = `sent on paper, ${marker}`;
    const res = await act(location, 'cancel', { reason: `  ${reason} `, actor: 'jsmith@trust' });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(res.contentType).to.match(/^application\/json/);
    const body = res.json as Tracked;
    expect(body).to.deep.equal(await tracked(location), 'the same JSON as GET /api/messages/{id}');
    expect(body.state).to.equal('cancelled');
    expect(body.nextDeadline).to.equal(null);
    const cause = `cancelled by a person (jsmith@trust): ${reason}`;
    expect(body.history.map((h) => [h.from, h.to, h.cause])).to.deep.equal([
      [null, 'received', body.history[0]!.cause],
      ['received', 'dispatched', body.history[1]!.cause],
      ['dispatched', 'cancelled', cause],
    ]);
    const event = await statusEvent(idOf(location), 'cancelled');
    expect(event.key).to.equal(`cancelled.${HEALTHY}`);
    expect(event.body).to.include({ previousState: 'dispatched', reason: cause });
    const logs = c.logs.join('');
    expect(logs).to.include('manual action applied').and.include('jsmith@trust');
    expect(logs).not.to.include(marker);
  });

  it('resolves a letter escalated as unroutable', async () => {
    const { location } = await letterIn('escalated', UNROUTABLE);
    const res = await act(location, 'resolve', { reason: 'confirmed by phone', actor: 'ops.lead@trust' });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    const body = res.json as Tracked;
    expect(body.state).to.equal('resolved');
    expect(body.history.map((h) => h.to)).to.deep.equal(['received', 'escalated', 'resolved']);
    expect(body.history.at(-1)?.cause).to.equal('resolved by a person (ops.lead@trust): confirmed by phone');
    const event = await statusEvent(idOf(location), 'resolved');
    expect(event.key).to.equal(`resolved.${UNROUTABLE}`);
    expect(event.body).to.include({ previousState: 'escalated', reason: 'resolved by a person (ops.lead@trust): confirmed by phone' });
  });

  it('retries a dead-lettered, escalated letter: published again as attempt 2 with the same ids and sequence, then dispatched', async () => {
    const { location, headerId } = await letterIn('escalated', BROKEN);
    const before = await tracked(location);
    expect(before.attempts).to.equal(1);
    expect(before.history.at(-1)?.cause).to.match(/delivery limit was reached/);
    expect(retried).to.have.length(0);

    const res = await act(location, 'retry', { reason: 'practice system fixed', actor: 'jsmith@trust' });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(['retrying', 'dispatched']).to.include((res.json as Tracked).state);

    const message = await waitFor('attempt 2 on the practice queue', () => retried[0]);
    expect(message.properties.headers?.['x-courier-attempt']).to.equal(2);
    expect(message.properties.headers?.['x-courier-sequence']).to.equal(before.sequence);
    expect(message.properties.headers?.['x-courier-tracking-id']).to.equal(idOf(location));
    expect(message.properties.messageId).to.equal(headerId);
    const after = await stateBecomes(location, 'dispatched');
    expect(after.attempts).to.equal(2);
    expect(after.history.map((h) => h.to)).to.deep.equal(['received', 'dispatched', 'escalated', 'retrying', 'dispatched']);
    expect(after.history[3]!.cause).to.equal('retry requested by a person (jsmith@trust): practice system fixed');
    expect(after.nextDeadline, 'waiting for the infrastructure ack again').to.be.a('string');
    const event = await statusEvent(idOf(location), 'retrying');
    expect(event.key).to.equal(`retrying.${BROKEN}`);
    expect(event.body.previousState).to.equal('escalated');
  });

  it('answers 409 with an OperationOutcome when the state machine ignores the action, changing nothing', async () => {
    // A filed letter cannot be cancelled.
    const filed = await letterIn('dispatched');
    const ack = await postMessage(c.baseUrl, ackMessage({ respondsTo: filed.headerId, code: 'ok' }));
    expect(ack.status, ack.text).to.equal(200);
    const filedBefore = await stateBecomes(filed.location, 'filed');
    const cancelFiled = await act(filed.location, 'cancel', { reason: 'sent in error', actor: 'jsmith@trust' });
    expect(cancelFiled.status).to.equal(409);
    expect(cancelFiled.contentType).to.match(/^application\/fhir\+json/);
    const outcome = cancelFiled.json as Outcome;
    expect(outcome.resourceType).to.equal('OperationOutcome');
    expect(outcome.issue).to.have.length(1);
    expect(outcome.issue[0]).to.include({ severity: 'error', code: 'business-rule' });
    expect(outcome.issue[0]!.diagnostics).to.equal(`Cannot cancel letter ${idOf(filed.location)}: cancel ignored: filed is final`);
    expect(await tracked(filed.location)).to.deep.equal(filedBefore);

    // A cancelled letter cannot be cancelled again, nor resolved.
    const cancelled = await letterIn('dispatched');
    expect((await act(cancelled.location, 'cancel', { reason: 'sent in error', actor: 'jsmith@trust' })).status).to.equal(200);
    const cancelledBefore = await tracked(cancelled.location);
    const again = await act(cancelled.location, 'cancel', { reason: 'sent in error', actor: 'jsmith@trust' });
    expect(again.status).to.equal(409);
    expect((again.json as Outcome).issue[0]!.diagnostics).to.match(/cancel ignored: cancelled is final$/);
    const resolve = await act(cancelled.location, 'resolve', { reason: 'sent on paper', actor: 'jsmith@trust' });
    expect(resolve.status).to.equal(409);
    expect(await tracked(cancelled.location)).to.deep.equal(cancelledBefore);

    // Only an escalated letter can be retried: not one still waiting for its ack.
    const dispatched = await letterIn('dispatched');
    const dispatchedBefore = await tracked(dispatched.location);
    const retry = await act(dispatched.location, 'retry', { reason: 'impatient', actor: 'jsmith@trust' });
    expect(retry.status).to.equal(409);
    expect((retry.json as Outcome).issue[0]).to.include({
      code: 'business-rule',
      diagnostics: `Cannot retry letter ${idOf(dispatched.location)}: retry ignored: only an escalated letter can be retried, not a dispatched one`,
    });
    expect(await tracked(dispatched.location)).to.deep.equal(dispatchedBefore);
  });

  it('answers 400 listing every problem with the body or the id, and changes nothing', async () => {
    const { location } = await letterIn('dispatched');
    const before = await tracked(location);

    const empty = await act(location, 'cancel', {});
    expect(empty.status).to.equal(400);
    expect(empty.contentType).to.match(/^application\/fhir\+json/);
    const issues = (empty.json as Outcome).issue;
    expect(issues.map((i) => [i.code, i.expression])).to.deep.equal([
      ['required', ['reason']],
      ['required', ['actor']],
    ]);

    const sentinel = `Patient NHS ${SENTINEL_NHS_NUMBER}`;
    const bad = await act(location, 'resolve', { reason: `${sentinel}\n\u0000`, actor: sentinel, [sentinel]: 1 });
    expect(bad.status).to.equal(400);
    expect((bad.json as Outcome).issue.map((i) => i.expression?.join() ?? '-')).to.deep.equal(['reason', 'actor', '-']);
    expect(JSON.stringify(bad.json), 'no input echoed').not.to.include(SENTINEL_NHS_NUMBER);

    const notJson = await act(location, 'retry', '{"reason": "x", "actor": ');
    expect(notJson.status).to.equal(400);
    expect((notJson.json as Outcome).issue[0]!.diagnostics).to.match(/not valid JSON/);

    const malformedId = await act('/api/messages/not-a-tracking-id', 'cancel', { actor: 'jsmith@trust' });
    expect(malformedId.status).to.equal(400);
    expect((malformedId.json as Outcome).issue.map((i) => i.diagnostics)).to.deep.equal([
      'The tracking id in the path must be a UUID',
      'reason is required: why this is done (e.g. sent on paper)',
    ]);

    const wrongType = await act(location, 'cancel', 'reason=x&actor=y', 'application/x-www-form-urlencoded');
    expect(wrongType.status).to.equal(415);

    expect(await tracked(location)).to.deep.equal(before);
  });

  it('answers 404 with an OperationOutcome for an unknown letter', async () => {
    const res = await act(`/api/messages/${randomUUID()}`, 'resolve', { reason: 'sent on paper', actor: 'jsmith@trust' });
    expect(res.status).to.equal(404);
    expect(res.json).to.deep.equal({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: 'Message not found' }] });
  });
});
