import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { MessageStore } from '../../app/ports.js';
import { lockDataDir } from './data-dir-lock.js';
import { migrate } from './migrations.js';
import { openPgClient } from './pg-client.js';
import { openPgliteClient } from './pglite-client.js';
import type { SqlClient } from './sql-client.js';
import { SqlMessageStore } from './sql-message-store.js';

export interface StoreOptions {
  /** postgres://… : use PostgreSQL. Unset: embedded PGlite under `dataDir`. */
  readonly databaseUrl?: string | undefined;
  readonly dataDir: string;
  /** PostgreSQL schema to work in (tests use one per file). */
  readonly schema?: string;
  readonly onIdleError?: (error: Error) => void;
}

/** Opens the store DESIGN §7 asks for, with migrations applied. */
export async function openStore(options: StoreOptions): Promise<MessageStore> {
  if (options.databaseUrl !== undefined) {
    const client = await openPgClient({
      url: options.databaseUrl,
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      ...(options.onIdleError === undefined ? {} : { onIdleError: options.onIdleError }),
    });
    return withMigrations(client);
  }
  return openEmbeddedStore(options.dataDir);
}

/** An in-memory PGlite store: for tests and benchmarks only (nothing survives close). */
export async function openMemoryStore(): Promise<MessageStore> {
  return withMigrations(await openPgliteClient(undefined));
}

/**
 * Embedded PGlite in `<dataDir>/pgdata`, under the data directory lock. A new
 * database is made in `pgdata.creating-<pid>` and renamed into place only once
 * initialised and migrated, so a kill during first start leaves debris that
 * the next start removes, never a directory that will not open.
 */
async function openEmbeddedStore(dataDir: string): Promise<MessageStore> {
  const root = resolve(dataDir);
  const lock = lockDataDir(root);
  try {
    const final = join(root, 'pgdata');
    for (const name of readdirSync(root)) {
      if (name.startsWith('pgdata.creating-')) rmSync(join(root, name), { recursive: true, force: true });
    }
    if (!existsSync(final)) {
      const creating = join(root, `pgdata.creating-${process.pid}`);
      const fresh = await openPgliteClient(creating);
      await migrate(fresh);
      await fresh.close();
      renameSync(creating, final);
    }
    return await withMigrations(await openPgliteClient(final), () => lock.release());
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function withMigrations(client: SqlClient, afterClose?: () => void): Promise<MessageStore> {
  try {
    await migrate(client);
  } catch (error) {
    await client.close();
    throw error;
  }
  return new SqlMessageStore(client, afterClose);
}
