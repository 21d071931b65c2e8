import type { SqlClient } from './sql-client.js';

/**
 * Ordered schema migrations, shared by PostgreSQL and PGlite. Append only:
 * a migration that has shipped is never edited. Each runs in a transaction
 * under an advisory lock, so instances starting together against one
 * database do not race.
 */
const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE messages (
  tracking_id        uuid PRIMARY KEY,
  message_header_id  text NOT NULL UNIQUE,
  sender             text NOT NULL,
  bundle_identifier  text,
  content_hash       text NOT NULL,
  event_code         text NOT NULL,
  destination        text NOT NULL,
  state              text NOT NULL,
  version            integer NOT NULL DEFAULT 1,
  attempts           integer NOT NULL DEFAULT 0,
  sequence           bigint NOT NULL,
  body               bytea NOT NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  next_deadline      timestamptz,
  deadline_at        timestamptz NOT NULL,
  UNIQUE (destination, sequence)
);
CREATE UNIQUE INDEX messages_sender_bundle_identifier ON messages (sender, bundle_identifier) WHERE bundle_identifier IS NOT NULL;
CREATE INDEX messages_list ON messages (created_at, tracking_id);
CREATE INDEX messages_state_list ON messages (state, created_at, tracking_id);
CREATE INDEX messages_destination_list ON messages (destination, created_at, tracking_id);
CREATE INDEX messages_due ON messages (next_deadline) WHERE next_deadline IS NOT NULL;

CREATE TABLE message_history (
  id          bigserial PRIMARY KEY,
  tracking_id uuid NOT NULL REFERENCES messages (tracking_id),
  at          timestamptz NOT NULL,
  from_state  text,
  to_state    text NOT NULL,
  cause       text
);
CREATE INDEX message_history_by_message ON message_history (tracking_id, at, id);

CREATE TABLE practice_sequences (
  ods           text PRIMARY KEY,
  last_sequence bigint NOT NULL
);

-- Work for the relay: 'dispatch' publishes a letter, 'event' a status event.
-- Rows are claimed with FOR UPDATE SKIP LOCKED and deleted once the broker confirmed.
CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  tracking_id   uuid NOT NULL REFERENCES messages (tracking_id),
  kind          text NOT NULL CHECK (kind IN ('dispatch', 'event')),
  payload       jsonb NOT NULL,
  available_at  timestamptz NOT NULL,
  claimed_until timestamptz,
  attempts      integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL
);
CREATE INDEX outbox_ready ON outbox (available_at, id);

-- Every acknowledgement received, applied or not: the evidence trail.
CREATE TABLE ack_log (
  id                bigserial PRIMARY KEY,
  tracking_id       uuid REFERENCES messages (tracking_id),
  message_header_id text NOT NULL,
  responds_to       text NOT NULL,
  practice          text,
  code              text NOT NULL,
  itk_codes         text[] NOT NULL DEFAULT '{}',
  outcome           text NOT NULL,
  received_at       timestamptz NOT NULL
);
CREATE INDEX ack_log_by_message ON ack_log (tracking_id, received_at);
`,
  },
];

/** Arbitrary constant naming Courier's migration lock among advisory locks. */
const MIGRATION_LOCK = 741_852_963;

export async function migrate(client: SqlClient): Promise<void> {
  await client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await tx.query('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => Number((r as { version: unknown }).version)));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
    }
  });
}

/** Parameterised query APIs take one statement at a time; migrations hold no `;` inside literals. */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s !== '');
}
