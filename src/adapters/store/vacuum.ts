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
  /** Seconds since its last vacuum, by anyone (Courier, another instance, autovacuum); null if never. */
  readonly secondsSinceVacuum: number | null;
  /** Seconds since its last analyze (a vacuum with ANALYZE included); null if never. */
  readonly secondsSinceAnalyze: number | null;
}

/**
 * Autovacuum looks at each table at most once per `autovacuum_naptime`
 * (default 1 min). Courier's loop runs every few seconds, and on a grown table
 * it keeps to that minute: VACUUM scans every index of the table whole, so
 * its cost grows with the table. Looked at every 5 s, upkeep statements ran
 * 10.7 s of a 102 s backlog of 53,000 letters (mostly `messages` and the two
 * insert-only logs); at once a minute PostgreSQL's CPU per filed letter fell
 * from 0.88–0.95 to 0.76–0.88 ms (alternating runs). The time is read from
 * the database, so instances sharing one keep to the same minute.
 */
export const NAPTIME_SECONDS = 60;
/**
 * Below this many live rows a table is young: looked at on every round, as
 * before. A nearly empty table is best read sequentially, and a prepared
 * statement keeps that plan until the statistics change, so a young table's
 * statistics must follow its growth closely. Past this size every lookup
 * Courier makes reads an index whatever the exact count, and the outbox,
 * whose rows live seconds, stays below it except while the broker is away.
 */
export const GROWN_TABLE_ROWS = 10_000;

export type Upkeep = 'vacuum' | 'analyze' | 'none';

/**
 * PostgreSQL's default autovacuum thresholds (autovacuum_vacuum_threshold,
 * _scale_factor, _insert_threshold, _insert_scale_factor,
 * autovacuum_analyze_threshold, _scale_factor): vacuum once dead rows pass
 * 50 + 20 % of the live ones (or inserts 1,000 + 20 %, which keeps the
 * visibility map current); analyze once changes pass 50 + 10 %.
 */
export function tableUpkeep(activity: TableActivity): Upkeep {
  const grown = activity.live >= GROWN_TABLE_ROWS;
  const rested = (seconds: number | null) => !grown || seconds === null || seconds >= NAPTIME_SECONDS;
  if (!rested(activity.secondsSinceVacuum)) return 'none'; // a vacuum includes an analyze, so neither is due yet
  if (activity.dead > 50 + 0.2 * activity.live || activity.insertedSinceVacuum > 1000 + 0.2 * activity.live) return 'vacuum';
  // A young table needs this most: prepared statements keep the plan made when it was nearly empty (a
  // sequential scan) until statistics change, and a growing table is analyzed again at every 10 % of growth.
  if (activity.modifiedSinceAnalyze > 50 + 0.1 * activity.live && rested(activity.secondsSinceAnalyze)) return 'analyze';
  return 'none';
}

/** True when an autovacuum launcher is at work for this database (never on PGlite). */
export async function autovacuumRuns(db: SqlExecutor): Promise<boolean> {
  const { rows } = await db.query("SELECT count(*) AS launchers FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher'");
  return int(asRow(rows[0]), 'launchers') > 0;
}

export async function churningTableActivity(db: SqlExecutor): Promise<TableActivity[]> {
  const { rows } = await db.query(
    `SELECT relname, n_live_tup AS live, n_dead_tup AS dead, n_mod_since_analyze AS modified, n_ins_since_vacuum AS inserted,
            extract(epoch FROM now() - greatest(last_vacuum, last_autovacuum))::float8 AS since_vacuum,
            extract(epoch FROM now() - greatest(last_analyze, last_autoanalyze))::float8 AS since_analyze
       FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY($1::text[]) ORDER BY relname`,
    [[...CHURNING_TABLES]],
  );
  return rows.map(asRow).map((row) => ({
    table: text(row, 'relname') as ChurningTable,
    live: int(row, 'live'),
    dead: int(row, 'dead'),
    modifiedSinceAnalyze: int(row, 'modified'),
    insertedSinceVacuum: int(row, 'inserted'),
    secondsSinceVacuum: seconds(row['since_vacuum']),
    secondsSinceAnalyze: seconds(row['since_analyze']),
  }));
}

function seconds(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
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
