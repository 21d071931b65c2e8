import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { StoreUnavailableError } from '../../src/app/errors.js';
import type { LogContext, Logger } from '../../src/platform/logger.js';
import { openStore } from '../../src/adapters/store/open-store.js';
import { connectPgliteWorker, openPgliteWorkerClient, startPgliteWorker } from '../../src/adapters/store/pglite-worker-client.js';
import { UNIQUE_VIOLATION, sqlState, type SqlClient } from '../../src/adapters/store/sql-client.js';
import { pgliteContracts } from './pglite-contracts.js';
import { newLetter } from './store-contract.js';

/**
 * The embedded store as Courier runs it, with PGlite in a worker thread: the
 * same contracts as in one thread (store.pglite.test.ts), then what only the
 * thread crossing can break.
 */
describe('PGlite store in a worker thread', function () {
  pgliteContracts('PGlite (embedded, worker thread)', () => openPgliteWorkerClient(undefined));
});

describe('PGlite worker client', function () {
  let client: SqlClient;
  before(async () => {
    client = await openPgliteWorkerClient(undefined);
  });
  beforeEach(() => client.query('DROP TABLE IF EXISTS t').then(() => client.query('CREATE TABLE t (id integer PRIMARY KEY, at timestamptz, data bytea)')));
  after(() => client.close());

  it('carries timestamps as Dates and bytea as Buffers, both ways', async () => {
    const at = new Date('2026-11-30T12:34:56.789Z');
    const data = Buffer.from([0, 1, 2, 253, 254, 255]);
    await client.query('INSERT INTO t VALUES ($1, $2, $3)', [1, at, data]);
    const { rows } = await client.query('SELECT at, data FROM t WHERE id = 1');
    const row = rows[0] as { at: unknown; data: unknown };
    expect(row.at).to.be.instanceOf(Date);
    expect((row.at as Date).toISOString()).to.equal(at.toISOString());
    expect(Buffer.isBuffer(row.data)).to.equal(true);
    expect(row.data).to.deep.equal(data);
  });

  it('passes PostgreSQL errors through with their SQLSTATE and fields', async () => {
    await client.query('INSERT INTO t (id) VALUES (1)');
    const error = await client.query('INSERT INTO t (id) VALUES (1)').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(sqlState(error)).to.equal(UNIQUE_VIOLATION);
    expect(error).to.have.property('constraint', 't_pkey');
    expect(error).to.not.be.instanceOf(StoreUnavailableError);
  });

  it('commits a transaction whose function resolves and rolls back one that throws, rethrowing its error', async () => {
    const answer = await client.transaction(async (tx) => {
      await tx.query('INSERT INTO t (id) VALUES (1)');
      return 'kept';
    });
    expect(answer).to.equal('kept');
    const thrown = new Error('changed my mind');
    const error = await client
      .transaction(async (tx) => {
        await tx.query('INSERT INTO t (id) VALUES (2)');
        throw thrown;
      })
      .catch((e: unknown) => e);
    expect(error).to.equal(thrown);
    const { rows } = await client.query('SELECT id FROM t ORDER BY id');
    expect(rows).to.deep.equal([{ id: 1 }]);
  });

  it('runs concurrent transactions one after another: no statement lands inside another transaction', async () => {
    await client.query('INSERT INTO t (id) VALUES (0)');
    // Each transaction reads the maximum and writes the next; interleaved, two would read the same maximum and collide.
    await Promise.all(
      Array.from({ length: 20 }, () =>
        client.transaction(async (tx) => {
          const { rows } = await tx.query('SELECT max(id) AS m FROM t');
          await new Promise((resolve) => setImmediate(resolve));
          await tx.query('INSERT INTO t (id) VALUES ($1)', [(rows[0] as { m: number }).m + 1]);
        }),
      ),
    );
    const { rows } = await client.query('SELECT count(*)::int AS n, max(id) AS m FROM t');
    expect(rows).to.deep.equal([{ n: 21, m: 20 }]);
  });

  it('answers StoreUnavailableError after close, and close is idempotent; closing is not logged as a failure', async () => {
    const logged: { message: string; context: LogContext | undefined }[] = [];
    const closing = await openPgliteWorkerClient(undefined, recordingLogger(logged));
    await Promise.all([closing.close(), closing.close()]);
    const error = await closing.query('SELECT 1').catch((e: unknown) => e);
    expect(error).to.be.instanceOf(StoreUnavailableError);
    expect(logged).to.deep.equal([]);
  });

  it('rejects the open with the database reason when the worker cannot open it, logging no stop', async () => {
    const logged: { message: string; context: LogContext | undefined }[] = [];
    const notADirectory = join(mkdtempSync(join(tmpdir(), 'courier-worker-')), 'file');
    writeFileSync(notADirectory, 'not a database');
    try {
      const error = await openPgliteWorkerClient(notADirectory, recordingLogger(logged)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(Error);
      expect(logged).to.deep.equal([]);
    } finally {
      rmSync(dirname(notADirectory), { recursive: true, force: true });
    }
  });

  it('fails pending and later calls with StoreUnavailableError when the worker dies', async () => {
    const worker = startPgliteWorker(undefined);
    const logged: { message: string; context: LogContext | undefined }[] = [];
    const dying = await connectPgliteWorker(worker, recordingLogger(logged));
    // pg_sleep keeps a query pending in the worker; ending the thread under it stands in for a WebAssembly abort.
    const pending = dying.query('SELECT pg_sleep(0.5)').catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await worker.terminate();
    expect(await pending).to.be.instanceOf(StoreUnavailableError);
    expect(await dying.query('SELECT 1').catch((e: unknown) => e)).to.be.instanceOf(StoreUnavailableError);
    expect(logged.map((l) => l.context?.reason)).to.deep.equal(['store-worker-stopped']);
    await dying.close();
    expect(logged).to.have.length(1);
  });
});

function recordingLogger(into: { message: string; context: LogContext | undefined }[]): Logger {
  const record = (message: string, context?: LogContext): void => void into.push({ message, context });
  const logger: Logger = { debug: record, info: record, warn: record, error: record, child: () => logger };
  return logger;
}

describe('Embedded store on disk (worker thread)', function () {
  it('keeps what it accepted across close and reopen', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'courier-worker-'));
    try {
      const letter = newLetter();
      const first = await openStore({ dataDir });
      expect((await first.accept(letter)).kind).to.equal('accepted');
      await first.close();
      const second = await openStore({ dataDir });
      try {
        expect(Buffer.from((await second.body(letter.trackingId)) ?? [])).to.deep.equal(Buffer.from(letter.body));
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
