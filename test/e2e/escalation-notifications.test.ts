import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkAck } from '../../src/domain/ack-rules.js';
import type { Bundle } from '../../src/domain/letter-rules.js';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { RabbitProbe, waitFor } from '../support/rabbit.js';
import { ackMessage, syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

interface Received {
  readonly path: string;
  readonly contentType: string;
  readonly body: unknown;
}

interface Tracked {
  state: string;
  notifications: { kind: string; attempts: number; deliveredAt: string | null; lastError: string | null }[];
}

/** A receiver for webhooks and sender responses that fails the first `failFirst` calls to each path with 503. */
async function receiver(failFirst: number): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const calls = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const n = (calls.get(path) ?? 0) + 1;
      calls.set(path, n);
      if (n <= failFirst) {
        res.writeHead(503).end();
        return;
      }
      received.push({ path, contentType: req.headers['content-type'] ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

/**
 * DESIGN §5 escalation: the webhook, and FHIR responses to senders whose
 * `source.endpoint` is an http(s) URL, for escalations and rejections; both
 * retried with backoff until the receiver takes them, failures visible.
 */
describe('escalation webhook and responses to senders (real RabbitMQ, local HTTP receiver)', function () {
  this.timeout(60_000);
  let c: TestCourier;
  let probe: RabbitProbe;
  let http: Awaited<ReturnType<typeof receiver>>;

  before(async () => {
    http = await receiver(2);
    probe = await RabbitProbe.open();
    c = await startTestCourier({
      overrides: [
        {
          escalation: { webhookUrl: `${http.url}/hook` },
          notifications: { backoff: { initial: 'PT0.1S', max: 'PT0.2S' } },
          practices: [{ ods: 'A81001', name: 'Gone' }, { ods: 'A81002', name: 'Answers' }],
        },
      ],
    });
    await probe.channel.unbindQueue(`${c.prefix}.gp.A81001`, `${c.prefix}.outbound`, 'A81001'); // A81001's letters are unroutable
    await probe.collect(`${c.prefix}.gp.A81002`);
  });
  after(async () => {
    await c.stop();
    await probe.close();
    await new Promise((resolve) => http.server.close(resolve));
  });

  const tracked = async (location: string): Promise<Tracked> => (await (await fetch(`${c.baseUrl}${location}`)).json()) as Tracked;

  it('escalation: webhook and a FHIR response to the sender, retried past failures, visible in the tracking view', async () => {
    const letter = syntheticDocumentReferenceLetter({ destination: 'A81001' });
    letter.entry[0].resource.source.endpoint = `${http.url}/trust/fhir`;
    const res = await postMessage(c.baseUrl, letter);
    expect(res.status).to.equal(202);
    const location = res.location ?? '';
    const trackingId = location.split('/').at(-1);
    const done = await waitFor('both notifications delivered', async () => {
      const t = await tracked(location);
      return t.notifications.length === 2 && t.notifications.every((n) => n.deliveredAt !== null) ? t : undefined;
    });
    expect(done.state).to.equal('escalated');
    expect(done.notifications.map((n) => [n.kind, n.attempts, n.lastError])).to.deep.equal([
      ['escalation-webhook', 2, 'HTTP 503'],
      ['sender-response', 2, 'HTTP 503'],
    ]);

    const hook = http.received.find((r) => r.path === '/hook');
    expect(hook?.contentType).to.equal('application/json');
    expect(hook?.body).to.deep.include({ type: 'letter-escalated', trackingId, destination: 'A81001', event: 'ITK003D', location });
    const response = http.received.find((r) => r.path === '/trust/fhir');
    expect(response?.contentType).to.equal('application/fhir+json');
    const ack = checkAck(response?.body as Bundle);
    expect(ack.ok && ack.ack.respondsTo).to.equal(letter.entry[0].resource.id);
    expect(ack.ok && ack.ack.code).to.equal('fatal-error');
    expect(JSON.stringify(response?.body)).to.contain('escalated to a person');

    const metrics = await (await fetch(`${c.baseUrl}/metrics`)).text();
    expect(metrics).to.contain('courier_notifications_sent_total{kind="escalation-webhook",outcome="failed"} 2');
    expect(metrics).to.contain('courier_notifications_pending{kind="escalation-webhook"} 0');
  });

  it('rejection: the sender is told, the webhook is not (nothing for a person to do)', async () => {
    const letter = syntheticDocumentReferenceLetter({ destination: 'A81002' });
    letter.entry[0].resource.source.endpoint = `${http.url}/trust2/fhir`;
    const res = await postMessage(c.baseUrl, letter);
    const location = res.location ?? '';
    await waitFor('dispatched', async () => ((await tracked(location)).state === 'dispatched' ? true : undefined));
    const reject = ackMessage({ respondsTo: letter.entry[0].resource.id, code: 'fatal-error', itkCodes: ['30002'], senderOds: 'A81002' });
    expect((await postMessage(c.baseUrl, reject)).status).to.equal(200);
    const done = await waitFor('the response delivered', async () => {
      const t = await tracked(location);
      return t.notifications[0]?.deliveredAt ? t : undefined;
    });
    expect(done.state).to.equal('rejected');
    expect(done.notifications.map((n) => n.kind)).to.deep.equal(['sender-response']);
    const response = http.received.find((r) => r.path === '/trust2/fhir');
    expect(JSON.stringify(response?.body)).to.contain('Rejected by the receiving practice');
    expect(JSON.stringify(response?.body)).to.contain('30002');
  });

  it('sends nothing to a sender whose endpoint is not an http(s) URL', async () => {
    const res = await postMessage(c.baseUrl, syntheticDocumentReferenceLetter({ destination: 'A81001' }));
    const location = res.location ?? '';
    const done = await waitFor('escalated with its webhook delivered', async () => {
      const t = await tracked(location);
      return t.state === 'escalated' && t.notifications.every((n) => n.deliveredAt !== null) && t.notifications.length > 0 ? t : undefined;
    });
    expect(done.notifications.map((n) => n.kind)).to.deep.equal(['escalation-webhook']);
  });
});
