import type { TrackingId } from '../../domain/ids.js';
import type { StatusEvent } from '../../domain/status-event.js';
import { asRow, date, int, nullableText, text } from './rows.js';
import type { SqlExecutor } from './sql-client.js';

/**
 * The outbox: work the relay must hand to the broker, written in the same
 * transaction as the state change that caused it, so a letter is never held
 * without the promise to send it (DESIGN §1).
 */
export type OutboxKind = 'dispatch' | 'event' | 'events';

/** `dispatch`: publish the letter's stored bytes to its practice queue. */
export interface DispatchPayload {
  readonly trackingId: string;
}

/** `event`: publish this status event with routing key `<state>.<destination>`. */
export interface EventPayload extends StatusEvent {
  readonly destination: string;
}

/**
 * `events`: the status events of one statement (an acceptance or a batch of
 * state changes), in order, each published like an `event` row. The row is
 * done with only when all are confirmed; if not, all go again (receivers of
 * status events already see repeats after a crash). It belongs to no one
 * letter: its `tracking_id` is null.
 */
export type EventsPayload = readonly EventPayload[];

export interface OutboxRow {
  readonly id: number;
  /** Null for rows of no one letter: `events` rows and practice alarm events. */
  readonly trackingId: TrackingId | null;
  readonly kind: OutboxKind;
  /** As stored (jsonb); the relay narrows it by `kind`. */
  readonly payload: unknown;
  readonly availableAt: Date;
  readonly claimedUntil: Date | null;
  readonly attempts: number;
  readonly createdAt: Date;
}

/**
 * The outbox rows, oldest first, of one letter or of all: for debugging,
 * operator tooling and tests. Not part of the MessageStore port.
 */
export async function outboxRows(db: SqlExecutor, trackingId?: TrackingId): Promise<OutboxRow[]> {
  const columns = 'id, tracking_id, kind, payload, available_at, claimed_until, attempts, created_at';
  // A letter's rows include the `events` rows that hold one of its events.
  const { rows } =
    trackingId === undefined
      ? await db.query(`SELECT ${columns} FROM outbox ORDER BY id`)
      : await db.query(`SELECT ${columns} FROM outbox WHERE tracking_id = $1 OR (kind = 'events' AND payload @> $2::jsonb) ORDER BY id`, [
          trackingId,
          JSON.stringify([{ trackingId }]),
        ]);
  return rows.map(toOutboxRow);
}

function toOutboxRow(value: unknown): OutboxRow {
  const row = asRow(value);
  const kind = text(row, 'kind');
  if (kind !== 'dispatch' && kind !== 'event' && kind !== 'events') throw new TypeError('column kind holds an unknown outbox kind');
  return {
    id: int(row, 'id'),
    trackingId: nullableText(row, 'tracking_id') as TrackingId | null,
    kind,
    payload: row['payload'],
    availableAt: date(row, 'available_at'),
    claimedUntil: row['claimed_until'] === null ? null : date(row, 'claimed_until'),
    attempts: int(row, 'attempts'),
    createdAt: date(row, 'created_at'),
  };
}
