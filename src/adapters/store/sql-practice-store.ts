import type { PracticeAlarmChange, PracticeReconciliation, PracticeStore } from '../../app/ports.js';
import type { PracticeActivity } from '../../domain/practice-silence.js';
import { asRow, date, int, text } from './rows.js';
import { enqueueNotifications } from './sql-notification-store.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';

/** Letters sent and awaiting the practice's answer. */
const AWAITING = "'dispatched', 'retrying', 'delivered'";

/** PracticeStore over the shared SQL. */
export class SqlPracticeStore implements PracticeStore {
  constructor(private readonly db: SqlClient) {}

  async activity(): Promise<ReadonlyMap<string, PracticeActivity>> {
    const awaiting = await this.db.query(
      `SELECT destination, count(*) AS count, min(updated_at) AS since FROM messages WHERE state IN (${AWAITING}) GROUP BY destination`,
    );
    // Each practice's latest ack. Refused acks (wrong practice, unproven broker user) are not the practice speaking.
    // Walked through the (practice, received_at) index, a few probes per practice: the ack log keeps every ack for
    // years, and grouping all of it (as this did) read the whole table on every check.
    const acks = await this.db.query(
      `WITH RECURSIVE practices (practice) AS (
         (SELECT practice FROM ack_log WHERE practice IS NOT NULL ORDER BY practice LIMIT 1)
         UNION ALL
         SELECT (SELECT a.practice FROM ack_log a WHERE a.practice > p.practice ORDER BY a.practice LIMIT 1) FROM practices p WHERE p.practice IS NOT NULL)
       SELECT * FROM (
         SELECT p.practice, (SELECT a.received_at FROM ack_log a WHERE a.practice = p.practice AND a.outcome NOT LIKE 'refused%'
                              ORDER BY a.received_at DESC LIMIT 1) AS last
           FROM practices p WHERE p.practice IS NOT NULL) AS latest
        WHERE last IS NOT NULL`,
    );
    const result = new Map<string, { awaiting: number; oldestAwaitingSince: Date | null; lastAckAt: Date | null }>();
    const entry = (ods: string) => result.get(ods) ?? { awaiting: 0, oldestAwaitingSince: null, lastAckAt: null };
    for (const row of awaiting.rows.map(asRow)) {
      const ods = text(row, 'destination');
      result.set(ods, { ...entry(ods), awaiting: int(row, 'count'), oldestAwaitingSince: date(row, 'since') });
    }
    for (const row of acks.rows.map(asRow)) {
      const ods = text(row, 'practice');
      result.set(ods, { ...entry(ods), lastAckAt: date(row, 'last') });
    }
    return result;
  }

  async reconciliation(ods: string): Promise<PracticeReconciliation> {
    const { rows } = await this.db.query(
      `SELECT count(*) AS accepted,
              count(*) FILTER (WHERE attempts > 0) AS sent,
              count(*) FILTER (WHERE state IN ('delivered', 'filed', 'rejected')) AS delivered,
              count(*) FILTER (WHERE state = 'filed') AS filed,
              count(*) FILTER (WHERE state = 'rejected') AS rejected,
              count(*) FILTER (WHERE state NOT IN ('filed', 'rejected', 'cancelled', 'resolved')) AS open,
              count(*) FILTER (WHERE state = 'escalated') AS escalated,
              min(created_at) FILTER (WHERE state NOT IN ('filed', 'rejected', 'cancelled', 'resolved')) AS oldest_open
         FROM messages WHERE destination = $1`,
      [ods],
    );
    const row = asRow(rows[0]);
    return {
      accepted: int(row, 'accepted'),
      sent: int(row, 'sent'),
      delivered: int(row, 'delivered'),
      filed: int(row, 'filed'),
      rejected: int(row, 'rejected'),
      open: int(row, 'open'),
      escalated: int(row, 'escalated'),
      oldestOpenAcceptedAt: row['oldest_open'] === null ? null : date(row, 'oldest_open'),
    };
  }

  async activeAlarms(): Promise<ReadonlyMap<string, Date>> {
    const { rows } = await this.db.query('SELECT ods, raised_at FROM practice_alarms WHERE cleared_at IS NULL');
    return new Map(rows.map(asRow).map((row) => [text(row, 'ods'), date(row, 'raised_at')]));
  }

  /**
   * Raises the alarm unless it is already up: the row is the guard, so of
   * several instances checking at once exactly one raises it and writes its
   * event and notifications, in the same transaction.
   */
  raise(change: PracticeAlarmChange): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query(
        `INSERT INTO practice_alarms (ods, raised_at, cleared_at) VALUES ($1, $2, NULL)
         ON CONFLICT (ods) DO UPDATE SET raised_at = $2, cleared_at = NULL WHERE practice_alarms.cleared_at IS NOT NULL
         RETURNING ods`,
        [change.ods, change.at],
      );
      if (rows.length === 0) return false;
      await writeWork(tx, change);
      return true;
    });
  }

  /** Clears a raised alarm, once, with its event. */
  clear(change: PracticeAlarmChange): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query('UPDATE practice_alarms SET cleared_at = $2 WHERE ods = $1 AND cleared_at IS NULL RETURNING ods', [change.ods, change.at]);
      if (rows.length === 0) return false;
      await writeWork(tx, change);
      return true;
    });
  }
}

/** The practice event as an outbox `event` row (routing key `<state>.<ods>`) and any notifications. */
async function writeWork(tx: SqlExecutor, change: PracticeAlarmChange): Promise<void> {
  await tx.query(`INSERT INTO outbox (tracking_id, kind, payload, available_at, created_at) VALUES (NULL, 'event', $1::jsonb, $2, $2)`, [
    JSON.stringify({ ...change.event, destination: change.ods }),
    change.at,
  ]);
  await enqueueNotifications(tx, change.notifications, null, change.at);
}
