import type { MigrationSet } from '../store/migrations.js';

/**
 * The practice connector's schema: its own tables and migrations table, so it
 * may share a PostgreSQL database with Courier (or have its own PGlite).
 * Append only, like Courier's.
 */
export const CONNECTOR_SCHEMA: MigrationSet = {
  owner: 'the connector',
  table: 'connector_schema_migrations',
  lockKey: 741_852_964,
  migrations: [
    {
      version: 1,
      name: 'connector inbox, sequences, gaps',
      sql: `
-- One row per letter ever taken off a practice queue, keyed by MessageHeader.id:
-- what makes filing exactly-once and lets a redelivery get its acks again.
CREATE TABLE connector_letters (
  message_header_id text PRIMARY KEY,
  practice          text NOT NULL,
  tracking_id       text,
  sequence          bigint,
  status            text NOT NULL CHECK (status IN ('handing-over', 'received', 'filed', 'rejected', 'handed-back')),
  hand_overs        integer NOT NULL DEFAULT 0 CHECK (hand_overs >= 0),
  acks              jsonb NOT NULL DEFAULT '[]',
  first_seen_at     timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE INDEX connector_letters_practice_status_idx ON connector_letters (practice, status);

-- Highest x-courier-sequence seen per practice.
CREATE TABLE connector_sequences (
  practice text PRIMARY KEY,
  highest  bigint NOT NULL CHECK (highest >= 0)
);

-- Numbers below the highest not seen yet; a row goes when its letter arrives.
CREATE TABLE connector_gaps (
  practice    text NOT NULL,
  sequence    bigint NOT NULL CHECK (sequence >= 1),
  noticed_at  timestamptz NOT NULL,
  reported_at timestamptz,
  PRIMARY KEY (practice, sequence)
);
`,
    },
  ],
};
