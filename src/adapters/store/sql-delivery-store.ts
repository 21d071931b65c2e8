import type { AckRecord, DeliveryStore, DispatchWork, EventWork, LetterChange, MessageRecord } from '../../app/ports.js';
import type { OdsCode, TrackingId } from '../../domain/ids.js';
import { statusEvent } from '../../domain/status-event.js';
import { enqueue, type OutboxEntry } from './outbox.js';
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

  async claimOutbox(limit: number, now: Date, leaseUntil: Date): Promise<{ dispatches: DispatchWork[]; events: EventWork[] }> {
    const claimed = await this.db.transaction(async (tx) => {
      const { rows } = await tx.query(
        `UPDATE outbox SET claimed_until = $3, attempts = attempts + 1
          WHERE id IN (SELECT id FROM outbox WHERE available_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
                        ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING id, tracking_id, kind, payload`,
        [now, limit, leaseUntil],
      );
      return rows.map(asRow);
    });
    const dispatches: DispatchWork[] = [];
    const events: EventWork[] = [];
    for (const row of claimed.sort((a, b) => int(a, 'id') - int(b, 'id'))) {
      const payload = row['payload'] as Record<string, unknown>;
      if (text(row, 'kind') === 'event') {
        events.push({ outboxId: int(row, 'id'), routingKey: `${String(payload['state'])}.${String(payload['destination'])}`, body: withoutDestination(payload) });
      } else {
        const work = await this.dispatchWork(int(row, 'id'), text(row, 'tracking_id') as TrackingId, payload);
        if (work !== undefined) dispatches.push(work);
      }
    }
    return { dispatches, events };
  }

  private async dispatchWork(outboxId: number, trackingId: TrackingId, payload: Record<string, unknown>): Promise<DispatchWork | undefined> {
    const { rows } = await this.db.query('SELECT message_header_id, destination, event_code, sequence, attempts, body FROM messages WHERE tracking_id = $1', [trackingId]);
    if (rows[0] === undefined) return undefined;
    const row = asRow(rows[0]);
    const attempt = typeof payload['attempt'] === 'number' ? payload['attempt'] : int(row, 'attempts') + 1;
    return {
      outboxId,
      trackingId,
      messageHeaderId: text(row, 'message_header_id'),
      destination: text(row, 'destination') as OdsCode,
      event: text(row, 'event_code'),
      sequence: int(row, 'sequence'),
      attempt,
      body: bytes(row, 'body'),
    };
  }

  async completeOutbox(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.db.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [ids]);
  }

  async releaseOutbox(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.db.query('UPDATE outbox SET claimed_until = NULL WHERE id = ANY($1::bigint[])', [ids]);
  }

  async applyChange(trackingId: TrackingId, expectedVersion: number, change: LetterChange): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query(
        `UPDATE messages SET state = $3, attempts = $4, next_deadline = $5, deadline_at = $6, updated_at = $7, version = version + 1
          WHERE tracking_id = $1 AND version = $2
          RETURNING tracking_id, message_header_id, destination, state`,
        [trackingId, expectedVersion, change.state, change.attempts, change.nextDeadline, change.deadlineAt, change.at],
      );
      if (rows[0] === undefined) return false;
      const row = asRow(rows[0]);
      const entries: OutboxEntry[] = [];
      if (change.event !== undefined) {
        await tx.query('INSERT INTO message_history (tracking_id, at, from_state, to_state, cause) VALUES ($1, $2, $3, $4, $5)', [
          trackingId, change.at, change.event.previousState, change.state, change.cause,
        ]);
        const letter = { trackingId, messageHeaderId: text(row, 'message_header_id'), destination: text(row, 'destination') };
        const routed = statusEvent(letter, change.state, change.event.previousState, change.at, change.event.reason);
        entries.push({ kind: 'event', payload: { ...routed.body, destination: letter.destination } });
      }
      if (change.publishAttempt !== undefined) entries.push({ kind: 'dispatch', payload: { trackingId, attempt: change.publishAttempt } as { trackingId: string } });
      await enqueue(tx, trackingId, entries, change.at);
      return true;
    });
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
