import { expect } from 'chai';
import { migrate } from '../../src/adapters/store/migrations.js';
import { openMemoryStore } from '../../src/adapters/store/open-store.js';
import { openPgliteClient } from '../../src/adapters/store/pglite-client.js';
import type { SqlClient } from '../../src/adapters/store/sql-client.js';
import { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import { newLetter, storeContract, type OpenedStore } from './store-contract.js';
import { deliveryStoreContract } from './delivery-store-contract.js';
import { notificationStoreContract } from './notification-store-contract.js';

/**
 * One in-memory database for the suite (creating one takes seconds), emptied
 * before each test; a test that closes its store makes the next one open anew.
 */
describe('PGlite store', function () {
  let shared: SqlClient | undefined;
  after(() => shared?.close());

  const open = async (): Promise<OpenedStore> => {
    if (shared === undefined) {
      shared = await openPgliteClient(undefined);
      await migrate(shared);
    }
    const client = shared;
    await client.query('TRUNCATE messages, message_history, practice_sequences, outbox, ack_log, notifications, practice_alarms RESTART IDENTITY');
    const store = new SqlMessageStore(client, () => {
      shared = undefined;
    });
    return { store, sql: client, cleanup: () => Promise.resolve() };
  };
  storeContract('PGlite (embedded, in memory)', open);
  deliveryStoreContract('PGlite (embedded, in memory)', open);
  notificationStoreContract('PGlite (embedded, in memory)', open);
});

describe('PGlite store opening', function () {
  it('opens a migrated in-memory store for tests', async () => {
    const store = await openMemoryStore();
    try {
      const outcome = await store.accept(newLetter());
      expect(outcome.kind).to.equal('accepted');
    } finally {
      await store.close();
    }
  });

  it('migrates idempotently', async () => {
    const client = await openPgliteClient(undefined);
    try {
      await migrate(client);
      await migrate(client);
      const { rows } = await client.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows).to.deep.equal([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }]);
    } finally {
      await client.close();
    }
  });
});
