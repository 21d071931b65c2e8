import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { TEST_DATABASE_URL } from '../../support/postgres.js';

export interface OwnDatabase {
  /** A connection URL for Courier's `COURIER_DATABASE_URL`. */
  readonly url: string;
  /** Drops the database, closing whatever is still connected to it. */
  drop(): Promise<void>;
}

/**
 * A PostgreSQL database of the scenario's own on the test server (as
 * bench/delivery.ts makes one), for a Courier child process that will hold
 * tens of thousands of letters: a whole database, not a schema, so dropping
 * it afterwards is one statement however much it holds.
 */
export async function createOwnDatabase(purpose: string): Promise<OwnDatabase> {
  const name = `courier_faults_${purpose}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string): Promise<void> => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
