import { expect } from 'chai';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { RabbitProbe, waitFor } from '../support/rabbit.js';
import { ackMessage, syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

interface Tracked {
  state: string;
  history: { from: string | null; to: string; cause: string | null }[];
  acknowledgements: { practice: string | null; code: string; itkCodes: string[]; outcome: string }[];
}

describe('acknowledgements drive a letter to filed or rejected (real RabbitMQ)', function () {
  let c: TestCourier;
  let probe: RabbitProbe;
  before(async () => {
    probe = await RabbitProbe.open();
    c = await startTestCourier({ overrides: [{ practices: [{ ods: 'A81001', name: 'One' }, { ods: 'A81002', name: 'Two' }] }] });
    await probe.collect(`${c.prefix}.gp.A81001`); // the practice system: takes letters off its queue
  });
  after(async () => {
    await c.stop();
    await probe.close();
  });

  async function tracked(location: string): Promise<Tracked> {
    return (await (await fetch(`${c.baseUrl}${location}`)).json()) as Tracked;
  }
  async function dispatchedLetter(): Promise<{ location: string; headerId: string }> {
    const letter = syntheticDocumentReferenceLetter();
    const res = await postMessage(c.baseUrl, letter);
    expect(res.status).to.equal(202);
    const location = res.location ?? '';
    await waitFor('dispatched', async () => ((await tracked(location)).state === 'dispatched' ? true : undefined));
    return { location, headerId: letter.entry[0].resource.id as string };
  }
  function publishAck(routingKey: string, ack: unknown): void {
    probe.channel.publish(`${c.prefix}.inbound`, routingKey, Buffer.from(JSON.stringify(ack)), { contentType: 'application/fhir+json', persistent: true });
  }
  async function stateBecomes(location: string, state: string): Promise<Tracked> {
    return waitFor(`state ${state}`, async () => {
      const t = await tracked(location);
      return t.state === state ? t : undefined;
    });
  }

  it('20013 → delivered, then 30001 → filed; a repeated ack changes nothing', async () => {
    const { location, headerId } = await dispatchedLetter();
    publishAck('A81001', ackMessage({ respondsTo: headerId, code: 'ok', itkCodes: ['20013'] }));
    await stateBecomes(location, 'delivered');
    publishAck('A81001', ackMessage({ respondsTo: headerId, code: 'ok', itkCodes: ['30001'] }));
    const filed = await stateBecomes(location, 'filed');
    publishAck('A81001', ackMessage({ respondsTo: headerId, code: 'ok', itkCodes: ['30001'] }));
    publishAck('A81001', ackMessage({ respondsTo: headerId, code: 'ok', itkCodes: ['20013'] }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await tracked(location);
    expect(after.state).to.equal('filed');
    expect(after.history).to.deep.equal(filed.history);
    expect(after.history.map((h) => h.to)).to.deep.equal(['received', 'dispatched', 'delivered', 'filed']);
    const recorded = await waitFor('four acks recorded', async () => {
      const acks = (await tracked(location)).acknowledgements;
      return acks.length === 4 ? acks : undefined;
    });
    const summary = recorded.map((a) => `${a.itkCodes.join()} ${a.outcome.split(':')[0] ?? ''}`);
    expect(summary.slice(0, 2)).to.deep.equal(['20013 applied', '30001 applied']);
    // The two repeats were published together and may be handled in either order.
    expect(summary.slice(2).sort()).to.deep.equal(['20013 recorded without effect', '30001 recorded without effect']);
  });

  it('fatal-error with 30002 → rejected', async () => {
    const { location, headerId } = await dispatchedLetter();
    publishAck('A81001', ackMessage({ respondsTo: headerId, code: 'fatal-error', itkCodes: ['30002'] }));
    await stateBecomes(location, 'rejected');
  });

  it('refuses an ack from the wrong practice, leaving the state unchanged', async () => {
    const { location, headerId } = await dispatchedLetter();
    publishAck('A81002', ackMessage({ respondsTo: headerId, code: 'ok', itkCodes: ['30001'], senderOds: 'A81002' }));
    const marker = ackMessage({ respondsTo: headerId, code: 'ok', itkCodes: ['20013'] });
    publishAck('A81001', marker); // processed after the wrong one: when it lands, the wrong one was handled
    const t = await stateBecomes(location, 'delivered');
    expect(t.history.map((h) => h.to)).to.deep.equal(['received', 'dispatched', 'delivered']);
    expect(t.acknowledgements.map((a) => [a.practice, a.outcome])).to.deep.equal([
      ['A81002', 'refused: the acknowledging practice is not the letter destination'],
      ['A81001', 'applied: delivered'],
    ]);
  });

  it('takes acks over HTTP $process-message too, answering 200 with what it did', async () => {
    const { location, headerId } = await dispatchedLetter();
    const res = await postMessage(c.baseUrl, ackMessage({ respondsTo: headerId, code: 'ok' }));
    expect(res.status, res.text).to.equal(200);
    expect(res.text).to.include('applied: filed');
    await stateBecomes(location, 'filed');
    const unknown = await postMessage(c.baseUrl, ackMessage({ respondsTo: 'no-such-letter', code: 'ok' }));
    expect(unknown.status).to.equal(200);
    expect(unknown.text).to.include('recorded without effect');
    const wrong = await postMessage(c.baseUrl, ackMessage({ respondsTo: headerId, code: 'fatal-error', senderOds: 'A81002' }));
    expect(wrong.text).to.include('refused');
    expect((await tracked(location)).state).to.equal('filed');
  });
});
