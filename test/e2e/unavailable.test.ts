import { expect } from 'chai';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';
import { openPgClient } from '../../src/adapters/store/pg-client.js';
import { StoreUnavailableError } from '../../src/app/errors.js';

describe('503 when Courier cannot keep its promise', function () {
  let c: TestCourier;
  before(async () => {
    c = await startTestCourier();
  });
  after(async () => {
    await c.stop();
  });

  it('refuses custody with 503 while the broker connection is down, storing nothing', async () => {
    const held = syntheticDocumentReferenceLetter();
    const before = await postMessage(c.baseUrl, held);
    expect(before.status).to.equal(202);
    await c.courier.broker.close();
    // A resend of the letter already held is still answered as the duplicate it is (DESIGN §2: 5 before 6) …
    const resend = await postMessage(c.baseUrl, held);
    expect(resend.status, resend.text).to.equal(200);
    expect(resend.location).to.equal(before.location);
    const changed = structuredClone(held);
    changed.entry[0].resource.reason = { text: 'changed' };
    expect((await postMessage(c.baseUrl, changed)).status).to.equal(409);
    // … while a new letter cannot be taken.
    const res = await postMessage(c.baseUrl, syntheticDocumentReferenceLetter());
    expect(res.status).to.equal(503);
    expect((res.json as { issue: { code: string }[] }).issue[0]?.code).to.equal('transient');
    const ready = await fetch(`${c.baseUrl}/readyz`);
    expect(ready.status).to.equal(503);
    expect(await ready.json()).to.include({ broker: 'down', store: 'up' });
    const list = (await (await fetch(`${c.baseUrl}/api/messages`)).json()) as { items: unknown[] };
    expect(list.items).to.have.length(1);
  });

  it('reports an unreachable PostgreSQL as StoreUnavailableError (answered 503)', async () => {
    const error = await openPgClient({ url: 'postgres://postgres@127.0.0.1:1/test', schema: 'unreachable' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(StoreUnavailableError);
  });
});
