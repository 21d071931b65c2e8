import pg from 'pg';
import { TEST_DATABASE_URL } from '../../support/postgres.js';

/**
 * Creates `schema` on the test server and returns a URL whose connections
 * work in it (`options=-c search_path=<schema>`), for a Courier that takes its
 * store from `COURIER_DATABASE_URL` alone (a child process, or the harness).
 * Drop it with `dropSchema` from test/support/postgres.ts.
 */
export async function createSchemaUrl(schema: string, base = TEST_DATABASE_URL): Promise<string> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await client.end();
  }
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}
