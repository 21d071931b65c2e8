import { openPgClient } from '../../src/adapters/store/pg-client.js';
import { migrate } from '../../src/adapters/store/migrations.js';
import { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import { dropSchema, randomSchema, TEST_DATABASE_URL } from '../support/postgres.js';
import { storeContract } from './store-contract.js';

storeContract('PostgreSQL', async () => {
  const schema = randomSchema();
  const client = await openPgClient({ url: TEST_DATABASE_URL, schema });
  await migrate(client);
  const store = new SqlMessageStore(client);
  return {
    store,
    rows: async (sql, params) => (await client.query(sql, params)).rows,
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
});
