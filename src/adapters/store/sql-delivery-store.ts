import type { AckRecord, DeliveryStore, DispatchWork, EventWork, LetterChange, MessageRecord } from '../../app/ports.js';
import type { OdsCode, TrackingId } from '../../domain/ids.js';
import { statusEvent } from '../../domain/status-event.js';
import { MESSAGE_COLUMNS, asRow, bytes, int, text, toMessageRecord } from './rows.js';
import type { SqlClient } from './sql-client.js';

/**
 * DeliveryStore over the same SQL as SqlMessageStore. Outbox claims use
 * `FOR UPDATE SKIP LOCKED` plus a lease, so several Courier instances on one
 * PostgreSQL share the work and a crashed claimer's rows come back when its
 * lease ends.
 */
export class SqlDeliveryStore implements DeliveryStore {
  constructor(private readonly db: SqlClient) {}

  /**
   * One statement: claims the rows and, for `dispatch` rows, reads the
   * letter's routing facts and exact bytes in the same pass (a join, not a
   * query per letter). The letter columns read are fixed at acceptance, and
   * the outbox row references the letter, so the join always finds it.
   */
  async claimOutbox(limit: number, now: Date, leaseUntil: Date): Promise<{ dispatches: DispatchWork[]; events: EventWork[] }> {
    const { rows } = await this.db.query(
      `WITH claimed AS (
         UPDATE outbox SET claimed_until = $3, attempts = attempts + 1
          WHERE id IN (SELECT id FROM outbox WHERE available_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
                        ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING id, tracking_id, kind, payload)
       SELECT c.id, c.tracking_id, c.kind, c.payload,
              m.message_header_id, m.destination, m.event_code, m.sequence, m.attempts, m.body
         FROM claimed c LEFT JOIN messages m ON c.kind = 'dispatch' AND m.tracking_id = c.tracking_id
        ORDER BY c.id`,
      [now, limit, leaseUntil],
    );
    const dispatches: DispatchWork[] = [];
    const events: EventWork[] = [];
    for (const row of rows.map(asRow).sort((a, b) => int(a, 'id') - int(b, 'id'))) {
      const payload = row['payload'] as Record<string, unknown>;
      if (text(row, 'kind') === 'event') {
        events.push({ outboxId: int(row, 'id'), routingKey: `${String(payload['state'])}.${String(payload['destination'])}`, body: withoutDestination(payload) });
      } else if (row['message_header_id'] !== null) {
        dispatches.push({
          outboxId: int(row, 'id'),
          trackingId: text(row, 'tracking_id') as TrackingId,
          messageHeaderId: text(row, 'message_header_id'),
          destination: text(row, 'destination') as OdsCode,
          event: text(row, 'event_code'),
          sequence: int(row, 'sequence'),
          attempt: typeof payload['attempt'] === 'number' ? payload['attempt'] : int(row, 'attempts') + 1,
          body: bytes(row, 'body'),
        });
      }
    }
    return { dispatches, events };
  }

  async completeOutbox(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.db.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [ids]);
  }

  async releaseOutbox(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.db.query('UPDATE outbox SET claimed_until = NULL WHERE id = ANY($1::bigint[])', [ids]);
  }

  /**
   * One statement, so atomic without a transaction: the versioned update,
   * and only if it matched, the history entry, the outbox rows (status
   * event, then publish, in id order) and the HTTP notifications. The status event is built by the
   * domain; the two fields that come from the row (`messageHeaderId`,
   * `destination`) are filled in from the updated row.
   */
  async applyChange(trackingId: TrackingId, expectedVersion: number, change: LetterChange): Promise<boolean> {
    const event =
      change.event === undefined
        ? null
        : JSON.stringify(statusEvent({ trackingId, messageHeaderId: '', destination: '' }, change.state, change.event.previousState, change.at, change.event.reason).body);
    const dispatch = change.publishAttempt === undefined ? null : JSON.stringify({ trackingId, attempt: change.publishAttempt });
    const { rows } = await this.db.query(
      `WITH changed AS (
         UPDATE messages SET state = $3, attempts = $4, next_deadline = $5, deadline_at = $6, updated_at = $7, version = version + 1
          WHERE tracking_id = $1 AND version = $2
          RETURNING tracking_id, message_header_id, destination),
       history AS (
         INSERT INTO message_history (tracking_id, at, from_state, to_state, cause)
         SELECT tracking_id, $7::timestamptz, $8::text, $3::text, $9::text FROM changed WHERE $10::jsonb IS NOT NULL),
       work AS (
         INSERT INTO outbox (tracking_id, kind, payload, available_at, created_at)
         SELECT c.tracking_id, w.kind, w.payload, $7::timestamptz, $7::timestamptz
           FROM changed c CROSS JOIN LATERAL (VALUES
             (1, 'event', jsonb_set($10::jsonb, '{messageHeaderId}', to_jsonb(c.message_header_id)) || jsonb_build_object('destination', c.destination)),
             (2, 'dispatch', $11::jsonb)) AS w (ord, kind, payload)
          WHERE w.payload IS NOT NULL
          ORDER BY w.ord),
       notes AS (
         INSERT INTO notifications (tracking_id, practice, kind, url, payload, available_at, created_at)
         SELECT c.tracking_id, n ->> 'practice', n ->> 'kind', n ->> 'url', n -> 'payload', $7::timestamptz, $7::timestamptz
           FROM changed c CROSS JOIN jsonb_array_elements($12::jsonb) AS n)
       SELECT count(*) AS changed FROM changed`,
      [
        trackingId,
        expectedVersion,
        change.state,
        change.attempts,
        change.nextDeadline,
        change.deadlineAt,
        change.at,
        change.event?.previousState ?? null,
        change.cause,
        event,
        dispatch,
        JSON.stringify((change.notifications ?? []).map((n) => ({ kind: n.kind, url: n.url, payload: n.payload, practice: n.practice ?? null }))),
      ],
    );
    return int(asRow(rows[0]), 'changed') === 1;
  }

  async findByMessageHeaderId(messageHeaderId: string): Promise<MessageRecord | undefined> {
    const { rows } = await this.db.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE message_header_id = $1`, [messageHeaderId]);
    return rows[0] === undefined ? undefined : toMessageRecord(rows[0]);
  }

  async due(now: Date, limit: number): Promise<readonly MessageRecord[]> {
    const { rows } = await this.db.query(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE next_deadline IS NOT NULL AND next_deadline <= $1 ORDER BY next_deadline LIMIT $2`,
      [now, limit],
    );
    return rows.map(toMessageRecord);
  }

  async recordAck(ack: AckRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO ack_log (tracking_id, message_header_id, responds_to, practice, code, itk_codes, outcome, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [ack.trackingId, ack.messageHeaderId, ack.respondsTo, ack.practice, ack.code, [...ack.itkCodes], ack.outcome, ack.receivedAt],
    );
  }
}

function withoutDestination(payload: Record<string, unknown>): Record<string, unknown> {
  const { destination: _destination, ...body } = payload;
  return body;
}
