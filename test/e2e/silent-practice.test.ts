import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { RabbitProbe, waitFor } from '../support/rabbit.js';
import { ackMessage, syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

interface Reconciliation {
  accepted: number;
  sent: number;
  delivered: number;
  filed: number;
  open: number;
  escalated: number;
  oldestOpenAcceptedAt: string | null;
  silent: { since: string } | null;
}

/**
 * The silent-practice alarm (alerts.silentPractice shortened to 1 s): a
 * practice with letters waiting that sends no ack raises one practice-level
 * escalation (event and webhook), shown in the reconciliation and metrics,
 * and it clears when the practice acks again.
 */
describe('silent practice alarm (real RabbitMQ)', function () {
  this.timeout(60_000);
  let c: TestCourier;
  let probe: RabbitProbe;
  let hook: Server;
  const hooks: { state: string; ods: string }[] = [];

  before(async () => {
    hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        hooks.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { state: string; ods: string });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    probe = await RabbitProbe.open();
    c = await startTestCourier({
      overrides: [
        {
          alerts: { silentPractice: 'PT1S', checkInterval: 'PT0.2S' },
          escalation: { webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` },
          practices: [{ ods: 'A81001', name: 'Gone quiet' }, { ods: 'A81002', name: 'Nothing sent' }],
        },
      ],
    });
    await probe.collect(`${c.prefix}.gp.A81001`); // takes letters, says nothing
  });
  after(async () => {
    await c.stop();
    await probe.close();
    await new Promise((resolve) => hook.close(resolve));
  });

  const reconciliation = async (ods: string): Promise<Reconciliation> =>
    (await (await fetch(`${c.baseUrl}/api/practices/${ods}/reconciliation`)).json()) as Reconciliation;

  it('raises once for a practice that goes quiet with letters waiting, and clears when it acks', async () => {
    const all = await probe.tap(`${c.prefix}.events`, '#'); // topic wildcards match whole words only
    const events = { get list() { return all.filter((e) => e.fields.routingKey.startsWith('practice-')); } };
    const letter = syntheticDocumentReferenceLetter({ destination: 'A81001' });
    expect((await postMessage(c.baseUrl, letter)).status).to.equal(202);
    const silent = await waitFor('the alarm', async () => {
      const r = await reconciliation('A81001');
      return r.silent !== null ? r : undefined;
    });
    expect(silent).to.include({ accepted: 1, sent: 1, delivered: 0, open: 1, escalated: 0 });
    await waitFor('the webhook', () => (hooks.length === 1 ? true : undefined));
    expect(hooks[0]).to.include({ state: 'practice-silent', ods: 'A81001' });
    await new Promise((resolve) => setTimeout(resolve, 800)); // several more checks: still one alarm
    expect(events.list.map((e) => e.fields.routingKey)).to.deep.equal(['practice-silent.A81001']);
    expect(hooks).to.have.length(1);
    const metrics = await (await fetch(`${c.baseUrl}/metrics`)).text();
    expect(metrics).to.contain('courier_practice_silent{practice="A81001"} 1');
    expect(metrics).to.contain('courier_practice_silent{practice="A81002"} 0');
    expect((await reconciliation('A81002')).silent, 'nothing waits there').to.equal(null);

    const ack = ackMessage({ respondsTo: letter.entry[0].resource.id, code: 'ok', itkCodes: ['20013'], senderOds: 'A81001' });
    probe.channel.publish(`${c.prefix}.inbound`, 'A81001', Buffer.from(JSON.stringify(ack)), { contentType: 'application/fhir+json' });
    await waitFor('the alarm cleared', async () => ((await reconciliation('A81001')).silent === null ? true : undefined));
    await waitFor('the cleared event', () => (events.list.length === 2 ? true : undefined));
    expect(events.list.map((e) => e.fields.routingKey)).to.deep.equal(['practice-silent.A81001', 'practice-heard.A81001']);
    const body = JSON.parse(events.list[1]?.content.toString() ?? '{}') as { state: string; ods: string; reason: string };
    expect(body).to.include({ state: 'practice-heard', ods: 'A81001' });
  });

  it('answers 404 for a practice not in the directory', async () => {
    expect((await fetch(`${c.baseUrl}/api/practices/Z99999/reconciliation`)).status).to.equal(404);
  });
});
