import type { NewNotification, NotificationKind, NotificationRecord, NotificationStore, PendingNotification } from '../../app/ports.js';
import type { TrackingId } from '../../domain/ids.js';
import { asRow, date, int, nullableText, text } from './rows.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';

const KINDS: readonly string[] = ['escalation-webhook', 'sender-response', 'practice-alarm-webhook'];

/** NotificationStore over the shared SQL; claims like the outbox (SKIP LOCKED + lease). */
export class SqlNotificationStore implements NotificationStore {
  constructor(private readonly db: SqlClient) {}

  enqueue(notifications: readonly NewNotification[], trackingId: TrackingId | null, at: Date): Promise<void> {
    return enqueueNotifications(this.db, notifications, trackingId, at);
  }

  async claimDue(now: Date, limit: number, leaseUntil: Date): Promise<readonly PendingNotification[]> {
    const { rows } = await this.db.query(
      `UPDATE notifications SET claimed_until = $3
        WHERE id = ANY(ARRAY(SELECT id FROM notifications
                      WHERE delivered_at IS NULL AND available_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
                      ORDER BY available_at, id LIMIT $2 FOR UPDATE SKIP LOCKED))
        RETURNING id, kind, url, payload, attempts, tracking_id`,
      [now, limit, leaseUntil],
    );
    return rows
      .map(asRow)
      .map((row) => ({
        id: int(row, 'id'),
        kind: kind(row),
        url: nullableText(row, 'url'),
        payload: row['payload'],
        attempts: int(row, 'attempts'),
        trackingId: nullableText(row, 'tracking_id') as TrackingId | null,
      }))
      .sort((a, b) => a.id - b.id);
  }

  async delivered(id: number, at: Date, note?: string): Promise<void> {
    await this.db.query('UPDATE notifications SET delivered_at = $2, claimed_until = NULL, last_error = COALESCE($3, last_error) WHERE id = $1', [id, at, note ?? null]);
  }

  async failed(id: number, error: string, retryAt: Date): Promise<void> {
    await this.db.query('UPDATE notifications SET attempts = attempts + 1, last_error = $2, available_at = $3, claimed_until = NULL WHERE id = $1', [id, error, retryAt]);
  }

  async forLetter(trackingId: TrackingId): Promise<readonly NotificationRecord[]> {
    const { rows } = await this.db.query(
      'SELECT kind, created_at, attempts, delivered_at, last_error, available_at FROM notifications WHERE tracking_id = $1 ORDER BY id',
      [trackingId],
    );
    return rows.map(asRow).map((row) => ({
      kind: kind(row),
      createdAt: date(row, 'created_at'),
      attempts: int(row, 'attempts'),
      deliveredAt: row['delivered_at'] === null ? null : date(row, 'delivered_at'),
      lastError: nullableText(row, 'last_error'),
      nextAttemptAt: date(row, 'available_at'),
    }));
  }

  async pending(): Promise<readonly { kind: NotificationKind; count: number; oldestCreatedAt: Date }[]> {
    const { rows } = await this.db.query(
      'SELECT kind, count(*) AS count, min(created_at) AS oldest FROM notifications WHERE delivered_at IS NULL GROUP BY kind ORDER BY kind',
    );
    return rows.map(asRow).map((row) => ({ kind: kind(row), count: int(row, 'count'), oldestCreatedAt: date(row, 'oldest') }));
  }
}

/** Adds notifications inside the caller's transaction (or alone). */
export async function enqueueNotifications(db: SqlExecutor, notifications: readonly NewNotification[], trackingId: TrackingId | null, at: Date): Promise<void> {
  for (const n of notifications) {
    await db.query(
      `INSERT INTO notifications (tracking_id, practice, kind, url, payload, available_at, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $6)`,
      [trackingId, n.practice ?? null, n.kind, n.url, JSON.stringify(n.payload), at],
    );
  }
}

function kind(row: Record<string, unknown>): NotificationKind {
  const value = text(row, 'kind');
  if (!KINDS.includes(value)) throw new TypeError('column kind holds an unknown notification kind');
  return value as NotificationKind;
}
