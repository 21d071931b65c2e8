import type { MessageRecord, TimerStore } from '../../app/ports.js';
import type { TrackingId } from '../../domain/ids.js';
import { MESSAGE_COLUMNS, toMessageRecord } from './rows.js';
import type { SqlClient } from './sql-client.js';

/**
 * TimerStore over the shared SQL. Claims use `FOR UPDATE SKIP LOCKED` and a
 * lease column (`timer_claimed_until`) that is not part of the letter's
 * version, so a claim never makes a concurrent state change fail.
 */
export class SqlTimerStore implements TimerStore {
  constructor(private readonly db: SqlClient) {}

  /** `= ANY(ARRAY(…))`, not `IN (…)`: the update finds the claimed rows by primary key, never by scanning every letter. */
  async claimDue(now: Date, limit: number, leaseUntil: Date): Promise<readonly MessageRecord[]> {
    const { rows } = await this.db.query(
      `UPDATE messages SET timer_claimed_until = $3
        WHERE tracking_id = ANY(ARRAY(
          SELECT tracking_id FROM messages
           WHERE next_deadline IS NOT NULL AND next_deadline <= $1
             AND (timer_claimed_until IS NULL OR timer_claimed_until < $1)
           ORDER BY next_deadline LIMIT $2 FOR UPDATE SKIP LOCKED))
        RETURNING ${MESSAGE_COLUMNS}`,
      [now, limit, leaseUntil],
    );
    return rows.map(toMessageRecord).sort((a, b) => (a.nextDeadline?.getTime() ?? 0) - (b.nextDeadline?.getTime() ?? 0));
  }

  async releaseTimers(trackingIds: readonly TrackingId[]): Promise<void> {
    if (trackingIds.length > 0) await this.db.query('UPDATE messages SET timer_claimed_until = NULL WHERE tracking_id = ANY($1::uuid[])', [trackingIds]);
  }
}
