import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import {
  officialDischargeLetter,
  officialDocumentReferenceLetter,
  syntheticDocumentReferenceLetter,
  SENTINEL_NHS_NUMBER,
} from '../fixtures/letters.js';

interface Tracking {
  trackingId: string;
  messageHeaderId: string;
  state: string;
  destination: string;
  event: string;
  sequence: number;
  attempts: number;
  nextDeadline: string | null;
  history: { at: string; from: string | null; to: string; cause: string | null }[];
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) };
}

describe('ingest end to end (real HTTP, RabbitMQ, PGlite)', function () {
  let c: TestCourier;
  before(async () => {
    c = await startTestCourier();
  });
  after(async () => {
    await c.stop();
  });

  it('accepts the official HL7 discharge summary and DocumentReference examples wrapped as letters', async () => {
    for (const letter of [officialDischargeLetter(), officialDocumentReferenceLetter()]) {
      const res = await postMessage(c.baseUrl, letter);
      expect(res.status, res.text).to.equal(202);
      expect(res.location).to.match(/^\/api\/messages\/[0-9a-f-]{36}$/);
      const tracked = await getJson(`${c.baseUrl}${res.location}`);
      expect(tracked.status).to.equal(200);
      const t = tracked.body as Tracking;
      expect(t.state).to.be.oneOf(['received', 'dispatched']); // the relay may already have published it
      expect(t.history[0]).to.include({ from: null, to: 'received', cause: 'accepted' });
      expect(t.nextDeadline).to.be.a('string');
    }
  });

  it('assigns gap-free sequence numbers per practice', async () => {
    const seqs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await postMessage(c.baseUrl, syntheticDocumentReferenceLetter({ destination: 'A81004' }));
      expect(res.status, res.text).to.equal(202);
      seqs.push(((await getJson(`${c.baseUrl}${res.location}`)).body as Tracking).sequence);
    }
    expect(seqs).to.deep.equal([1, 2, 3]);
  });

  it('accepts a gzip body and stores the decompressed bytes', async () => {
    const letter = syntheticDocumentReferenceLetter();
    const res = await postMessage(c.baseUrl, gzipSync(Buffer.from(JSON.stringify(letter))), {
      'content-type': 'application/fhir+json',
      'content-encoding': 'gzip',
    });
    expect(res.status, res.text).to.equal(202);
    const id = (res.location ?? '').split('/').pop() ?? '';
    const stored = await c.courier.store.body(id as never);
    expect(Buffer.from(stored ?? []).toString('utf8')).to.equal(JSON.stringify(letter));
  });

  it('takes the same letter once: a resend is 200 with the same Location, different content is 409', async () => {
    const letter = syntheticDocumentReferenceLetter() as { id?: string; timestamp?: string; entry: unknown[] };
    const first = await postMessage(c.baseUrl, letter);
    expect(first.status).to.equal(202);
    const again = await postMessage(c.baseUrl, letter);
    expect(again.status).to.equal(200);
    expect(again.location).to.equal(first.location);
    const resent = await postMessage(c.baseUrl, { ...letter, id: 'resend-1', timestamp: '2026-11-25T10:00:00Z' });
    expect(resent.status, 'FHIR resend with new Bundle.id').to.equal(200);
    expect(resent.location).to.equal(first.location);
    const changed = structuredClone(letter) as { entry: { resource: { resourceType: string; description?: string } }[] };
    const doc = changed.entry.find((e) => e.resource.resourceType === 'DocumentReference');
    if (doc === undefined) throw new Error('fixture has no DocumentReference');
    doc.resource.description = 'a different letter';
    const conflict = await postMessage(c.baseUrl, changed);
    expect(conflict.status).to.equal(409);
    expect((conflict.json as { resourceType: string }).resourceType).to.equal('OperationOutcome');
    const list = await getJson(`${c.baseUrl}/api/messages?limit=500`);
    const ids = (list.body as { items: Tracking[] }).items.filter((m) => `/api/messages/${m.trackingId}` === first.location);
    expect(ids).to.have.length(1);
  });

  it('lists with filters and pages, and 404s an unknown id', async () => {
    const page1 = await getJson(`${c.baseUrl}/api/messages?limit=2`);
    const body1 = page1.body as { items: Tracking[]; nextCursor: string | null };
    expect(body1.items).to.have.length(2);
    expect(body1.nextCursor).to.be.a('string');
    const page2 = await getJson(`${c.baseUrl}/api/messages?limit=2&cursor=${body1.nextCursor ?? ''}`);
    const body2 = page2.body as { items: Tracking[] };
    expect(page2.status, JSON.stringify(page2.body)).to.equal(200);
    expect(body2.items.map((m) => m.trackingId)).not.to.include.members(body1.items.map((m) => m.trackingId));
    const byPractice = await getJson(`${c.baseUrl}/api/messages?destination=A81004&limit=50`);
    expect((byPractice.body as { items: Tracking[] }).items.map((m) => m.sequence)).to.deep.equal([1, 2, 3]);
    const none = await getJson(`${c.baseUrl}/api/messages?state=filed`);
    expect((none.body as { items: Tracking[] }).items).to.deep.equal([]);
    const bad = await getJson(`${c.baseUrl}/api/messages?state=lost`);
    expect(bad.status).to.equal(400);
    const missing = await getJson(`${c.baseUrl}/api/messages/00000000-0000-4000-8000-000000000000`);
    expect(missing.status).to.equal(404);
    expect((missing.body as { resourceType: string }).resourceType).to.equal('OperationOutcome');
  });

  it('publishes a CapabilityStatement with the supported events and the duplicate window', async () => {
    const res = await getJson(`${c.baseUrl}/fhir/metadata`);
    const cs = res.body as { resourceType: string; messaging: { reliableCache: number; supportedMessage: { mode: string; definition: string }[] }[] };
    expect(cs.resourceType).to.equal('CapabilityStatement');
    const messaging = cs.messaging[0];
    expect(messaging?.reliableCache).to.equal(3650 * 24 * 60);
    expect(messaging?.supportedMessage.map((m) => m.definition.split('#')[1])).to.have.members(['ITK003D', 'ITK004D', 'ITK005D', 'ITK006D']);
    expect(messaging?.supportedMessage.every((m) => m.mode === 'receiver')).to.equal(true);
  });

  it('is healthy, ready, and counts what it did in /metrics', async () => {
    expect((await fetch(`${c.baseUrl}/healthz`)).status).to.equal(200);
    const ready = await getJson(`${c.baseUrl}/readyz`);
    expect(ready).to.deep.equal({ status: 200, body: { status: 'ready', store: 'up', broker: 'up', stopping: false } });
    const metrics = await (await fetch(`${c.baseUrl}/metrics`)).text();
    expect(metrics).to.match(/courier_letters_accepted_total\{event="ITK003D"\} [1-9]/);
    expect(metrics).to.match(/courier_letters_duplicate_total [1-9]/);
    expect(metrics).to.match(/courier_letters_refused_total\{reason="duplicate-conflict"\} 1/);
    expect(metrics).to.match(/courier_validation_duration_seconds_count [1-9]/);
    expect(metrics).to.match(/courier_http_requests_total\{method="POST",route="\/fhir\/\$process-message",status="202"\}/);
  });

  it('never writes the NHS number into a response or a log line', async () => {
    const res = await postMessage(c.baseUrl, syntheticDocumentReferenceLetter({ nhsNumber: SENTINEL_NHS_NUMBER }));
    expect(res.status).to.equal(202);
    const tracked = await fetch(`${c.baseUrl}${res.location}`);
    expect(await tracked.text()).not.to.include(SENTINEL_NHS_NUMBER);
    expect(res.text).not.to.include(SENTINEL_NHS_NUMBER);
    expect(c.logs.length).to.be.greaterThan(0);
    expect(c.logs.join('\n')).not.to.include(SENTINEL_NHS_NUMBER);
  });
});
