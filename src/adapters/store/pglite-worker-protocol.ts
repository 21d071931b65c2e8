/**
 * Messages between Courier's thread and the worker thread that runs the
 * embedded database (pglite-worker.ts, pglite-worker-client.ts). Every
 * request carries an id and gets exactly one reply with that id.
 *
 * A transaction is opened by `begin` (its id names it from then on), runs any
 * number of `tx-query`, and ends with one `end`: PGlite holds its single
 * connection for it in between, so nothing else runs inside it.
 */
export type WorkerRequest =
  | { readonly op: 'query'; readonly id: number; readonly sql: string; readonly params: readonly unknown[] | undefined }
  | { readonly op: 'begin'; readonly id: number }
  | { readonly op: 'tx-query'; readonly id: number; readonly tx: number; readonly sql: string; readonly params: readonly unknown[] | undefined }
  | { readonly op: 'end'; readonly id: number; readonly tx: number; readonly commit: boolean }
  | { readonly op: 'close'; readonly id: number };

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly rows?: unknown[] }
  | { readonly id: number; readonly ok: false; readonly error: SerialisedError };

/** Sent once, before any reply: the database opened, or why it did not. */
export type WorkerStarted = { readonly started: true } | { readonly started: false; readonly error: SerialisedError };

/**
 * An error as it crosses the thread boundary. Structured cloning keeps only
 * an Error's name, message and stack; PostgreSQL's fields (`code` above all,
 * which the store reads for unique violations) are copied explicitly.
 */
export interface SerialisedError {
  readonly name: string;
  readonly message: string;
  readonly fields: Readonly<Record<string, string | number>>;
}

export function serialiseError(error: unknown): SerialisedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === 'string' || typeof value === 'number') fields[key] = value;
  }
  return { name: error.name, message: error.message, fields };
}

export function deserialiseError(error: SerialisedError): Error {
  const rebuilt = Object.assign(new Error(error.message), error.fields);
  rebuilt.name = error.name;
  return rebuilt;
}
