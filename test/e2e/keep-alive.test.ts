import { expect } from 'chai';
import { Agent, request } from 'node:http';
import { deleteBrokerEntities, startTestCourier, type TestCourier } from '../support/courier-harness.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Senders keep connections open between letters. Node's default keep-alive
 * timeout (5 s) closed an idle one just as a sender reused it: the
 * benchmark's open loop saw up to 31 ECONNRESETs in 30,000 requests. Courier
 * keeps idle connections for 65 s, longer than the usual client and load
 * balancer idle timeouts (60 s), so the client is the one that closes.
 */
describe('HTTP keep-alive', function () {
  this.timeout(30_000);
  let courier: TestCourier;
  before(async () => {
    courier = await startTestCourier();
  });
  after(async () => {
    await courier.stop();
    await deleteBrokerEntities(courier.prefix);
  });

  it('keeps an idle connection open past Node\'s 5 s default, so the next request reuses it', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = request(new URL('/fhir/metadata', courier.baseUrl), { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await get()).to.deep.equal({ status: 200, reused: false });
      await sleep(6_000);
      expect(await get(), 'the same connection, still open after 6 s idle').to.deep.equal({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  });
});
