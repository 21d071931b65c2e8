import { expect } from 'chai';
import pg from 'pg';
import { StoreUnavailableError } from '../../src/app/errors.js';
import { migrate } from '../../src/adapters/store/migrations.js';
import { openStore } from '../../src/adapters/store/open-store.js';
import { openPgClient } from '../../src/adapters/store/pg-client.js';
import { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import type { LogContext, Logger } from '../../src/platform/logger.js';
import { dropSchema, randomSchema, TEST_DATABASE_URL } from '../support/postgres.js';
import { newLetter, storeContract, type OpenedStore } from './store-contract.js';
import { deliveryStoreContract } from './delivery-store-contract.js';
import { notificationStoreContract } from './notification-store-contract.js';

describe('PostgreSQL store', function () {
  const schema = randomSchema();
  after(() => dropSchema(schema));

  const open = async (): Promise<OpenedStore> => {
    const client = await openPgClient({ url: TEST_DATABASE_URL, schema });
    await migrate(client);
    await client.query('TRUNCATE messages, message_history, practice_sequences, outbox, ack_log, notifications, practice_alarms RESTART IDENTITY');
    const store = new SqlMessageStore(client);
    return { store, sql: client, cleanup: () => store.close() };
  };
  storeContract('PostgreSQL', open);
  deliveryStoreContract('PostgreSQL', open);
  notificationStoreContract('PostgreSQL', open);

  describe('opening and connection failures', function () {
    const fresh = randomSchema();
    after(() => dropSchema(fresh));

    it('lets instances start together: one creates the schema and migrates, the others wait and find it done', async () => {
      const stores = await Promise.all(Array.from({ length: 4 }, () => openStore({ databaseUrl: TEST_DATABASE_URL, dataDir: 'unused', schema: fresh })));
      try {
        const outcomes = await Promise.all(stores.map((s) => s.accept(newLetter())));
        expect(outcomes.map((o) => o.kind === 'accepted' && o.record.sequence).sort()).to.deep.equal([1, 2, 3, 4]);
        const admin = await openPgClient({ url: TEST_DATABASE_URL, schema: fresh });
        try {
          expect((await admin.query('SELECT version FROM schema_migrations ORDER BY version')).rows).to.deep.equal([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }, { version: 6 }, { version: 7 }]);
        } finally {
          await admin.close();
        }
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('answers StoreUnavailableError when PostgreSQL cannot be reached', async () => {
      const started = Date.now();
      const error: unknown = await openStore({ databaseUrl: 'postgres://postgres@127.0.0.1:1/test', dataDir: 'unused' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(StoreUnavailableError);
      expect(Date.now() - started).to.be.below(6_000);
    });

    it('survives a server-side kill of idle and busy connections', async () => {
      const warnings: string[] = [];
      const logger = captureLogger(warnings);
      const client = await openPgClient({ url: TEST_DATABASE_URL, schema: fresh, max: 1, logger });
      try {
        const idlePid = await backendPid(client);
        await terminate(idlePid);
        await waitFor(() => warnings.length > 0);
        expect(warnings).to.include('PostgreSQL connection lost');
        expect((await client.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);

        const error: unknown = await client
          .transaction(async (tx) => {
            await terminate(await backendPid(tx));
            await tx.query('SELECT 1');
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(error).to.be.instanceOf(StoreUnavailableError);
        expect((await client.query('SELECT 1 AS one')).rows, 'the broken connection was not reused').to.deep.equal([{ one: 1 }]);
      } finally {
        await client.close();
      }
    });
  });
});

async function backendPid(db: { query(sql: string): Promise<{ rows: unknown[] }> }): Promise<number> {
  const [row] = (await db.query('SELECT pg_backend_pid() AS pid')).rows as { pid: number }[];
  if (row === undefined) throw new Error('no backend pid');
  return row.pid;
}

async function terminate(pid: number): Promise<void> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function captureLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string, _context?: LogContext) => void lines.push(message),
    error: (message: string) => void lines.push(message),
    child: () => logger,
  };
  return logger;
}
