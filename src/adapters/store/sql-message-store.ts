import type { AcceptOutcome, AckRecord, NotificationRecord, DeliveryStats, HistoryEntry, LetterIdentity, MessageFilter, MessagePage, MessageRecord, MessageStore, NewLetter } from '../../app/ports.js';
import { MalformedRequestError } from '../../app/errors.js';
import type { OdsCode, TrackingId } from '../../domain/ids.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { SqlDeliveryStore } from './sql-delivery-store.js';
import { SqlTimerStore } from './sql-timer-store.js';
import { SqlNotificationStore } from './sql-notification-store.js';
import { SqlPracticeStore } from './sql-practice-store.js';
import { outboxRows, type OutboxRow } from './outbox.js';
import { acceptBatch, findDuplicate } from './accept-letters.js';
import { autovacuumRuns, upkeepChurningTables } from './vacuum.js';
import { GroupCommit } from '../../platform/group-commit.js';
import { MESSAGE_COLUMNS, asRow, bytes, int, toAckRecord, toHistoryEntry, toMessageRecord, toOpenLetters } from './rows.js';
import { MESSAGE_STATES, isFinalState } from '../../domain/message-state.js';

/** The non-final states as an SQL list (constants, not input). */
const OPEN_STATES = MESSAGE_STATES.filter((s) => !isFinalState(s))
  .map((s) => `'${s}'`)
  .join(', ');
import type { SqlClient } from './sql-client.js';

/**
 * MessageStore over one SQL dialect (PostgreSQL and PGlite). The contract is
 * the comment on MessageStore in app/ports.ts; test/integration/store-contract.ts
 * checks it against both engines.
 */
export class SqlMessageStore implements MessageStore {
  #closing: Promise<void> | undefined;
  /** 64 letters × ~10 KiB per statement at most; under load a batch is as large as the letters that came in while the last one was written. */
  readonly #accepts = new GroupCommit<NewLetter, AcceptOutcome>((letters) => acceptBatch(this.db, letters), { maxBatch: 64 });

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
   * Duplicate check, sequence, letter, history, outbox: all or nothing
   * (accept-letters.ts). Concurrent acceptances are group-committed: while
   * one batch is being written, new letters wait and go together in the next.
   */
  accept(letter: NewLetter): Promise<AcceptOutcome> {
    return this.#accepts.submit(letter);
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
    // Status events are counted one by one, however they are stored (outbox.ts).
    const outbox = await this.db.query(
      `SELECT kind = 'dispatch' AS dispatch, sum(CASE WHEN kind = 'events' THEN jsonb_array_length(payload) ELSE 1 END) AS count FROM outbox GROUP BY 1`,
    );
    const depth = { dispatch: 0, event: 0 };
    for (const row of outbox.rows.map(asRow)) depth[row['dispatch'] === true ? 'dispatch' : 'event'] = int(row, 'count');
    return { open: open.rows.map(toOpenLetters), outbox: depth };
  }

  /** Whether this database has no autovacuum of its own (PGlite; PostgreSQL with autovacuum off): see vacuum.ts. */
  async needsOwnVacuum(): Promise<boolean> {
    return !(await autovacuumRuns(this.db));
  }

  /** VACUUM (ANALYZE) of every table that churns with every letter. */
  async vacuum(): Promise<void> {
    await upkeepChurningTables(this.db, true);
  }

  /** VACUUM (ANALYZE) or ANALYZE of the churning tables that autovacuum would work on now; how many it did. */
  upkeep(): Promise<number> {
    return upkeepChurningTables(this.db);
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
