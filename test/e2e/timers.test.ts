import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCourier, type RunningCourier } from '../../src/courier.js';
import { loadConfig } from '../../src/platform/config.js';
import { CONFIG_DIR, deleteBrokerEntities, postMessage, startTestCourier, stateCounts, type TestCourier } from '../support/courier-harness.js';
import { FILE_IT, PracticeSimulator } from '../support/practice-simulator.js';
import { captureLogger, RabbitProbe, randomPrefix, TEST_AMQP_URL, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

interface Tracked {
  state: string;
  attempts: number;
  history: { from: string | null; to: string; cause: string | null }[];
}

const FAST_TIMERS = {
  delivery: { infrastructureAckTimeout: 'PT1S', backoff: { initial: 'PT0.2S', max: 'PT0.4S' }, maxAttempts: 3, sweepInterval: 'PT0.1S' },
};

/**
 * DESIGN §5 timers, with shortened values (as `COURIER_CONFIG` would set
 * them), against the real RabbitMQ: retries with attempts 2..n, escalation
 * after maxAttempts, transient errors retried to filed, and filing deadlines
 * enforced on start-up after downtime.
 */
describe('timers: retries, escalation and deadlines (real RabbitMQ)', function () {
  this.timeout(90_000);

  describe('with a practice that never answers, or answers transient-error first', function () {
    let c: TestCourier;
    let probe: RabbitProbe;
    let practice: PracticeSimulator;
    let hook: Server;
    const webhooks: { type: string; trackingId: string; attempts: number }[] = [];
    before(async () => {
      hook = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          webhooks.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; trackingId: string; attempts: number });
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
      probe = await RabbitProbe.open();
      c = await startTestCourier({
        overrides: [
          FAST_TIMERS,
          {
            escalation: { webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/escalations` },
            practices: [{ ods: 'A81001', name: 'Silent' }, { ods: 'A81002', name: 'Busy' }],
          },
        ],
      });
      practice = await PracticeSimulator.start({
        url: TEST_AMQP_URL,
        prefix: c.prefix,
        practices: ['A81002'],
        logger: captureLogger().logger,
        answer: (delivery) => (delivery.properties.headers?.['x-courier-attempt'] === 1 ? [{ code: 'transient-error', itkCodes: [] }] : FILE_IT),
      });
    });
    after(async () => {
      await practice.stop();
      await c.stop();
      await probe.close();
      await new Promise((resolve) => hook.close(resolve));
    });

    const tracked = async (location: string): Promise<Tracked> => (await (await fetch(`${c.baseUrl}${location}`)).json()) as Tracked;

    it('never acked: published again with attempts 2..n, same id and sequence, then escalated with an event and the webhook', async () => {
      const queue = await probe.collect(`${c.prefix}.gp.A81001`); // takes letters, never acks them in FHIR
      const escalations = await probe.tap(`${c.prefix}.events`, 'escalated.A81001');
      const res = await postMessage(c.baseUrl, syntheticDocumentReferenceLetter({ destination: 'A81001' }));
      const location = res.location ?? '';
      const final = await waitFor(
        'escalated',
        async () => {
          const t = await tracked(location);
          return t.state === 'escalated' ? t : undefined;
        },
        30_000,
      );
      expect(queue.map((m) => m.properties.headers?.['x-courier-attempt'])).to.deep.equal([1, 2, 3]);
      expect(new Set(queue.map((m) => m.properties.messageId)).size).to.equal(1);
      expect(queue.map((m) => m.properties.headers?.['x-courier-sequence'])).to.deep.equal([1, 1, 1]);
      expect(final.attempts).to.equal(3);
      expect(final.history.map((h) => h.to)).to.deep.equal(['received', 'dispatched', 'retrying', 'dispatched', 'retrying', 'dispatched', 'escalated']);
      await waitFor('the escalation event', () => (escalations.length === 1 ? true : undefined));
      const trackingId = location.split('/').at(-1);
      const webhook = await waitFor('the webhook', () => webhooks.find((w) => w.trackingId === trackingId));
      expect(webhook).to.include({ type: 'letter-escalated', attempts: 3 });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(queue, 'nothing more is sent once escalated').to.have.length(3);
    });

    it('transient-error: retried after the backoff, then filed', async () => {
      const res = await postMessage(c.baseUrl, syntheticDocumentReferenceLetter({ destination: 'A81002' }));
      const location = res.location ?? '';
      const final = await waitFor(
        'filed',
        async () => {
          const t = await tracked(location);
          return t.state === 'filed' ? t : undefined;
        },
        30_000,
      );
      expect(final.attempts).to.equal(2);
      expect(final.history.map((h) => h.to)).to.deep.equal(['received', 'dispatched', 'retrying', 'dispatched', 'delivered', 'filed']);
      expect(final.history[2]?.cause).to.match(/transient error/);
    });
  });

  describe('after downtime', function () {
    const prefix = randomPrefix();
    let dataDir: string;
    let running: RunningCourier | undefined;
    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'courier-timers-'));
    });
    after(async () => {
      await running?.stop();
      await rm(dataDir, { recursive: true, force: true });
      await deleteBrokerEntities(prefix, { practices: ['A81001'] });
    });

    /** Starts Courier with its timers from a `COURIER_CONFIG` file, as an operator would shorten them. */
    const start = async (timers: unknown) => {
      const file = join(dataDir, `timers-${Date.now()}.json`);
      await writeFile(file, JSON.stringify({ ...(timers as object), practices: [{ ods: 'A81001', name: 'Closed for the day' }] }));
      return startCourier(
        loadConfig({ configDir: CONFIG_DIR, env: { COURIER_HTTP_PORT: '0', COURIER_AMQP_PREFIX: prefix, COURIER_DATA_DIR: join(dataDir, 'store'), COURIER_CONFIG: file } }),
        captureLogger().logger,
      );
    };

    it('escalates every letter whose filing deadline passed while Courier was stopped, as soon as it starts', async () => {
      // Deadlines of 2 s and an ack timeout far beyond them: only the filing deadline can move these letters.
      const timers = { delivery: { infrastructureAckTimeout: 'PT1H', sweepInterval: 'PT0.2S' }, deadlines: { ITK003D: 'PT2S' } };
      // The first run sweeps only once, at start-up: however slowly the letters go in, none can be escalated before the stop.
      running = await start({ ...timers, delivery: { ...timers.delivery, sweepInterval: 'PT1H' } });
      const total = 50;
      for (let i = 0; i < total; i++) expect((await postMessage(`http://127.0.0.1:${running.port}`, syntheticDocumentReferenceLetter())).status).to.equal(202);
      const before = await stateCounts(running.store);
      await running.stop();
      running = undefined;
      expect(before.get('escalated') ?? 0, 'none escalated before the stop').to.equal(0);
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // the deadlines pass while Courier is down

      const started = Date.now();
      running = await start(timers);
      const store = running.store;
      await waitFor('all escalated', async () => ((await stateCounts(store)).get('escalated') === total ? true : undefined), 20_000);
      expect(Date.now() - started).to.be.below(10_000);
      const one = (await store.list({ limit: 1 }, new Date())).items[0];
      const history = one === undefined ? [] : await store.history(one.trackingId);
      expect(history.at(-1)?.cause).to.match(/filing deadline/);
    });
  });
});
