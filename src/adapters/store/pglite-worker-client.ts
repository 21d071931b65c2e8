import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from '../../app/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';
import { deserialiseError, type WorkerReply, type WorkerRequest, type WorkerStarted } from './pglite-worker-protocol.js';

/** Distributes Omit over a union, so each request kind keeps its own fields. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** How long close waits for the worker to finish PGlite's shutdown before ending it. */
const CLOSE_GRACE_MS = 10_000;

/**
 * The embedded store (PGlite) in a worker thread of its own, behind the same
 * SqlClient contract as openPgliteClient. In Courier's own thread PGlite's
 * WebAssembly and file I/O took about 70 % of the event loop (cpu-prof of
 * the backlog benchmark), so HTTP, validation and the broker waited behind
 * the database; here they run on the other core.
 *
 * If the worker dies (a WebAssembly abort, an uncaught error), every pending
 * and later call fails with StoreUnavailableError, as after close: what was
 * committed is on disk, and Courier answers 503 rather than guessing.
 * The worker keeps the process alive only while a request is pending.
 */
export function openPgliteWorkerClient(dataDir: string | undefined, logger?: Logger): Promise<SqlClient> {
  return connectPgliteWorker(startPgliteWorker(dataDir), logger);
}

/** The client over a worker started by startPgliteWorker (separate so tests can end the worker under it). */
export async function connectPgliteWorker(worker: Worker, logger?: Logger): Promise<SqlClient> {
  const pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (error: unknown) => void }>();
  let nextId = 1;
  let stopped: Error | undefined;
  let closing: Promise<void> | undefined;
  let running = false;

  const stop = (reason: Error): void => {
    // A worker that never started is reported by the rejected open instead.
    if (running && stopped === undefined && closing === undefined) {
      // Names only the error's class: a database error's text can quote the values it was given.
      logger?.error('the embedded database stopped; the store answers unavailable until Courier is restarted', { reason: 'store-worker-stopped', errorName: reason.name });
    }
    stopped ??= reason;
    for (const { reject } of pending.values()) reject(new StoreUnavailableError(reason));
    pending.clear();
    worker.unref();
  };
  worker.on('error', (error) => stop(error));
  worker.on('exit', (code) => stop(workerExited(code)));

  await started(worker);
  running = true;
  worker.on('message', (message: WorkerReply) => {
    const waiting = pending.get(message.id);
    if (waiting === undefined) return;
    pending.delete(message.id);
    if (pending.size === 0) worker.unref();
    if (message.ok) waiting.resolve(asBuffers(message.rows ?? []));
    else waiting.reject(deserialiseError(message.error));
  });
  worker.unref();

  /** Posts one request; `allowWhileClosing` lets a transaction already under way finish. */
  const call = (request: WithoutId<WorkerRequest>, allowWhileClosing = false): Promise<unknown[]> => {
    if (closing !== undefined && !allowWhileClosing) return Promise.reject(new StoreUnavailableError(new Error('the store was closed')));
    if (stopped !== undefined) return Promise.reject(new StoreUnavailableError(stopped));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      if (pending.size === 1) worker.ref();
      try {
        worker.postMessage({ ...request, id });
      } catch (error) {
        // A parameter that cannot be cloned: nothing was sent.
        pending.delete(id);
        if (pending.size === 0) worker.unref();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  };

  const transaction = async <T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> => {
    const tx = nextId; // the begin request's id names the transaction
    await call({ op: 'begin' });
    const executor: SqlExecutor = { query: async (sql, params) => ({ rows: await call({ op: 'tx-query', tx, sql, params }, true) }) };
    let result: T;
    try {
      result = await fn(executor);
    } catch (error) {
      // The caller's error is the one that matters; a failed rollback means the worker is gone, and with it the transaction.
      await call({ op: 'end', tx, commit: false }, true).catch(() => undefined);
      throw error;
    }
    await call({ op: 'end', tx, commit: true }, true);
    return result;
  };

  const close = async (): Promise<void> => {
    if (stopped === undefined) {
      await call({ op: 'close' }, true).catch(() => undefined);
      const timer = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS);
      if (stopped === undefined) await once(worker, 'exit');
      clearTimeout(timer);
    }
  };

  return {
    query: async (sql, params) => ({ rows: await call({ op: 'query', sql, params }) }),
    transaction,
    close: () => (closing ??= close()),
  };
}

/**
 * Compiled, the worker is `pglite-worker.js` beside this file. Run from
 * TypeScript sources (tsx), it starts through pglite-worker-tsx.mjs, which
 * registers tsx's hooks in the new thread first.
 */
export function startPgliteWorker(dataDir: string | undefined): Worker {
  const entry = import.meta.url.endsWith('.ts') ? './pglite-worker-tsx.mjs' : './pglite-worker.js';
  return new Worker(new URL(entry, import.meta.url), { workerData: { dataDir } });
}

/** Waits for the worker's first message: the database is open, or the reason it is not (or it ended before saying). */
async function started(worker: Worker): Promise<void> {
  const failure = await Promise.race([
    once(worker, 'message').then(([message]) => {
      const first = message as WorkerStarted;
      return first.started ? undefined : deserialiseError(first.error);
    }),
    once(worker, 'exit').then(([code]) => workerExited(code as number)),
  ]);
  if (failure !== undefined) {
    await worker.terminate();
    throw failure;
  }
}

function workerExited(code: number): Error {
  return new Error(`the embedded database's worker exited (code ${code})`);
}

/** bytea arrives as Uint8Array after the thread crossing; the rest of Courier, like express, expects Buffers. */
function asBuffers(rows: unknown[]): unknown[] {
  for (const row of rows) {
    if (typeof row !== 'object' || row === null) continue;
    const record = row as Record<string, unknown>;
    for (const [key, value] of Object.entries(record)) {
      if (value instanceof Uint8Array && !Buffer.isBuffer(value)) record[key] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
  }
  return rows;
}
