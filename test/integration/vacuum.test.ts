import { expect } from 'chai';
import { migrate } from '../../src/adapters/store/migrations.js';
import { openPgliteClient } from '../../src/adapters/store/pglite-client.js';
import { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
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
