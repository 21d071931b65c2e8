import { expect } from 'chai';
import { migrate } from '../../src/adapters/store/migrations.js';
import { openPgliteClient } from '../../src/adapters/store/pglite-client.js';
import { openPgClient } from '../../src/adapters/store/pg-client.js';
import type { SqlClient } from '../../src/adapters/store/sql-client.js';
import { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import { churningTableActivity, GROWN_TABLE_ROWS, NAPTIME_SECONDS } from '../../src/adapters/store/vacuum.js';
import { dropSchema, randomSchema, TEST_DATABASE_URL } from '../support/postgres.js';
import { newLetter } from './store-contract.js';

/**
 * Courier's own vacuum (src/adapters/store/vacuum.ts) where no autovacuum
 * runs: PGlite never has one, so the embedded store must ask for it, and a
 * vacuum must leave the churning tables without dead rows and analyzed.
 */
describe('own vacuum of the churning tables (embedded store)', function () {
  this.timeout(60_000);

  it('is needed on PGlite, and clears dead outbox and messages rows and refreshes statistics', async () => {
    const sql = await openPgliteClient(undefined);
    await migrate(sql);
    const store = new SqlMessageStore(sql);
    try {
      expect(await store.needsOwnVacuum()).to.equal(true);
      const delivery = store.deliveryStore();
      for (let i = 0; i < 20; i++) await store.accept(newLetter());
      const now = new Date(Date.now() + 60_000);
      const claimed = await delivery.claimOutbox(100, now, new Date(now.getTime() + 60_000));
      await delivery.completeOutbox([...claimed.dispatches.map((d) => d.outboxId), ...claimed.events.map((e) => e.outboxId)]);
      const dead = async (table: string) => {
        await sql.query('SELECT pg_stat_force_next_flush()');
        const { rows } = await sql.query('SELECT n_dead_tup AS dead, last_vacuum AS vacuumed, last_analyze AS analyzed FROM pg_stat_user_tables WHERE relname = $1', [table]);
        return rows[0] as { dead: number | string; vacuumed: Date | null; analyzed: Date | null };
      };
      expect(Number((await dead('outbox')).dead), 'the claimed and completed outbox rows are dead until vacuumed').to.be.at.least(40);
      expect((await dead('outbox')).vacuumed).to.equal(null);
      await store.vacuum();
      for (const table of ['outbox', 'messages', 'message_history', 'ack_log', 'notifications']) {
        const stats = await dead(table);
        expect(Number(stats.dead), table).to.equal(0);
        expect(stats.vacuumed, table).to.be.instanceOf(Date);
        expect(stats.analyzed, table).to.be.instanceOf(Date);
      }
    } finally {
      await store.close();
    }
  });

  it('works, at autovacuum\'s thresholds, only on the tables that need it: vacuums the churned outbox, analyzes the grown messages table', async () => {
    const sql = await openPgliteClient(undefined);
    await migrate(sql);
    const store = new SqlMessageStore(sql);
    try {
      const delivery = store.deliveryStore();
      for (let i = 0; i < 60; i++) await store.accept(newLetter());
      const now = new Date(Date.now() + 60_000);
      const claimed = await delivery.claimOutbox(200, now, new Date(now.getTime() + 60_000));
      await delivery.completeOutbox([...claimed.dispatches.map((d) => d.outboxId), ...claimed.events.map((e) => e.outboxId)]);
      await sql.query('SELECT pg_stat_force_next_flush()');
      expect(await store.upkeep()).to.equal(3); // outbox (120 dead), messages and message_history (60 new rows each)
      const { rows } = await sql.query(
        `SELECT relname, n_dead_tup AS dead, last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analyzed
           FROM pg_stat_user_tables WHERE relname = ANY($1::text[]) ORDER BY relname`,
        [['outbox', 'messages', 'message_history', 'ack_log', 'notifications']],
      );
      expect(rows.map((r) => ({ ...(r as Record<string, unknown>), dead: Number((r as { dead: unknown }).dead) }))).to.deep.equal([
        { relname: 'ack_log', dead: 0, vacuumed: false, analyzed: false },
        { relname: 'message_history', dead: 0, vacuumed: false, analyzed: true },
        { relname: 'messages', dead: 0, vacuumed: false, analyzed: true },
        { relname: 'notifications', dead: 0, vacuumed: false, analyzed: false },
        { relname: 'outbox', dead: 0, vacuumed: true, analyzed: true },
      ]);
      await sql.query('SELECT pg_stat_force_next_flush()');
      expect(await store.upkeep(), 'nothing left to do').to.equal(0);
    } finally {
      await store.close();
    }
  });
});

/**
 * A grown table is worked on at most once per autovacuum naptime (vacuum.ts):
 * the time since its last vacuum is read from the statistics views of both
 * engines, and a table vacuumed moments ago is left however far past the
 * thresholds it is.
 */
for (const engine of ['PGlite', 'PostgreSQL'] as const) {
  describe(`own vacuum of a grown table (${engine})`, function () {
    this.timeout(60_000);
    const schema = randomSchema();
    if (engine === 'PostgreSQL') after(() => dropSchema(schema));
    const open = (): Promise<SqlClient> => (engine === 'PGlite' ? openPgliteClient(undefined) : openPgClient({ url: TEST_DATABASE_URL, schema }));

    it('is left for a naptime after its last vacuum, then vacuumed when past the thresholds', async () => {
      const sql = await open();
      await migrate(sql);
      const store = new SqlMessageStore(sql);
      const addAcks = (n: number) =>
        sql.query(
          `INSERT INTO ack_log (message_header_id, responds_to, code, outcome, received_at)
             SELECT 'h' || i, 'r' || i, 'ok', 'unknown-letter', now() FROM generate_series(1, $1::int) AS i`,
          [n],
        );
      const ackLog = async () => {
        await sql.query('SELECT pg_stat_force_next_flush()');
        const activity = (await churningTableActivity(sql)).find((a) => a.table === 'ack_log');
        if (activity === undefined) throw new Error('no statistics for ack_log');
        return activity;
      };
      try {
        await addAcks(GROWN_TABLE_ROWS);
        expect((await ackLog()).secondsSinceVacuum, 'never vacuumed').to.equal(null);
        await store.upkeep(); // inserts past 1,000 + 20 %: vacuumed now
        const vacuumed = await ackLog();
        expect(vacuumed.live).to.be.at.least(GROWN_TABLE_ROWS);
        expect(vacuumed.secondsSinceVacuum).to.be.within(0, NAPTIME_SECONDS / 2);
        expect(vacuumed.secondsSinceAnalyze).to.be.within(0, NAPTIME_SECONDS / 2);
        expect(vacuumed.insertedSinceVacuum).to.equal(0);

        await addAcks(GROWN_TABLE_ROWS); // past the insert threshold again
        await store.upkeep();
        expect((await ackLog()).insertedSinceVacuum, 'left: vacuumed less than a naptime ago').to.equal(GROWN_TABLE_ROWS);
      } finally {
        await store.close();
      }
    });
  });
}
