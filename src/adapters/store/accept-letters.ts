import type { AcceptOutcome, LetterIdentity, NewLetter } from '../../app/ports.js';
import type { TrackingId } from '../../domain/ids.js';
import { statusEvent } from '../../domain/status-event.js';
import { StoreUnavailableError } from '../../app/errors.js';
import type { ItemResult } from '../../platform/group-commit.js';
import type { DispatchPayload, EventPayload } from './outbox.js';
import { MESSAGE_COLUMNS, asRow, nullableText, text, toMessageRecord } from './rows.js';
import { UNIQUE_VIOLATION, sqlState, type SqlExecutor } from './sql-client.js';

/**
 * Taking custody of letters (DESIGN §2 steps 5 and 7): duplicate check,
 * sequence number, letter, history entry and outbox rows, all or nothing.
 * One letter or a batch of concurrent acceptances (group commit) takes the
 * same single statement: it finds the held duplicates and writes everything
 * for the others (atomic without a transaction). One round trip, not two:
 * on a busy two-core machine each round trip waited ~6 ms for the event
 * loop and the CPU, whatever the statement cost.
 */
type Duplicate = Extract<AcceptOutcome, { kind: 'duplicate' }>;

/**
 * The duplicate rule in SQL, over a CTE `input` (ord, message_header_id,
 * sender, bundle_identifier): for each input row the held letter with its
 * `MessageHeader.id`, else the oldest with its sender + `Bundle.identifier`.
 */
const HELD_LETTERS = `
  SELECT i.ord, d.tracking_id, d.content_hash FROM input i CROSS JOIN LATERAL (
    (SELECT m.tracking_id, m.content_hash, 0 AS rank, m.created_at FROM messages m WHERE m.message_header_id = i.message_header_id)
    UNION ALL
    (SELECT m.tracking_id, m.content_hash, 1 AS rank, m.created_at FROM messages m
      WHERE i.bundle_identifier IS NOT NULL AND m.sender = i.sender AND m.bundle_identifier = i.bundle_identifier)
    ORDER BY rank, created_at LIMIT 1) AS d`;

/** The held letter with this `MessageHeader.id` (preferred) or this sender + `Bundle.identifier` (HELD_LETTERS). */
export async function findDuplicate(db: SqlExecutor, letter: LetterIdentity): Promise<Duplicate | undefined> {
  const input = { ord: 1, message_header_id: letter.messageHeaderId, sender: letter.sender, bundle_identifier: letter.bundleIdentifier };
  const { rows } = await db.query(
    `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(ord int, message_header_id text, sender text, bundle_identifier text))
     ${HELD_LETTERS}`,
    [JSON.stringify([input])],
  );
  const [row] = rows.map(asRow);
  return row === undefined ? undefined : { kind: 'duplicate', trackingId: text(row, 'tracking_id') as TrackingId, sameContent: text(row, 'content_hash') === letter.contentHash };
}

/**
 * One letter: the duplicate check and the custody writes in one statement.
 * Two copies racing past the duplicate check (another instance) meet at a
 * unique index; the loser's statement fails as a whole (its sequence number
 * with it) and it is answered as the duplicate it is.
 */
export async function acceptOne(db: SqlExecutor, letter: NewLetter): Promise<AcceptOutcome> {
  try {
    return (await acceptLetters(db, [letter]))[0] as AcceptOutcome;
  } catch (error) {
    if (sqlState(error) !== UNIQUE_VIOLATION) throw error;
    const duplicate = await findDuplicate(db, letter);
    if (duplicate === undefined) throw error;
    return duplicate;
  }
}

/**
 * A batch of concurrent acceptances: one statement answers the held
 * duplicates and inserts all the others (atomic on its own: sequences,
 * letters, history, outbox). A letter that repeats an earlier one of the
 * same batch is decided after the batch, as a duplicate of it. If the
 * statement fails (another instance raced one of the letters, or one letter
 * breaks it) it rolled back as a whole and each letter goes through
 * `acceptOne`, so a letter is refused only for its own fault; with the store
 * away, all fail at once.
 */
export async function acceptBatch(db: SqlExecutor, letters: readonly NewLetter[]): Promise<ItemResult<AcceptOutcome>[]> {
  if (letters.length === 1) return [await settle(acceptOne(db, letters[0] as NewLetter))];
  const { firsts, repeats } = splitRepeats(letters);
  const results = new Array<ItemResult<AcceptOutcome>>(letters.length);
  try {
    const outcomes = await acceptLetters(db, firsts.map((i) => letters[i] as NewLetter));
    firsts.forEach((i, n) => (results[i] = { value: outcomes[n] as AcceptOutcome }));
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw error;
    // Another instance raced one of the letters (unique violation), or one letter broke the statement:
    // one at a time, so only that letter is refused.
    for (const i of firsts) results[i] = await settle(acceptOne(db, letters[i] as NewLetter));
  }
  for (const i of repeats) results[i] = await settle(acceptOne(db, letters[i] as NewLetter));
  return results;
}

async function settle<T>(promise: Promise<T>): Promise<ItemResult<T>> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

/** Indexes of letters first in the batch with their MessageHeader.id and sender + Bundle.identifier, and of the rest. */
function splitRepeats(letters: readonly NewLetter[]): { firsts: number[]; repeats: number[] } {
  const seen = new Set<string>();
  const firsts: number[] = [];
  const repeats: number[] = [];
  letters.forEach((letter, i) => {
    const keys = [`h:${letter.messageHeaderId}`, ...(letter.bundleIdentifier === null ? [] : [`b:${letter.sender}\u0000${letter.bundleIdentifier}`])];
    if (keys.some((k) => seen.has(k))) repeats.push(i);
    else firsts.push(i);
    for (const k of keys) seen.add(k);
  });
  return { firsts, repeats };
}

function receivedEvent(letter: NewLetter): ReturnType<typeof statusEvent>['body'] {
  return statusEvent(letter, 'received', null, letter.acceptedAt, null).body;
}

/**
 * Letters with distinct MessageHeader.ids and sender + Bundle.identifiers,
 * in one statement (so atomic without a transaction): each held one is
 * answered as a duplicate (HELD_LETTERS, read from the
 * statement's snapshot); the others are taken into custody. Each practice's
 * counter moves once, by its number of new letters, under its row lock until
 * commit (practices in a fixed order, so concurrent batches cannot
 * deadlock); its letters take the numbers in batch order. A failed statement
 * gives its numbers back, so sequences stay gap-free across failures and
 * instances. Outbox rows: each letter's dispatch in letter order, then one
 * `events` row with their `received` events (outbox.ts).
 */
async function acceptLetters(db: SqlExecutor, letters: readonly NewLetter[]): Promise<AcceptOutcome[]> {
  if (letters.length === 0) return [];
  // The bodies travel as one binary bytea parameter sliced by offset: a bytea[] parameter goes as a text array
  // literal, hex-encoded by the driver and decoded by array_in/hex_decode (measured: ~6 % of the backend's CPU
  // for 8 KiB letters, and twice the bytes on the wire).
  let next = 1; // SQL substring counts from 1
  const starts = letters.map((l) => {
    const start = next;
    next += l.body.byteLength;
    return start;
  });
  const input = letters.map((l, i) => ({
    ord: i + 1,
    body_start: starts[i],
    body_length: l.body.byteLength,
    tracking_id: l.trackingId,
    message_header_id: l.messageHeaderId,
    sender: l.sender,
    bundle_identifier: l.bundleIdentifier,
    content_hash: l.contentHash,
    event_code: l.event,
    destination: l.destination,
    accepted_at: l.acceptedAt.toISOString(),
    deadline_at: l.deadlineAt.toISOString(),
    reply_to: l.replyTo,
    dispatch: { trackingId: l.trackingId } satisfies DispatchPayload,
    event: { ...receivedEvent(l), destination: l.destination } satisfies EventPayload,
  }));
  const { rows } = await db.query(
    `WITH input AS (
       SELECT i.*, substring($2::bytea FROM i.body_start FOR i.body_length) AS body
         FROM jsonb_to_recordset($1::jsonb) AS i(ord int, body_start int, body_length int, tracking_id uuid, message_header_id text,
              sender text, bundle_identifier text, content_hash text, event_code text, destination text, accepted_at timestamptz,
              deadline_at timestamptz, reply_to text, dispatch jsonb, event jsonb)),
     held AS (${HELD_LETTERS}),
     fresh AS (SELECT * FROM input WHERE ord NOT IN (SELECT ord FROM held)),
     counts AS (SELECT destination, count(*)::bigint AS n FROM fresh GROUP BY destination),
     counters AS (
       INSERT INTO practice_sequences AS p (ods, last_sequence) SELECT destination, n FROM counts ORDER BY destination
       ON CONFLICT (ods) DO UPDATE SET last_sequence = p.last_sequence + excluded.last_sequence
       RETURNING ods, last_sequence),
     numbered AS (
       SELECT i.*, c.last_sequence - n.n + row_number() OVER (PARTITION BY i.destination ORDER BY i.ord) AS sequence
         FROM fresh i JOIN counters c ON c.ods = i.destination JOIN counts n ON n.destination = i.destination),
     letters AS (
       INSERT INTO messages (tracking_id, message_header_id, sender, bundle_identifier, content_hash, event_code, destination,
         state, version, attempts, sequence, body, created_at, updated_at, next_deadline, deadline_at, reply_to)
       SELECT tracking_id, message_header_id, sender, bundle_identifier, content_hash, event_code, destination,
         'received', 1, 0, sequence, body, accepted_at, accepted_at, deadline_at, deadline_at, reply_to
         FROM numbered ORDER BY ord
       RETURNING ${MESSAGE_COLUMNS}),
     history AS (
       INSERT INTO message_history (tracking_id, at, from_state, to_state, cause)
       SELECT tracking_id, accepted_at, NULL, 'received', 'accepted' FROM numbered ORDER BY ord),
     work AS (
       INSERT INTO outbox (tracking_id, kind, payload, available_at, created_at)
       SELECT tracking_id, kind, payload, at, at FROM (
         SELECT 1 AS k, ord, tracking_id, 'dispatch' AS kind, dispatch AS payload, accepted_at AS at FROM numbered
         UNION ALL
         SELECT 2, 0, NULL, 'events', jsonb_agg(event ORDER BY ord), min(accepted_at) FROM numbered HAVING count(*) > 0) AS w
        ORDER BY k, ord)
     SELECT i.ord, h.tracking_id AS held_tracking_id, h.content_hash AS held_content_hash, l.*
       FROM input i LEFT JOIN held h ON h.ord = i.ord LEFT JOIN letters l ON l.tracking_id = i.tracking_id AND h.ord IS NULL
      ORDER BY i.ord`,
    [JSON.stringify(input), Buffer.concat(letters.map((l) => l.body))],
  );
  if (rows.length !== letters.length) throw new Error('the accept statement did not answer every letter');
  // Rows come in `ord` order: row n answers letters[n].
  return rows.map(asRow).map((row, n): AcceptOutcome => {
    const heldId = nullableText(row, 'held_tracking_id');
    if (heldId === null) return { kind: 'accepted', record: toMessageRecord(row) };
    return { kind: 'duplicate', trackingId: heldId as TrackingId, sameContent: text(row, 'held_content_hash') === letters[n]?.contentHash };
  });
}
