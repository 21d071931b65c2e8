import { parentPort, workerData } from 'node:worker_threads';
import type { Transaction } from '@electric-sql/pglite';
import { createPglite } from './pglite-client.js';
import { serialiseError, type WorkerReply, type WorkerRequest, type WorkerStarted } from './pglite-worker-protocol.js';

/**
 * The embedded database's own thread: runs PGlite for pglite-worker-client.ts
 * so its WebAssembly and file I/O use a core of their own instead of
 * Courier's event loop. `workerData.dataDir` is the directory (undefined: in
 * memory). Requests are served as they come; PGlite's own mutex orders
 * queries and transactions exactly as it does in one thread.
 */
const port = parentPort;
if (port === null) throw new Error('pglite-worker.ts runs only as a worker thread');
const dataDir = (workerData as { dataDir?: string } | undefined)?.dataDir;

/** Thrown into PGlite's transaction callback to make it roll back. */
class Rollback extends Error {}
const ROLLBACK = new Rollback('rolled back by the caller');

interface OpenTransaction {
  readonly tx: Transaction;
  /** Ends the transaction callback: commit when true. */
  readonly finish: (commit: boolean) => void;
  /** Settles when PGlite has committed (resolves) or rolled back (rejects). */
  readonly settled: Promise<unknown>;
}

const reply = (message: WorkerReply): void => port.postMessage(message);

try {
  const db = await createPglite(dataDir);
  const transactions = new Map<number, OpenTransaction>();

  const begin = (): Promise<OpenTransaction> =>
    new Promise((resolve, reject) => {
      let finish: (commit: boolean) => void = () => undefined;
      const decided = new Promise<boolean>((resolveDecision) => (finish = resolveDecision));
      const settled = db.transaction(async (tx) => {
        resolve({ tx, finish, settled });
        if (!(await decided)) throw ROLLBACK;
      });
      // Failing before the callback ran (BEGIN itself failed) rejects the begin.
      settled.catch(reject);
    });

  const serve = async (request: WorkerRequest): Promise<unknown[] | undefined> => {
    switch (request.op) {
      case 'query':
        return (await db.query(request.sql, request.params === undefined ? undefined : [...request.params])).rows;
      case 'begin':
        transactions.set(request.id, await begin());
        return undefined;
      case 'tx-query': {
        const open = transactions.get(request.tx);
        if (open === undefined) throw new Error(`no open transaction ${request.tx}`);
        return (await open.tx.query(request.sql, request.params === undefined ? undefined : [...request.params])).rows;
      }
      case 'end': {
        const open = transactions.get(request.tx);
        if (open === undefined) throw new Error(`no open transaction ${request.tx}`);
        transactions.delete(request.tx);
        open.finish(request.commit);
        try {
          await open.settled;
        } catch (error) {
          if (error !== ROLLBACK) throw error;
        }
        return undefined;
      }
      case 'close':
        await db.close();
        return undefined;
    }
  };

  port.on('message', (request: WorkerRequest) => {
    serve(request).then(
      (rows) => reply(rows === undefined ? { id: request.id, ok: true } : { id: request.id, ok: true, rows }),
      (error: unknown) => reply({ id: request.id, ok: false, error: serialiseError(error) }),
    ).finally(() => {
      // The reply is queued before the port closes, and the thread ends with it.
      if (request.op === 'close') port.close();
    });
  });
  port.postMessage({ started: true } satisfies WorkerStarted);
} catch (error) {
  port.postMessage({ started: false, error: serialiseError(error) } satisfies WorkerStarted);
  port.close();
}
