import pg from 'pg';
import { StoreUnavailableError } from '../../app/errors.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';

/** Connection-level failures that mean "the database is not there right now" (503, resend). */
const UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006']);

/**
 * PostgreSQL through a pg pool. With `schema`, every connection works in that
 * schema (created if missing): tests use one schema per file.
 */
export async function openPgClient(options: { url: string; schema?: string; max?: number; onIdleError?: (error: Error) => void }): Promise<SqlClient> {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('schema must be a lower-case SQL identifier');
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle client losing its connection emits here; without a listener it would crash the process.
  pool.on('error', (error) => options.onIdleError?.(error));
  const run = async (executor: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]) => {
    try {
      const result = await executor.query(sql, params as unknown[] | undefined);
      return { rows: result.rows as unknown[] };
    } catch (error) {
      throw mapError(error);
    }
  };
  if (schema !== undefined) await run(pool, `CREATE SCHEMA IF NOT EXISTS ${schema}`);
  return {
    query: (sql, params) => run(pool, sql, params),
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw mapError(error);
      }
      const tx: SqlExecutor = { query: (sql, params) => run(client, sql, params) };
      try {
        await tx.query('BEGIN');
        const result = await fn(tx);
        await tx.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined); // the connection may be gone; the error below says why
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

function mapError(error: unknown): unknown {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (UNAVAILABLE.has(code) || (error instanceof Error && /timeout exceeded when trying to connect|Connection terminated/i.test(error.message))) {
    return new StoreUnavailableError(error);
  }
  return error;
}
