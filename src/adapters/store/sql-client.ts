/**
 * The smallest SQL surface Courier needs, implemented over PostgreSQL (pg)
 * and PGlite. Both speak the same dialect, so one store implementation and
 * one set of migrations serve both. Rows arrive as `unknown` and are narrowed
 * by the store (rows.ts).
 *
 * Both implementations throw `StoreUnavailableError` when the database cannot
 * be reached (or the client was closed) and pass every other error through
 * unchanged, with PostgreSQL's SQLSTATE in `code`.
 */
export interface SqlExecutor {
  /** One statement, parameters as `$1, $2, …`. */
  query(sql: string, params?: readonly unknown[]): Promise<{ rows: unknown[] }>;
}

export interface SqlClient extends SqlExecutor {
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** PostgreSQL's SQLSTATE for a unique constraint violation. */
export const UNIQUE_VIOLATION = '23505';

export function sqlState(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}
