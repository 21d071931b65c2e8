import type { AckRecord, DeliveryStore, DispatchWork, EventWork, LetterChange, MessageRecord, VersionedChange } from '../../app/ports.js';
import type { OdsCode, TrackingId } from '../../domain/ids.js';
import { statusEvent } from '../../domain/status-event.js';
import { MESSAGE_COLUMNS, asRow, bytes, int, text, toMessageRecord } from './rows.js';
import type { SqlClient } from './sql-client.js';
import { GroupCommit, type ItemResult } from '../../platform/group-commit.js';

/**
 * DeliveryStore over the same SQL as SqlMessageStore. Outbox claims use
 * `FOR UPDATE SKIP LOCKED` plus a lease, so several Courier instances on one
 * PostgreSQL share the work and a crashed claimer's rows come back when its
 * lease ends.
 */
export class SqlDeliveryStore implements DeliveryStore {
  readonly #lookups = new GroupCommit<string, MessageRecord | undefined>((ids) => this.#findByMessageHeaderIds(ids), { maxBatch: 256 });
  readonly #ackLog = new GroupCommit<AckRecord, void>((acks) => this.#recordAcks(acks), { maxBatch: 256 });

  constructor(private readonly db: SqlClient) {}

  /**
   * One statement: claims the rows and, for `dispatch` rows, reads the
   * letter's routing facts and exact bytes in the same pass (a join, not a
   * query per letter). The letter columns read are fixed at acceptance, and
   * the outbox row references the letter, so the join always finds it.
   * Both the claimed ids and the letters are looked up through `= ANY(ARRAY(…))`
   * so the plan uses the primary keys whatever the planner guesses of the
   * LIMIT: with `IN (…)` and a plain join, a prepared (generic) plan scanned
   * the whole outbox and the whole messages table on every round.
   */
  async claimOutbox(limit: number, now: Date, leaseUntil: Date): Promise<{ dispatches: DispatchWork[]; events: EventWork[] }> {
    const { rows } = await this.db.query(
      `WITH claimed AS (
         UPDATE outbox SET claimed_until = $3, attempts = attempts + 1
          WHERE id = ANY(ARRAY(SELECT id FROM outbox WHERE available_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
                        ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED))
          RETURNING id, tracking_id, kind, payload)
       SELECT c.id, c.tracking_id, c.kind, c.payload,
              m.message_header_id, m.destination, m.event_code, m.sequence, m.attempts, m.body
         FROM claimed c LEFT JOIN messages m ON c.kind = 'dispatch' AND m.tracking_id = c.tracking_id
              AND m.tracking_id = ANY(ARRAY(SELECT tracking_id FROM claimed WHERE kind = 'dispatch'))
        ORDER BY c.id`,
      [now, limit, leaseUntil],
    );
    const dispatches: DispatchWork[] = [];
    const events: EventWork[] = [];
    for (const row of rows.map(asRow).sort((a, b) => int(a, 'id') - int(b, 'id'))) {
      const payload = row['payload'] as Record<string, unknown>;
      const kind = text(row, 'kind');
      if (kind === 'event' || kind === 'events') {
        const outboxId = int(row, 'id');
        for (const event of kind === 'event' ? [payload] : (payload as unknown as Record<string, unknown>[])) events.push(eventWork(outboxId, event));
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

  applyChange(trackingId: TrackingId, expectedVersion: number, change: LetterChange): Promise<boolean> {
    return this.applyChanges([{ trackingId, expectedVersion, change }]).then(([committed]) => committed === true);
  }

  /**
   * One statement, so atomic without a transaction: the versioned updates,
   * and for each that matched, its history entry, its status event (all of
   * them in one `events` outbox row, before the publishes), its `dispatch`
   * row when it is to be published, and its HTTP notifications. The status
   * event is built by the domain; the two fields that come from the row
   * (`messageHeaderId`, `destination`) are filled in from the updated row.
   * Tracking ids must be distinct (an UPDATE … FROM changes a row once).
   * The ids also go as an array: `= ANY` lets the planner find the rows by
   * primary key whatever it guesses of jsonb_to_recordset's size (without it,
   * a small table was scanned whole on every call).
   */
  async applyChanges(changes: readonly VersionedChange[]): Promise<boolean[]> {
    if (changes.length === 0) return [];
    if (new Set(changes.map((c) => c.trackingId)).size !== changes.length) throw new RangeError('applyChanges: one change per letter');
    const input = changes.map(({ trackingId, expectedVersion, change }, i) => ({
      ord: i + 1,
      tracking_id: trackingId,
      version: expectedVersion,
      state: change.state,
      attempts: change.attempts,
      next_deadline: change.nextDeadline?.toISOString() ?? null,
      deadline_at: change.deadlineAt.toISOString(),
      at: change.at.toISOString(),
      from_state: change.event?.previousState ?? null,
      cause: change.cause,
      event:
        change.event === undefined
          ? null
          : statusEvent({ trackingId, messageHeaderId: '', destination: '' }, change.state, change.event.previousState, change.at, change.event.reason).body,
      dispatch: change.publishAttempt === undefined ? null : { trackingId, attempt: change.publishAttempt },
      notes: (change.notifications ?? []).map((n) => ({ kind: n.kind, url: n.url, payload: n.payload, practice: n.practice ?? null })),
    }));
    const { rows } = await this.db.query(
      `WITH input AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(ord int, tracking_id uuid, version int, state text, attempts int,
                next_deadline timestamptz, deadline_at timestamptz, at timestamptz, from_state text, cause text,
                event jsonb, dispatch jsonb, notes jsonb)),
       changed AS (
         UPDATE messages m SET state = i.state, attempts = i.attempts, next_deadline = i.next_deadline, deadline_at = i.deadline_at,
                updated_at = i.at, version = m.version + 1
           FROM input i WHERE m.tracking_id = i.tracking_id AND m.version = i.version AND m.tracking_id = ANY($2::uuid[])
          RETURNING i.ord, m.tracking_id, m.message_header_id, m.destination, i.at, i.from_state, i.state, i.cause, i.event, i.dispatch, i.notes),
       history AS (
         INSERT INTO message_history (tracking_id, at, from_state, to_state, cause)
         SELECT tracking_id, at, from_state, state, cause FROM changed WHERE event IS NOT NULL ORDER BY ord),
       work AS (
         INSERT INTO outbox (tracking_id, kind, payload, available_at, created_at)
         SELECT tracking_id, kind, payload, at, at FROM (
           SELECT 1 AS k, 0 AS ord, NULL::uuid AS tracking_id, 'events' AS kind,
                  jsonb_agg(jsonb_set(event, '{messageHeaderId}', to_jsonb(message_header_id)) || jsonb_build_object('destination', destination) ORDER BY ord) AS payload,
                  min(at) AS at
             FROM changed WHERE event IS NOT NULL HAVING count(*) > 0
           UNION ALL
           SELECT 2, ord, tracking_id, 'dispatch', dispatch, at FROM changed WHERE dispatch IS NOT NULL) AS w
          ORDER BY k, ord),
       notes AS (
         INSERT INTO notifications (tracking_id, practice, kind, url, payload, available_at, created_at)
         SELECT c.tracking_id, n ->> 'practice', n ->> 'kind', n ->> 'url', n -> 'payload', c.at, c.at
           FROM changed c CROSS JOIN LATERAL jsonb_array_elements(c.notes) WITH ORDINALITY AS e (n, k)
          ORDER BY c.ord, e.k)
       SELECT ord FROM changed`,
      [JSON.stringify(input), changes.map((c) => c.trackingId)],
    );
    const committed = new Set(rows.map((row) => int(asRow(row), 'ord')));
    return changes.map((_, i) => committed.has(i + 1));
  }

  async letters(trackingIds: readonly TrackingId[]): Promise<readonly MessageRecord[]> {
    if (trackingIds.length === 0) return [];
    const { rows } = await this.db.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tracking_id = ANY($1::uuid[])`, [[...trackingIds]]);
    return rows.map(toMessageRecord);
  }

  /** Group-committed: the lookups of concurrent acks go to the store in one statement. */
  findByMessageHeaderId(messageHeaderId: string): Promise<MessageRecord | undefined> {
    return this.#lookups.submit(messageHeaderId);
  }

  async due(now: Date, limit: number): Promise<readonly MessageRecord[]> {
    const { rows } = await this.db.query(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE next_deadline IS NOT NULL AND next_deadline <= $1 ORDER BY next_deadline LIMIT $2`,
      [now, limit],
    );
    return rows.map(toMessageRecord);
  }

  /** Group-committed: concurrent acks are recorded in one statement. */
  recordAck(ack: AckRecord): Promise<void> {
    return this.#ackLog.submit(ack);
  }

  async #findByMessageHeaderIds(ids: readonly string[]): Promise<ItemResult<MessageRecord | undefined>[]> {
    const { rows } = await this.db.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE message_header_id = ANY($1::text[])`, [[...new Set(ids)]]);
    const found = new Map(rows.map(toMessageRecord).map((r) => [r.messageHeaderId, r]));
    return ids.map((id) => ({ value: found.get(id) }));
  }

  async #recordAcks(acks: readonly AckRecord[]): Promise<ItemResult<void>[]> {
    const input = acks.map((ack, i) => ({
      ord: i + 1,
      tracking_id: ack.trackingId,
      message_header_id: ack.messageHeaderId,
      responds_to: ack.respondsTo,
      practice: ack.practice,
      code: ack.code,
      itk_codes: ack.itkCodes,
      outcome: ack.outcome,
      received_at: ack.receivedAt.toISOString(),
    }));
    await this.db.query(
      `INSERT INTO ack_log (tracking_id, message_header_id, responds_to, practice, code, itk_codes, outcome, received_at)
       SELECT tracking_id, message_header_id, responds_to, practice, code, ARRAY(SELECT jsonb_array_elements_text(itk_codes)), outcome, received_at
         FROM jsonb_to_recordset($1::jsonb) AS i(ord int, tracking_id uuid, message_header_id text, responds_to text, practice text, code text,
              itk_codes jsonb, outcome text, received_at timestamptz)
        ORDER BY ord`,
      [JSON.stringify(input)],
    );
    return acks.map(() => ({ value: undefined }));
  }
}

/** A stored status event (EventPayload) as the message to publish: routed by state and practice, the practice left out of the body. */
function eventWork(outboxId: number, payload: Record<string, unknown>): EventWork {
  const { destination, ...body } = payload;
  return { outboxId, routingKey: `${String(payload['state'])}.${String(destination)}`, body };
}
