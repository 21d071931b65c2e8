import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCourier, type CourierProcess } from '../support/courier-process.js';
import { deleteBrokerEntities, postMessage, randomPrefix } from '../support/courier-harness.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

/**
 * The custody promise: once Courier answered 202, the letter survives the
 * process being killed without warning (SIGKILL: no shutdown hooks run).
 */
describe('a SIGKILL right after 202 loses nothing (embedded store)', function () {
  this.timeout(120_000);
  let dataDir: string;
  let running: CourierProcess | undefined;
  const prefix = randomPrefix();

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'courier-crash-'));
  });
  after(async () => {
    running?.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    await deleteBrokerEntities(prefix);
  });

  it('keeps every accepted letter with its sequence across a SIGKILL, and still knows it on resend', async () => {
    const env = { COURIER_DATA_DIR: dataDir, COURIER_AMQP_PREFIX: prefix };
    running = await spawnCourier(env);
    const letters = Array.from({ length: 5 }, () => syntheticDocumentReferenceLetter());
    const locations: string[] = [];
    for (const letter of letters) {
      const res = await postMessage(running.baseUrl, letter);
      expect(res.status, res.text).to.equal(202);
      locations.push(res.location ?? '');
    }
    running.child.kill('SIGKILL');
    expect(await running.exited).to.equal('SIGKILL');

    running = await spawnCourier(env);
    for (const [i, location] of locations.entries()) {
      const res = await fetch(`${running.baseUrl}${location}`);
      expect(res.status, `letter ${i} after restart`).to.equal(200);
      const tracked = (await res.json()) as { sequence: number; state: string };
      expect(tracked.sequence).to.equal(i + 1);
    }
    // A resend of an accepted letter after the crash is recognised, not taken twice.
    const again = await postMessage(running.baseUrl, letters[0]);
    expect(again.status).to.equal(200);
    expect(again.location).to.equal(locations[0]);
    running.child.kill('SIGTERM');
    expect(await running.exited).to.equal(0);
    running = undefined;
  });
});
