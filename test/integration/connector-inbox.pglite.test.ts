import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreLockedError } from '../../src/app/errors.js';
import { SqlConnectorInbox } from '../../src/adapters/connector-store/sql-connector-inbox.js';
import { connectorInboxContract } from './connector-inbox-contract.js';

/** PGlite in a temporary data directory, the embedded store `courier connect` uses without a databaseUrl. */
describe('PGlite connector inbox', function () {
  let dataDir = '';
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'courier-connector-inbox-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  connectorInboxContract('PGlite (embedded, data directory)', () => SqlConnectorInbox.open({ dataDir }));

  describe('data directory lock', function () {
    let lockedDir = '';
    before(() => {
      lockedDir = mkdtempSync(join(tmpdir(), 'courier-connector-lock-'));
    });
    after(() => rmSync(lockedDir, { recursive: true, force: true }));

    it('refuses a second inbox on a data directory an open inbox holds, and lets one open once it is closed', async () => {
      const holder = await SqlConnectorInbox.open({ dataDir: lockedDir });
      try {
        const error: unknown = await SqlConnectorInbox.open({ dataDir: lockedDir }).then(
          (second) => second.close(),
          (e: unknown) => e,
        );
        expect(error).to.be.instanceOf(StoreLockedError);
        expect(await holder.find('still-usable')).to.equal(undefined);
      } finally {
        await holder.close();
      }
      const next = await SqlConnectorInbox.open({ dataDir: lockedDir });
      await next.close();
    });
  });
});
