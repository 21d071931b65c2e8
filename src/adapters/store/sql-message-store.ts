import type { AcceptOutcome, AckRecord, NotificationRecord, DeliveryStats, HistoryEntry, LetterIdentity, MessageFilter, MessagePage, MessageRecord, MessageStore, NewLetter } from '../../app/ports.js';
import { MalformedRequestError } from '../../app/errors.js';
import type { OdsCode, TrackingId } from '../../domain/ids.js';
import { statusEvent } from '../../domain/status-event.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { SqlDeliveryStore } from './sql-delivery-store.js';
import { SqlTimerStore } from './sql-timer-store.js';
import { SqlNotificationStore } from './sql-notification-store.js';
import { SqlPracticeStore } from './sql-practice-store.js';
import { enqueue, outboxRows, type OutboxRow } from './outbox.js';
import { MESSAGE_COLUMNS, asRow, bytes, int, text, toAckRecord, toHistoryEntry, toMessageRecord, toOpenLetters } from './rows.js';
import { MESSAGE_STATES, isFinalState } from '../../domain/message-state.js';

/** The non-final states as an SQL list (constants, not input). */
const OPEN_STATES = MESSAGE_STATES.filter((s) => !isFinalState(s))
  .map((s) => `'${s}'`)
  .join(', ');
import { UNIQUE_VIOLATION, sqlState, type SqlClient, type SqlExecutor } from './sql-client.js';

/**
 * MessageStore over one SQL dialect (PostgreSQL and PGlite). The contract is
 * the comment on MessageStore in app/ports.ts; test/integration/store-contract.ts
 * checks it against both engines.
 */
export class SqlMessageStore implements MessageStore {
  #closing: Promise<void> | undefined;

  constructor(
    private readonly db: SqlClient,
    /** Runs once the database is closed, e.g. to release the data directory lock. */
    private readonly afterClose: () => void = () => undefined,
  ) {}

  /** Practice activity and alarms on the same database. */
  practiceStore(): SqlPracticeStore {
    return new SqlPracticeStore(this.db);
  }

  /** HTTP notifications on the same database. */
  notificationStore(): SqlNotificationStore {
    return new SqlNotificationStore(this.db);
  }

  /** Durable timers on the same database. */
  timerStore(): SqlTimerStore {
    return new SqlTimerStore(this.db);
  }

  /** The delivery side (outbox, state changes, acks) on the same database. */
  deliveryStore(): SqlDeliveryStore {
    return new SqlDeliveryStore(this.db);
  }

  /**
   * One transaction: duplicate check, sequence, letter, history, outbox. Two
   * copies of one letter racing past the duplicate check meet at a unique
   * index; the loser rolls back (its sequence number with it) and is answered
   * as the duplicate it is.
   */
  async accept(letter: NewLetter): Promise<AcceptOutcome> {
    try {
      return await this.db.transaction(async (tx) => (await findDuplicate(tx, letter)) ?? (await insertLetter(tx, letter)));
    } catch (error) {
      if (sqlState(error) !== UNIQUE_VIOLATION) throw error;
      const duplicate = await findDuplicate(this.db, letter);
      if (duplicate === undefined) throw error;
      return duplicate;
    }
  }

  findDuplicate(letter: LetterIdentity): Promise<Extract<AcceptOutcome, { kind: 'duplicate' }> | undefined> {
    return findDuplicate(this.db, letter);
  }

  async get(trackingId: TrackingId): Promise<MessageRecord | undefined> {
    const { rows } = await this.db.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tracking_id = $1`, [trackingId]);
    return rows[0] === undefined ? undefined : toMessageRecord(rows[0]);
  }

  /** Served by the UNIQUE (destination, sequence) index. */
  async findBySequence(destination: OdsCode, sequence: number): Promise<MessageRecord | undefined> {
    if (!Number.isSafeInteger(sequence) || sequence < 1) return undefined;
    const { rows } = await this.db.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE destination = $1 AND sequence = $2`, [destination, sequence]);
    return rows[0] === undefined ? undefined : toMessageRecord(rows[0]);
  }

  async history(trackingId: TrackingId): Promise<readonly HistoryEntry[]> {
    const { rows } = await this.db.query(
      'SELECT at, from_state, to_state, cause FROM message_history WHERE tracking_id = $1 ORDER BY at, id',
      [trackingId],
    );
    return rows.map(toHistoryEntry);
  }

  async body(trackingId: TrackingId): Promise<Uint8Array | undefined> {
    const { rows } = await this.db.query('SELECT body FROM messages WHERE tracking_id = $1', [trackingId]);
    return rows[0] === undefined ? undefined : bytes(asRow(rows[0]), 'body');
  }

  async acks(trackingId: TrackingId): Promise<readonly AckRecord[]> {
    const { rows } = await this.db.query(
      `SELECT tracking_id, message_header_id, responds_to, practice, code, itk_codes, outcome, received_at
         FROM ack_log WHERE tracking_id = $1 ORDER BY received_at, id`,
      [trackingId],
    );
    return rows.map(toAckRecord);
  }

  notifications(trackingId: TrackingId): Promise<readonly NotificationRecord[]> {
    return this.notificationStore().forLetter(trackingId);
  }

  /** Keyset paging on (created_at, tracking_id), which the list indexes cover. */
  async list(filter: MessageFilter, now: Date): Promise<MessagePage> {
    if (!Number.isInteger(filter.limit) || filter.limit < 1 || filter.limit > 500) throw new RangeError('limit must be an integer 1..500');
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: (placeholder: string) => string, value: unknown) => {
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    if (filter.state !== undefined) add((p) => `state = ${p}`, filter.state);
    if (filter.destination !== undefined) add((p) => `destination = ${p}`, filter.destination);
    if (filter.since !== undefined) add((p) => `created_at >= ${p}`, filter.since);
    if (filter.overdue === true) add((p) => `next_deadline < ${p}`, now);
    if (filter.cursor !== undefined) {
      const after = decodeCursor(filter.cursor);
      if (after === undefined) throw new MalformedRequestError('The paging cursor is not valid');
      params.push(after.createdAt, after.trackingId);
      where.push(`(created_at, tracking_id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    params.push(filter.limit + 1);
    const sql = `SELECT ${MESSAGE_COLUMNS} FROM messages ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at, tracking_id LIMIT $${params.length}`;
    const records = (await this.db.query(sql, params)).rows.map(toMessageRecord);
    const items = records.slice(0, filter.limit);
    const last = items.at(-1);
    return { items, nextCursor: records.length > filter.limit && last !== undefined ? encodeCursor(last) : null };
  }

  /** Served by the state index (final states are excluded before grouping), so it stays cheap as filed letters pile up. */
  async deliveryStats(): Promise<DeliveryStats> {
    const open = await this.db.query(
      `SELECT destination, state, count(*) AS count, min(created_at) AS oldest FROM messages
        WHERE state IN (${OPEN_STATES}) GROUP BY destination, state ORDER BY destination, state`,
    );
    const outbox = await this.db.query('SELECT kind, count(*) AS count FROM outbox GROUP BY kind');
    const depth = { dispatch: 0, event: 0 };
    for (const row of outbox.rows.map(asRow)) depth[text(row, 'kind') === 'dispatch' ? 'dispatch' : 'event'] = int(row, 'count');
    return { open: open.rows.map(toOpenLetters), outbox: depth };
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  /** Idempotent; releases the data directory lock (embedded store) even when closing fails. */
  close(): Promise<void> {
    this.#closing ??= this.db.close().finally(() => this.afterClose());
    return this.#closing;
  }

  /** The outbox rows of one letter or of all, oldest first: for debugging and tests, not part of the port. */
  outboxRows(trackingId?: TrackingId): Promise<OutboxRow[]> {
    return outboxRows(this.db, trackingId);
  }
}

/** The held letter with this `MessageHeader.id` (preferred) or this sender + `Bundle.identifier`. */
async function findDuplicate(db: SqlExecutor, letter: LetterIdentity): Promise<Extract<AcceptOutcome, { kind: 'duplicate' }> | undefined> {
  const { rows } = await db.query(
    `SELECT tracking_id, content_hash FROM messages
      WHERE message_header_id = $1 OR (sender = $2 AND bundle_identifier = $3)
      ORDER BY (message_header_id = $1) DESC, created_at LIMIT 1`,
    [letter.messageHeaderId, letter.sender, letter.bundleIdentifier],
  );
  if (rows[0] === undefined) return undefined;
  const row = asRow(rows[0]);
  return { kind: 'duplicate', trackingId: text(row, 'tracking_id') as TrackingId, sameContent: text(row, 'content_hash') === letter.contentHash };
}

/**
 * The custody writes. The sequence comes from an upsert whose row lock
 * serialises one practice's acceptances until commit; a rollback returns the
 * number, so sequences stay gap-free across failures and instances.
 */
async function insertLetter(tx: SqlExecutor, letter: NewLetter): Promise<AcceptOutcome> {
  const counter = await tx.query(
    `INSERT INTO practice_sequences (ods, last_sequence) VALUES ($1, 1)
     ON CONFLICT (ods) DO UPDATE SET last_sequence = practice_sequences.last_sequence + 1
     RETURNING last_sequence`,
    [letter.destination],
  );
  const sequence = int(asRow(counter.rows[0]), 'last_sequence');
  const inserted = await tx.query(
    `INSERT INTO messages (tracking_id, message_header_id, sender, bundle_identifier, content_hash, event_code, destination,
       state, version, attempts, sequence, body, created_at, updated_at, next_deadline, deadline_at, reply_to)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', 1, 0, $8, $9, $10, $10, $11, $11, $12)
     RETURNING ${MESSAGE_COLUMNS}`,
    [
      letter.trackingId,
      letter.messageHeaderId,
      letter.sender,
      letter.bundleIdentifier,
      letter.contentHash,
      letter.event,
      letter.destination,
      sequence,
      letter.body,
      letter.acceptedAt,
      letter.deadlineAt,
      letter.replyTo,
    ],
  );
  await tx.query(
    `INSERT INTO message_history (tracking_id, at, from_state, to_state, cause) VALUES ($1, $2, NULL, 'received', 'accepted')`,
    [letter.trackingId, letter.acceptedAt],
  );
  const event = statusEvent(letter, 'received', null, letter.acceptedAt, null).body;
  await enqueue(
    tx,
    letter.trackingId,
    [
      { kind: 'dispatch', payload: { trackingId: letter.trackingId } },
      { kind: 'event', payload: { ...event, destination: letter.destination } },
    ],
    letter.acceptedAt,
  );
  return { kind: 'accepted', record: toMessageRecord(inserted.rows[0]) };
}
