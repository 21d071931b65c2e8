import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpPoster, SIGNATURE_HEADER } from '../../src/adapters/escalation/http-poster.js';

describe('HTTP notification poster (real sockets)', function () {
  let server: Server;
  let url: string;
  const seen: { signature: string | undefined; body: string }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const signature = req.headers[SIGNATURE_HEADER];
        seen.push({ signature: typeof signature === 'string' ? signature : undefined, body: Buffer.concat(chunks).toString('utf8') });
        if (req.url === '/slow') return; // never answers
        res.writeHead(req.url === '/fail' ? 500 : 200).end('{"echo":"anything the receiver says is never reported"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('signs the exact body with HMAC-SHA256 when a secret is set', async () => {
    const post = httpPoster({ timeoutMs: 2_000, secret: 'a-test-secret-of-some-length', userAgent: 'test' });
    expect(await post(`${url}/ok`, { trackingId: 't-1' }, 'application/json')).to.deep.equal({ ok: true });
    const last = seen.at(-1);
    expect(last?.signature).to.equal(`sha256=${createHmac('sha256', 'a-test-secret-of-some-length').update(last?.body ?? '').digest('hex')}`);
  });

  it('reports failures by status, timeout or connection error only, never throwing', async () => {
    const post = httpPoster({ timeoutMs: 300, userAgent: 'test' });
    expect(await post(`${url}/fail`, {}, 'application/json')).to.deep.equal({ ok: false, error: 'HTTP 500' });
    expect(seen.at(-1)?.signature, 'unsigned without a secret').to.equal(undefined);
    expect(await post(`${url}/slow`, {}, 'application/json')).to.deep.equal({ ok: false, error: 'timed out' });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await post(`http://127.0.0.1:${port}/x`, {}, 'application/json')).to.deep.equal({ ok: false, error: 'request failed (ECONNREFUSED)' });
  });
});
