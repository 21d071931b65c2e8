import { PGlite } from '@electric-sql/pglite';
import type { SqlClient, SqlExecutor } from './sql-client.js';

/**
 * Embedded PostgreSQL (PGlite) in `dataDir`, or in memory when it is
 * undefined. PGlite is a single connection; its `transaction` serialises
 * callers, which is what the store's one-transaction-per-acceptance needs.
 */
export async function openPgliteClient(dataDir: string | undefined): Promise<SqlClient> {
  const db = dataDir === undefined ? new PGlite() : new PGlite(dataDir);
  await db.waitReady;
  const asExecutor = (target: Pick<PGlite, 'query'>): SqlExecutor => ({
    query: async (sql, params) => {
      const result = await target.query(sql, params as unknown[] | undefined);
      return { rows: result.rows };
    },
  });
  const root = asExecutor(db);
  return {
    query: (sql, params) => root.query(sql, params),
    transaction: (fn) => db.transaction((tx) => fn(asExecutor(tx))),
    close: () => db.close(),
  };
}
