import { expect } from 'chai';
import { SqlConnectorInbox } from '../../src/adapters/connector-store/sql-connector-inbox.js';
import { CONNECTOR_SCHEMA } from '../../src/adapters/connector-store/connector-migrations.js';
import { migrate } from '../../src/adapters/store/migrations.js';
import { openPgClient } from '../../src/adapters/store/pg-client.js';
import type { SqlExecutor } from '../../src/adapters/store/sql-client.js';
import { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import { newLetter } from './store-contract.js';
import { dropSchema, randomSchema, TEST_DATABASE_URL } from '../support/postgres.js';
import { connectorInboxContract } from './connector-inbox-contract.js';

async function versions(db: SqlExecutor, table: string): Promise<unknown[]> {
  return (await db.query(`SELECT version, name, applied_at FROM ${table} ORDER BY version`)).rows;
}

async function tables(db: SqlExecutor, schema: string): Promise<string[]> {
  const { rows } = await db.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
  return rows.map((r) => String((r as { table_name: unknown }).table_name));
}

describe('PostgreSQL connector inbox', function () {
  const schema = randomSchema();
  after(() => dropSchema(schema));

  connectorInboxContract('PostgreSQL', () => SqlConnectorInbox.open({ databaseUrl: TEST_DATABASE_URL, dataDir: 'unused', schema }));

  describe('sharing a schema with Courier', function () {
    const shared = randomSchema();
    after(() => dropSchema(shared));

    it('migrates Courier and the connector into one schema, each in its own migrations table, and a second migration applies nothing', async () => {
      const client = await openPgClient({ url: TEST_DATABASE_URL, schema: shared });
      try {
        await migrate(client);
        await migrate(client, CONNECTOR_SCHEMA);
        const courier = await versions(client, 'schema_migrations');
        const connector = await versions(client, 'connector_schema_migrations');
        expect(courier.map((r) => (r as { version: number }).version)).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
        expect(connector.map((r) => (r as { version: number }).version)).to.deep.equal(CONNECTOR_SCHEMA.migrations.map((m) => m.version));
        expect(await tables(client, shared)).to.include.members([
          'schema_migrations',
          'messages',
          'outbox',
          'connector_schema_migrations',
          'connector_letters',
          'connector_sequences',
          'connector_gaps',
        ]);
        const before = await tables(client, shared);

        await migrate(client, CONNECTOR_SCHEMA);
        await migrate(client);
        expect(await versions(client, 'schema_migrations'), 'Courier: nothing applied again').to.deep.equal(courier);
        expect(await versions(client, 'connector_schema_migrations'), 'connector: nothing applied again').to.deep.equal(connector);
        expect(await tables(client, shared)).to.deep.equal(before);
      } finally {
        await client.close();
      }

      // Both sides open over the shared schema and work side by side.
      const store = new SqlMessageStore(await openPgClient({ url: TEST_DATABASE_URL, schema: shared }));
      const inbox = await SqlConnectorInbox.open({ databaseUrl: TEST_DATABASE_URL, dataDir: 'unused', schema: shared });
      try {
        expect((await store.accept(newLetter())).kind).to.equal('accepted');
        const letter = { practice: 'A81001', messageHeaderId: 'shared-schema-letter', trackingId: undefined, sequence: 1, eventCode: 'ITK007D', body: Buffer.from('{}') };
        expect(await inbox.beginHandOver(letter, new Date())).to.include({ status: 'handing-over', handOvers: 1 });
      } finally {
        await inbox.close();
        await store.close();
      }
    });
  });
});
