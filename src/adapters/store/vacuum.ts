import { asRow, int } from './rows.js';
import type { SqlExecutor } from './sql-client.js';

/**
 * Courier's busiest tables churn: every letter adds and deletes five outbox
 * rows and leaves three dead versions of its messages row. PostgreSQL's
 * autovacuum normally clears them and keeps the planner's statistics fresh.
 * Where no autovacuum runs — PGlite (single-user: no background workers)
 * or a PostgreSQL with `autovacuum = off` — dead rows pile up and plans go
 * stale: on this machine's PostgreSQL (autovacuum off) a 53,000-letter
 * backlog left 124,000 dead messages rows and 341,000 dead outbox rows, and
 * lookups that take a millisecond took 50–100 ms. Courier then vacuums and
 * analyzes these tables itself.
 */
export const CHURNING_TABLES = ['outbox', 'messages', 'message_history', 'ack_log', 'notifications'] as const;

/** True when an autovacuum launcher is at work for this database (never on PGlite). */
export async function autovacuumRuns(db: SqlExecutor): Promise<boolean> {
  const { rows } = await db.query("SELECT count(*) AS launchers FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher'");
  return int(asRow(rows[0]), 'launchers') > 0;
}

/** VACUUM (ANALYZE) of the churning tables, one statement each (VACUUM cannot run in a transaction). */
export async function vacuumChurningTables(db: SqlExecutor): Promise<void> {
  for (const table of CHURNING_TABLES) await db.query(`VACUUM (ANALYZE) ${table}`);
}
