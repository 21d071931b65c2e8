import { expect } from 'chai';
import { Agent, request, type ClientRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: { issue?: { code?: string; severity?: string }[] };
  readonly reusedSocket: boolean;
}

/** A POST whose body is sent in two halves: Courier admits it on its headers, and it stays in flight until `finish`. */
function heldPost(baseUrl: string, body: Buffer, headers: Record<string, string | number> = {}): { finish: () => Promise<Answer> } {
  let req: ClientRequest;
  const answered = new Promise<Answer>((resolve, reject) => {
    req = request(`${baseUrl}/fhir/$process-message`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', 'content-length': body.length, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['json'], reusedSocket: req.reusedSocket }));
    });
    req.on('error', reject);
    req.flushHeaders();
    req.write(body.subarray(0, body.length >> 1));
  });
  return {
    finish: () => {
      req.end(body.subarray(body.length >> 1));
      return answered;
    },
  };
}

function post(baseUrl: string, body: Buffer, headers: Record<string, string | number> = {}): Promise<Answer> {
  return heldPost(baseUrl, body, headers).finish();
}

async function metric(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function inFlight(baseUrl: string, requests: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while ((await metric(baseUrl, 'courier_ingest_in_flight_requests')) !== requests) {
    if (Date.now() > deadline) throw new Error(`ingest never had ${requests} requests in flight`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const letterBytes = () => Buffer.from(JSON.stringify(syntheticDocumentReferenceLetter()));

/**
 * Past a bound of messages held at once, ingest answers 503 with
 * `Retry-After` before reading the body, and takes nothing in; once the
 * messages in flight are answered, the same letter is accepted.
 */
describe('ingest under overload', function () {
  this.timeout(30_000);

  describe('a bound on requests in flight', () => {
    let c: TestCourier;
    before(async () => {
      c = await startTestCourier({ fixed: { ingestLimits: { maxRequests: 2, maxBodyBytes: 64 * 1024 * 1024 } } });
    });
    after(() => c.stop());

    it('refuses the request past it with 503, Retry-After and a throttled OperationOutcome, storing nothing; accepts it again once room comes back', async () => {
      const first = heldPost(c.baseUrl, letterBytes());
      const second = heldPost(c.baseUrl, letterBytes());
      await inFlight(c.baseUrl, 2);
      const surplus = letterBytes();
      const refused = await postMessage(c.baseUrl, surplus);
      expect(refused.status, refused.text).to.equal(503);
      expect(refused.location).to.equal(null);
      const outcome = refused.json as { resourceType: string; issue: { severity: string; code: string; diagnostics: string }[] };
      expect(outcome.resourceType).to.equal('OperationOutcome');
      expect(outcome.issue.map((i) => [i.severity, i.code])).to.deep.equal([['error', 'throttled']]);
      expect(await metric(c.baseUrl, 'courier_letters_refused_total{reason="overloaded"}')).to.equal(1);
      const list = (await (await fetch(`${c.baseUrl}/api/messages`)).json()) as { items: unknown[] };
      expect(list.items, 'nothing taken in while both are in flight').to.have.length(0);

      expect((await first.finish()).status).to.equal(202);
      expect((await second.finish()).status).to.equal(202);
      await inFlight(c.baseUrl, 0);
      const resent = await postMessage(c.baseUrl, surplus);
      expect(resent.status, resent.text).to.equal(202);
    });

    it('answers with Retry-After, and leaves the connection usable for the next request', async () => {
      const held = [heldPost(c.baseUrl, letterBytes()), heldPost(c.baseUrl, letterBytes())];
      await inFlight(c.baseUrl, 2);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const send = (body: Buffer) =>
          new Promise<Answer>((resolve, reject) => {
            const req = request(`${c.baseUrl}/fhir/$process-message`, { method: 'POST', agent, headers: { 'content-type': 'application/fhir+json', 'content-length': body.length } }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (chunk: Buffer) => chunks.push(chunk));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['json'], reusedSocket: req.reusedSocket }));
            });
            req.on('error', reject);
            req.end(body);
          });
        const refused = await send(letterBytes());
        expect(refused.status).to.equal(503);
        expect(refused.headers['retry-after']).to.equal('5');
        for (const h of held) expect((await h.finish()).status).to.equal(202);
        await inFlight(c.baseUrl, 0);
        const next = await send(letterBytes());
        expect(next.status).to.equal(202);
        expect(next.reusedSocket, 'the refused request\'s body was drained, not left on the connection').to.equal(true);
      } finally {
        agent.destroy();
      }
    });
  });

  describe('a budget of body bytes in flight', () => {
    let c: TestCourier;
    const heldBody = letterBytes();
    const nextBody = letterBytes();
    before(async () => {
      c = await startTestCourier({ fixed: { ingestLimits: { maxRequests: 100, maxBodyBytes: heldBody.length + nextBody.length } } });
    });
    after(() => c.stop());

    it('counts a declared length, and a gzip body as the most it may decompress to', async () => {
      const held = heldPost(c.baseUrl, heldBody);
      await inFlight(c.baseUrl, 1);
      const gzipped = await post(c.baseUrl, gzipSync(letterBytes()), { 'content-encoding': 'gzip' });
      expect(gzipped.status, 'a gzip body may grow to http.maxBodyBytes: past the budget').to.equal(503);
      const fits = await post(c.baseUrl, nextBody);
      expect(fits.status, 'a plain body that fits beside the held one').to.equal(202);
      expect((await held.finish()).status).to.equal(202);
      await inFlight(c.baseUrl, 0);
      const alone = await post(c.baseUrl, gzipSync(letterBytes()), { 'content-encoding': 'gzip' });
      expect(alone.status, 'alone, any request is admitted').to.equal(202);
    });
  });
});
