import { expect } from 'chai';
import { everyLetter, postMessage, startTestCourier, stateCounts, type TestCourier } from '../support/courier-harness.js';
import { PracticeSimulator } from '../support/practice-simulator.js';
import { captureLogger, TEST_AMQP_URL, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

const PRACTICES = ['A81001', 'A81002', 'B82005'];

/**
 * Many letters to several practices, a practice system acking each one over
 * `courier.inbound`: every letter ends `filed`, and each practice saw its
 * sequence numbers 1..n with no gap.
 */
describe('letters to several practices all end filed (real RabbitMQ, simulated practices)', function () {
  this.timeout(120_000);
  let c: TestCourier;
  let practice: PracticeSimulator;

  before(async () => {
    c = await startTestCourier({ overrides: [{ practices: PRACTICES.map((ods) => ({ ods, name: ods })) }] });
    practice = await PracticeSimulator.start({ url: TEST_AMQP_URL, prefix: c.prefix, practices: PRACTICES, logger: captureLogger().logger });
  });
  after(async () => {
    await practice.stop();
    await c.stop();
  });

  it('files 300 letters with per-practice sequences 1..n', async () => {
    const total = 300;
    // Eight senders at once: under load an ack is likelier to overtake its letter's publish confirm (see below).
    let next = 0;
    const sender = async () => {
      for (let i = next++; i < total; i = next++) {
        const res = await postMessage(c.baseUrl, syntheticDocumentReferenceLetter({ destination: PRACTICES[i % PRACTICES.length] ?? 'A81001' }));
        expect(res.status, res.text).to.equal(202);
      }
    };
    await Promise.all(Array.from({ length: 8 }, sender));
    const counts = await waitFor(
      'every letter filed',
      async () => {
        const now = await stateCounts(c.courier.store);
        return now.get('filed') === total ? now : undefined;
      },
      60_000,
    );
    expect([...counts.keys()]).to.deep.equal(['filed']);
    // The simulator acks at once, so its 20013 can reach Courier before the broker's confirm of the
    // letter does; such an ack waits for that confirm, and every history keeps `dispatched`.
    const paths = new Map<string, number>();
    for (const item of await everyLetter(c.courier.store)) {
      const path = (await c.courier.store.history(item.trackingId)).map((h) => h.to).join(' → ');
      paths.set(path, (paths.get(path) ?? 0) + 1);
    }
    expect(Object.fromEntries(paths)).to.deep.equal({ 'received → dispatched → delivered → filed': total });
    expect(practice.distinct).to.equal(total);
    for (const ods of PRACTICES) {
      const seen = [...(practice.sequences.get(ods) ?? [])].sort((a, b) => a - b);
      expect(seen, ods).to.deep.equal(Array.from({ length: total / PRACTICES.length }, (_, i) => i + 1));
    }
  });
});
