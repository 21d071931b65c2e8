import { PGlite } from '@electric-sql/pglite';
import { StoreUnavailableError } from '../../app/errors.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';

/** PostgreSQL's type oid for bytea. */
const BYTEA = 17;

/**
 * PGlite's own bytea conversion goes byte by byte through JavaScript arrays
 * (about 3 s for a 5 MiB letter); Buffer's hex codec does the same in native code.
 */
function byteaToText(value: unknown): string {
  if (!(value instanceof Uint8Array)) throw new TypeError('bytea parameter is not a Uint8Array');
  return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
}

function byteaFromText(value: string): Uint8Array {
  return Buffer.from(value.slice(2), 'hex');
}

/** A ready PGlite in `dataDir` (in memory when undefined) with Courier's bytea codecs; in this thread or in the store's worker. */
export async function createPglite(dataDir: string | undefined): Promise<PGlite> {
  const db = new PGlite({ ...(dataDir === undefined ? {} : { dataDir }), serializers: { [BYTEA]: byteaToText }, parsers: { [BYTEA]: byteaFromText } });
  await db.waitReady;
  return db;
}

/**
 * Embedded PostgreSQL (PGlite) in `dataDir`, or in memory when it is
 * undefined. PGlite is a single connection: its `transaction` and `query`
 * share one mutex, so transactions run one after another and a query never
 * lands inside someone else's transaction.
 *
 * Opening a directory is only safe under the data directory lock
 * (data-dir-lock.ts): PGlite takes none of its own.
 */
export async function openPgliteClient(dataDir: string | undefined): Promise<SqlClient> {
  const db = await createPglite(dataDir);
  let closing: Promise<void> | undefined;

  /** After close, callers get the same answer as from an unreachable PostgreSQL. */
  const guarded = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closing !== undefined || db.closed) throw new StoreUnavailableError(new Error('the store was closed'));
    try {
      return await fn();
    } catch (error) {
      if (db.closed) throw new StoreUnavailableError(error);
      throw error;
    }
  };
  const asExecutor = (target: Pick<PGlite, 'query'>): SqlExecutor => ({
    query: async (sql, params) => {
      const result = await target.query(sql, params === undefined ? undefined : [...params]);
      return { rows: result.rows };
    },
  });
  const root = asExecutor(db);
  return {
    query: (sql, params) => guarded(() => root.query(sql, params)),
    transaction: (fn) => guarded(() => db.transaction((tx) => fn(asExecutor(tx)))),
    close: () => (closing ??= db.close()),
  };
}
