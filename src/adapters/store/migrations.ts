import { CourierError } from '../../app/errors.js';
import { MESSAGE_STATES } from '../../domain/message-state.js';
import type { SqlClient } from './sql-client.js';

const STATES = MESSAGE_STATES.map((s) => `'${s}'`).join(', ');

/**
 * Ordered schema migrations, shared by PostgreSQL and PGlite. Append only:
 * a migration that has shipped is never edited; a change is a new version.
 * Every timestamp is timestamptz. Statements are separated by `;` at the end
 * of a line (and hold no `;` elsewhere).
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * One schema's migrations with the table that records them and the advisory
 * lock that serialises them. Courier and the practice connector each have
 * their own, so both may live in one PostgreSQL database.
 */
export interface MigrationSet {
  /** Names the schema in errors: `Courier`, `the connector`. */
  readonly owner: string;
  readonly table: string;
  /** Constant naming this set's lock among the database's advisory locks. */
  readonly lockKey: number;
  readonly migrations: readonly Migration[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'letters, history, sequences, outbox, ack log',
    sql: `
CREATE TABLE messages (
  tracking_id        uuid PRIMARY KEY,
  message_header_id  text NOT NULL,
  sender             text NOT NULL,
  bundle_identifier  text,
  content_hash       text NOT NULL,
  event_code         text NOT NULL,
  destination        text NOT NULL,
  state              text NOT NULL CHECK (state IN (${STATES})),
  version            integer NOT NULL CHECK (version >= 1),
  attempts           integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  sequence           bigint NOT NULL CHECK (sequence >= 1),
  body               bytea NOT NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  next_deadline      timestamptz,
  deadline_at        timestamptz NOT NULL,
  CONSTRAINT messages_message_header_id_key UNIQUE (message_header_id),
  CONSTRAINT messages_destination_sequence_key UNIQUE (destination, sequence)
);
-- Duplicate detection by sender + Bundle.identifier (DESIGN §2 step 5).
CREATE UNIQUE INDEX messages_sender_bundle_identifier_key ON messages (sender, bundle_identifier) WHERE bundle_identifier IS NOT NULL;
-- Keyset paging, oldest first, unfiltered / by state (e.g. the escalated work list) / by practice.
CREATE INDEX messages_created_idx ON messages (created_at, tracking_id);
CREATE INDEX messages_state_created_idx ON messages (state, created_at, tracking_id);
CREATE INDEX messages_destination_created_idx ON messages (destination, created_at, tracking_id);
-- Deadline sweeps and ?overdue=true: only letters that still have a deadline.
CREATE INDEX messages_next_deadline_idx ON messages (next_deadline) WHERE next_deadline IS NOT NULL;

-- Append-only: the whole history of every letter is kept.
CREATE TABLE message_history (
  id          bigserial PRIMARY KEY,
  tracking_id uuid NOT NULL REFERENCES messages (tracking_id),
  at          timestamptz NOT NULL,
  from_state  text CHECK (from_state IN (${STATES})),
  to_state    text NOT NULL CHECK (to_state IN (${STATES})),
  cause       text
);
CREATE INDEX message_history_tracking_idx ON message_history (tracking_id, at, id);

-- Per-practice sequence counters. The row lock taken by the increment
-- serialises acceptances for one practice; a rollback gives the number back.
CREATE TABLE practice_sequences (
  ods           text PRIMARY KEY,
  last_sequence bigint NOT NULL CHECK (last_sequence >= 1)
);

-- Work for the relay: 'dispatch' publishes a letter, 'event' a status event.
-- A relay claims ready rows (available_at <= now, claim expired or none) in id
-- order with FOR UPDATE SKIP LOCKED and deletes them once the broker confirmed.
CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  tracking_id   uuid NOT NULL REFERENCES messages (tracking_id),
  kind          text NOT NULL CHECK (kind IN ('dispatch', 'event')),
  payload       jsonb NOT NULL,
  available_at  timestamptz NOT NULL,
  claimed_until timestamptz,
  attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  created_at    timestamptz NOT NULL
);
CREATE INDEX outbox_available_idx ON outbox (available_at, id);
CREATE INDEX outbox_tracking_idx ON outbox (tracking_id);

-- Every acknowledgement received, whether it changed anything or not: the evidence trail.
CREATE TABLE ack_log (
  id                bigserial PRIMARY KEY,
  tracking_id       uuid REFERENCES messages (tracking_id),
  message_header_id text NOT NULL,
  responds_to       text NOT NULL,
  practice          text,
  code              text NOT NULL CHECK (code IN ('ok', 'transient-error', 'fatal-error')),
  itk_codes         text[] NOT NULL DEFAULT '{}',
  outcome           text NOT NULL,
  received_at       timestamptz NOT NULL
);
CREATE INDEX ack_log_tracking_idx ON ack_log (tracking_id, received_at, id);
CREATE INDEX ack_log_responds_to_idx ON ack_log (responds_to);
`,
  },
  {
    version: 2,
    name: 'timer claims',
    sql: `
-- A sweeper claims letters whose next_deadline has passed (FOR UPDATE SKIP
-- LOCKED plus this lease, like the outbox), so instances sharing a database
-- never apply one timer twice at once, and a crashed sweeper's claims lapse.
-- Not part of the letter's version: claiming is not a change of the letter.
ALTER TABLE messages ADD COLUMN timer_claimed_until timestamptz;
`,
  },
  {
    version: 3,
    name: 'notifications, sender reply address, practice alarms',
    sql: `
-- The sender's MessageHeader.source.endpoint when it is an http(s) URL: where
-- rejections and escalations are reported back (DESIGN §5).
ALTER TABLE messages ADD COLUMN reply_to text;

-- HTTP notifications (escalation webhook, responses to senders, practice
-- alarms), written in the transaction that caused them and retried with
-- backoff until delivered. Kept after delivery as evidence; failures stay
-- visible in attempts and last_error. url is null for the configured
-- webhook, resolved when sending so a corrected URL applies to pending ones.
CREATE TABLE notifications (
  id            bigserial PRIMARY KEY,
  tracking_id   uuid REFERENCES messages (tracking_id),
  practice      text,
  kind          text NOT NULL CHECK (kind IN ('escalation-webhook', 'sender-response', 'practice-alarm-webhook')),
  url           text,
  payload       jsonb NOT NULL,
  attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  available_at  timestamptz NOT NULL,
  claimed_until timestamptz,
  last_error    text,
  delivered_at  timestamptz,
  created_at    timestamptz NOT NULL
);
CREATE INDEX notifications_pending_idx ON notifications (available_at, id) WHERE delivered_at IS NULL;
CREATE INDEX notifications_tracking_idx ON notifications (tracking_id, id);

-- The silent-practice check reads each practice's latest ack.
CREATE INDEX ack_log_practice_idx ON ack_log (practice, received_at);

-- One row per practice that has been found silent; raised once, cleared when it speaks again.
-- Its events go through the outbox like letters' events, without a letter.
ALTER TABLE outbox ALTER COLUMN tracking_id DROP NOT NULL;
CREATE TABLE practice_alarms (
  ods        text PRIMARY KEY,
  raised_at  timestamptz NOT NULL,
  cleared_at timestamptz
);
`,
  },
  {
    version: 4,
    name: 'no foreign-key checks on the per-change rows',
    sql: `
-- History, outbox and ack-log rows are written only by statements that read
-- or change their letter in the same statement (or with no letter at all), so
-- an orphan cannot arise; the foreign-key triggers re-checked that on every
-- row at ~40 µs each, ~11 rows per letter: a quarter of the cost of a state
-- change (EXPLAIN ANALYZE of applyChanges, 8 letters: 0.5 of 2.1 ms).
ALTER TABLE message_history DROP CONSTRAINT message_history_tracking_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_tracking_id_fkey;
ALTER TABLE ack_log DROP CONSTRAINT ack_log_tracking_id_fkey;
`,
  },
  {
    version: 5,
    name: 'letter bodies stored without compression',
    sql: `
-- Letters are mostly base64 attachments (PDFs, images), which pglz cannot
-- shrink by the 25 % it requires, but it tried on every insert: 11 % of the
-- accepting backend's CPU for 8 KiB letters (perf), ~12 % of its CPU per
-- letter measured. Bodies larger than ~2 KB still go out of line to TOAST,
-- uncompressed. Applies to rows written from now on.
ALTER TABLE messages ALTER COLUMN body SET STORAGE EXTERNAL;
`,
  },
  {
    version: 6,
    name: 'status events stored per statement',
    sql: `
-- An 'events' row holds the status events of one statement (an acceptance or
-- a batch of state changes) as a JSON array, published one message each and
-- deleted once all are confirmed. One 'event' row per change meant four rows
-- per letter inserted, claimed and deleted: about a seventh of PostgreSQL's
-- CPU per letter (14 %, store probe). 'event' rows (practice alarms, rows
-- written before this version) are still read.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('dispatch', 'event', 'events'));
`,
  },
  {
    version: 7,
    name: 'indexes no query reads',
    sql: `
-- Every row written paid for entries in these, but Courier reads neither:
-- acks are found by tracking_id (a letter's) or practice (the latest), and
-- outbox rows by id (the relay) — two ack entries and one or two outbox
-- entries per letter. Listing a letter's outbox rows (debugging) scans the outbox.
DROP INDEX ack_log_responds_to_idx;
DROP INDEX outbox_tracking_idx;
`,
  },
];

export const COURIER_SCHEMA: MigrationSet = { owner: 'Courier', table: 'schema_migrations', lockKey: 741_852_963, migrations: MIGRATIONS };

/**
 * Brings the schema up to date in one transaction. The transaction-scoped
 * advisory lock makes instances starting together against one PostgreSQL
 * take turns: the second sees the first's versions and applies nothing.
 * A database migrated by a newer Courier is refused rather than guessed at.
 */
export async function migrate(client: SqlClient, set: MigrationSet = COURIER_SCHEMA): Promise<void> {
  const table = set.table;
  if (!/^[a-z_]+$/.test(table)) throw new TypeError(`invalid migrations table name ${table}`);
  await client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [set.lockKey]);
    await tx.query(`CREATE TABLE IF NOT EXISTS ${table} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await tx.query(`SELECT version FROM ${table}`);
    const applied = new Set(rows.map((r) => versionOf(r, table)));
    const known = Math.max(...set.migrations.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) {
      throw new CourierError('internal', `The database schema of ${set.owner} is at version ${newest}, newer than this version knows (${known}); upgrade ${set.owner}`);
    }
    for (const migration of set.migrations) {
      if (applied.has(migration.version)) continue;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query(`INSERT INTO ${table} (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
    }
  });
}

function versionOf(row: unknown, table: string): number {
  const value = typeof row === 'object' && row !== null && 'version' in row ? row.version : undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError(`${table}.version is not an integer`);
  return value;
}

/** Parameterised queries take one statement at a time, so a migration is split at line-final `;`. */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s !== '');
}
