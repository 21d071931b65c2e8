import { resolve } from 'node:path';
import type { Logger } from '../../platform/logger.js';
import { lockDataDir } from './data-dir-lock.js';
import { ensureEmbeddedDataDir } from './embedded-data-dir.js';
import { COURIER_SCHEMA, migrate, type MigrationSet } from './migrations.js';
import { openPgClient } from './pg-client.js';
import { openPgliteClient } from './pglite-client.js';
import { openPgliteWorkerClient } from './pglite-worker-client.js';
import type { SqlClient } from './sql-client.js';
import { SqlMessageStore } from './sql-message-store.js';

export interface StoreOptions {
  /** postgres://… : use PostgreSQL. Unset: embedded PGlite under `dataDir`. */
  readonly databaseUrl?: string | undefined;
  /** COURIER_DATA_DIR: holds `courier.lock` and `pgdata/` for the embedded store. */
  readonly dataDir: string;
  /** PostgreSQL schema to work in, created if missing (default: the server's search_path). */
  readonly schema?: string | undefined;
  /** PostgreSQL pool size (default 10). */
  readonly poolSize?: number | undefined;
  readonly logger?: Logger | undefined;
}

/**
 * Opens the store DESIGN §7 asks for, with migrations applied: PostgreSQL when
 * `databaseUrl` is set, else PGlite in `<dataDir>/pgdata` under the data
 * directory lock, run in a worker thread. Rejects with `StoreLockedError` when another live process
 * holds the directory and `StoreUnavailableError` when PostgreSQL cannot be
 * reached. Closing the store releases the lock.
 */
export async function openStore(options: StoreOptions): Promise<SqlMessageStore> {
  const { client, afterClose } = await openMigratedClient(options, COURIER_SCHEMA);
  return new SqlMessageStore(client, afterClose);
}

/** An in-memory PGlite store, migrated: for tests and benchmarks only (nothing survives close). */
export async function openMemoryStore(): Promise<SqlMessageStore> {
  return new SqlMessageStore(await withMigrations(await openPgliteClient(undefined), COURIER_SCHEMA));
}

/**
 * A SQL client with `set` migrated, by the rules of `openStore`. The caller
 * runs `afterClose` (it releases the data directory lock) once the client is closed.
 */
export async function openMigratedClient(options: StoreOptions, set: MigrationSet): Promise<{ client: SqlClient; afterClose: () => void }> {
  const logger = options.logger?.child({ component: 'store' });
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    const client = await openPgClient({ url: options.databaseUrl, schema: options.schema, max: options.poolSize, logger });
    return { client: await withMigrations(client, set), afterClose: () => undefined };
  }
  return openEmbedded(resolve(options.dataDir), set, logger);
}

async function openEmbedded(dataDir: string, set: MigrationSet, logger: Logger | undefined): Promise<{ client: SqlClient; afterClose: () => void }> {
  const lock = await lockDataDir(dataDir, { logger });
  try {
    const pgdata = await ensureEmbeddedDataDir(
      dataDir,
      async (directory) => {
        const fresh = await openPgliteClient(directory);
        try {
          await migrate(fresh, set);
        } finally {
          await fresh.close();
        }
      },
      logger,
    );
    // The long-lived client runs the database in a thread of its own (pglite-worker-client.ts).
    return { client: await withMigrations(await openPgliteWorkerClient(pgdata, logger), set), afterClose: () => lock.release() };
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function withMigrations(client: SqlClient, set: MigrationSet): Promise<SqlClient> {
  try {
    await migrate(client, set);
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}
