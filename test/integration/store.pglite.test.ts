import { openPgliteClient } from '../../src/adapters/store/pglite-client.js';
import { migrate } from '../../src/adapters/store/migrations.js';
import { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import { storeContract } from './store-contract.js';

storeContract('PGlite (embedded)', async () => {
  const client = await openPgliteClient(undefined);
  await migrate(client);
  const store = new SqlMessageStore(client);
  return {
    store,
    rows: async (sql, params) => (await client.query(sql, params)).rows,
    cleanup: () => store.close(),
  };
});
