import { expect } from 'chai';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCourier } from '../support/courier-process.js';
import { deleteBrokerEntities, randomPrefix } from '../support/courier-harness.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('graceful stop on SIGTERM', function () {
  this.timeout(60_000);
  let dataDir: string;
  const prefix = randomPrefix();
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'courier-stop-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await deleteBrokerEntities(prefix);
  });

  it('finishes a request already in flight, refuses new connections, and exits 0', async () => {
    const running = await spawnCourier({ COURIER_DATA_DIR: dataDir, COURIER_AMQP_PREFIX: prefix });
    const body = Buffer.from(JSON.stringify(syntheticDocumentReferenceLetter()));
    const url = new URL('/fhir/$process-message', running.baseUrl);
    const answer = new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/fhir+json', 'content-length': body.length } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(body.subarray(0, 100));
      void sleep(300).then(() => {
        running.child.kill('SIGTERM');
        return sleep(300);
      }).then(() => req.end(body.subarray(100)));
    });
    expect(await answer).to.equal(202);
    const exit = await running.exited;
    expect(exit, running.output()).to.equal(0);
    const refused = await fetch(`${running.baseUrl}/healthz`).then(
      () => 'answered',
      () => 'refused',
    );
    expect(refused).to.equal('refused');
    expect(running.output()).to.include('"message":"stopped"');
  });
});
