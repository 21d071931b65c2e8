import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env['COURIER_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema name for one test file; drop it with `dropSchema` in `after`. */
export function randomSchema(): string {
  return `courier_test_${randomBytes(6).toString('hex')}`;
}

/** One statement on the test server's `test` database, on a connection of its own. */
async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export function dropSchema(schema: string): Promise<void> {
  return adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

export interface OwnDatabase {
  /** A connection URL for Courier's `COURIER_DATABASE_URL`. */
  readonly url: string;
  /** Drops the database, closing whatever is still connected to it. */
  drop(): Promise<void>;
}

/**
 * A whole database of the caller's own on the test server (named
 * `<prefix>_<random>`), for a Courier child process holding tens of
 * thousands of letters (fault scenarios, benchmarks): dropping it afterwards
 * is one statement however much it holds.
 */
export async function createOwnDatabase(prefix: string): Promise<OwnDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
