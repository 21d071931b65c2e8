import { asRow, int, text } from './rows.js';
import type { SqlExecutor } from './sql-client.js';

/**
 * Courier's busiest tables churn: every letter adds and deletes an outbox
 * row (and its share of the rows holding its status events; five rows each
 * before migration 6) and leaves three dead versions of its messages row. PostgreSQL's
 * autovacuum normally clears them and keeps the planner's statistics fresh.
 * Where no autovacuum runs — PGlite (single-user: no background workers)
 * or a PostgreSQL with `autovacuum = off` — dead rows pile up and plans go
 * stale: on this machine's PostgreSQL (autovacuum off) a 53,000-letter
 * backlog left 124,000 dead messages rows and 341,000 dead outbox rows, and
 * lookups that take a millisecond took 50–100 ms. Courier then vacuums and
 * analyzes these tables itself, when autovacuum would have: see `tableUpkeep`.
 */
export const CHURNING_TABLES = ['outbox', 'messages', 'message_history', 'ack_log', 'notifications'] as const;
export type ChurningTable = (typeof CHURNING_TABLES)[number];

/** What the statistics system counts for a table (pg_stat_user_tables). */
export interface TableActivity {
  readonly table: ChurningTable;
  readonly live: number;
  readonly dead: number;
  readonly modifiedSinceAnalyze: number;
  readonly insertedSinceVacuum: number;
}

export type Upkeep = 'vacuum' | 'analyze' | 'none';

/**
 * PostgreSQL's default autovacuum thresholds (autovacuum_vacuum_threshold,
 * _scale_factor, _insert_threshold, _insert_scale_factor,
 * autovacuum_analyze_threshold, _scale_factor): vacuum once dead rows pass
 * 50 + 20 % of the live ones (or inserts 1,000 + 20 %, which keeps the
 * visibility map current); analyze once changes pass 50 + 10 %.
 */
export function tableUpkeep(activity: TableActivity): Upkeep {
  if (activity.dead > 50 + 0.2 * activity.live || activity.insertedSinceVacuum > 1000 + 0.2 * activity.live) return 'vacuum';
  // A young table needs this most: prepared statements keep the plan made when it was nearly empty (a
  // sequential scan) until statistics change, and a growing table is analyzed again at every 10 % of growth.
  if (activity.modifiedSinceAnalyze > 50 + 0.1 * activity.live) return 'analyze';
  return 'none';
}

/** True when an autovacuum launcher is at work for this database (never on PGlite). */
export async function autovacuumRuns(db: SqlExecutor): Promise<boolean> {
  const { rows } = await db.query("SELECT count(*) AS launchers FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher'");
  return int(asRow(rows[0]), 'launchers') > 0;
}

export async function churningTableActivity(db: SqlExecutor): Promise<TableActivity[]> {
  const { rows } = await db.query(
    `SELECT relname, n_live_tup AS live, n_dead_tup AS dead, n_mod_since_analyze AS modified, n_ins_since_vacuum AS inserted
       FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY($1::text[]) ORDER BY relname`,
    [[...CHURNING_TABLES]],
  );
  return rows.map(asRow).map((row) => ({
    table: text(row, 'relname') as ChurningTable,
    live: int(row, 'live'),
    dead: int(row, 'dead'),
    modifiedSinceAnalyze: int(row, 'modified'),
    insertedSinceVacuum: int(row, 'inserted'),
  }));
}

/**
 * One round of upkeep: VACUUM (ANALYZE) or ANALYZE of each churning table
 * that has passed autovacuum's thresholds (one statement each: VACUUM cannot
 * run in a transaction). `everything` does all of them regardless. Returns
 * how many tables it worked on.
 */
export async function upkeepChurningTables(db: SqlExecutor, everything = false): Promise<number> {
  const due = everything
    ? CHURNING_TABLES.map((table) => ({ table, upkeep: 'vacuum' }))
    : (await churningTableActivity(db)).map((activity) => ({ table: activity.table, upkeep: tableUpkeep(activity) }));
  let worked = 0;
  for (const { table, upkeep } of due) {
    if (upkeep === 'none') continue;
    await db.query(upkeep === 'vacuum' ? `VACUUM (ANALYZE) ${table}` : `ANALYZE ${table}`);
    worked++;
  }
  return worked;
}
