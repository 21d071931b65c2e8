import { expect } from 'chai';
import { migrate } from '../../src/adapters/store/migrations.js';
import { openMemoryStore } from '../../src/adapters/store/open-store.js';
import { openPgliteClient } from '../../src/adapters/store/pglite-client.js';
import { pgliteContracts } from './pglite-contracts.js';
import { newLetter } from './store-contract.js';

describe('PGlite store', function () {
  pgliteContracts('PGlite (embedded, in memory)', () => openPgliteClient(undefined));
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
      expect(rows).to.deep.equal([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }, { version: 6 }, { version: 7 }]);
    } finally {
      await client.close();
    }
  });
});
