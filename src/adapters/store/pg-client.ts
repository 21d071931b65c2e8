import { createHash } from 'node:crypto';
import pg from 'pg';
import { StoreUnavailableError } from '../../app/errors.js';
import type { Logger } from '../../platform/logger.js';
import { sqlState, type SqlClient, type SqlExecutor } from './sql-client.js';

export interface PgClientOptions {
  /** postgres://… connection URL. */
  readonly url: string;
  /**
   * Work in this schema (created if missing) instead of `public`: every pooled
   * connection starts with `search_path` set to it. Tests use one per file.
   */
  readonly schema?: string | undefined;
  /** Pool size; default 10. */
  readonly max?: number | undefined;
  readonly logger?: Logger | undefined;
}

/** Node socket errors that mean "the database is not reachable right now". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);
/**
 * SQLSTATEs of the same meaning: admin/crash shutdown, cannot connect now,
 * too many connections (class 08, connection exceptions, is matched as a class).
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** pg and pg-pool raise these without a code; matching their text is the only way to recognise them. */
const LOST_CONNECTION = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/;

/** Advisory lock key serialising `CREATE SCHEMA` among instances starting together. */
const SCHEMA_LOCK = 741_852_962;

/**
 * PostgreSQL through a pg pool. Connection failures become
 * `StoreUnavailableError` (503, "resend"); every other error passes through.
 * Neither an idle pooled connection nor a checked-out one that loses its
 * server can crash the process: both `error` events are handled and logged.
 */
export async function openPgClient(options: PgClientOptions): Promise<SqlClient> {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new TypeError('schema must be a lower-case SQL identifier');
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'courier',
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  const logConnectionError = (error: Error): void => {
    options.logger?.warn('PostgreSQL connection lost', { component: 'store', errorName: error.name, errorCode: sqlState(error) ?? 'none' });
  };
  pool.on('error', logConnectionError);

  let closing: Promise<void> | undefined;
  const execute = async (executor: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]) => {
    if (closing !== undefined) throw new StoreUnavailableError(new Error('the store was closed'));
    try {
      const result =
        params === undefined || params.length === 0
          ? await executor.query<Record<string, unknown>>(sql)
          : await executor.query<Record<string, unknown>>({ name: statementName(sql), text: sql, values: [...params] });
      return { rows: result.rows as unknown[] };
    } catch (error) {
      throw asUnavailable(error);
    }
  };

  const client: SqlClient = {
    query: (sql, params) => execute(pool, sql, params),
    async transaction(fn) {
      if (closing !== undefined) throw new StoreUnavailableError(new Error('the store was closed'));
      let connection: pg.PoolClient;
      try {
        connection = await pool.connect();
      } catch (error) {
        throw asUnavailable(error);
      }
      connection.on('error', logConnectionError);
      let broken: Error | undefined;
      try {
        const tx: SqlExecutor = { query: (sql, params) => execute(connection, sql, params) };
        await tx.query('BEGIN');
        const result = await fn(tx);
        await tx.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await connection.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError instanceof Error ? rollbackError : new Error('ROLLBACK failed');
        }
        throw error;
      } finally {
        connection.removeListener('error', logConnectionError);
        connection.release(broken); // a connection that could not roll back is destroyed, never reused
      }
    },
    close: () => (closing ??= pool.end()),
  };

  try {
    if (schema !== undefined) {
      await client.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await tx.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      });
    }
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

/**
 * Statements with parameters are prepared once per connection under a name
 * derived from their text, then only bound and executed: PostgreSQL parses
 * and plans the batch statements (multi-CTE, jsonb_to_recordset) once, not
 * on every call. Courier's SQL is fixed text with a bounded number of
 * variants (filters, list lengths), so the set of names stays small.
 */
const names = new Map<string, string>();
function statementName(sql: string): string {
  let name = names.get(sql);
  if (name === undefined) {
    name = `courier_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    names.set(sql, name);
  }
  return name;
}

function asUnavailable(error: unknown): unknown {
  if (error instanceof StoreUnavailableError) return error;
  const code = sqlState(error) ?? '';
  const lost = NETWORK_CODES.has(code) || code.startsWith('08') || UNAVAILABLE_STATES.has(code);
  if (lost || (error instanceof Error && LOST_CONNECTION.test(error.message))) return new StoreUnavailableError(error);
  return error;
}
