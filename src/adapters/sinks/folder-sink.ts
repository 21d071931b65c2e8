import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { LetterForSink, LetterSink } from '../../app/connector/ports.js';
import { isSafeFileStem, letterAttachment } from '../../domain/letter-attachment.js';
import type { SinkResult } from '../../domain/sink-outcome.js';
import type { LogContext, Logger } from '../../platform/logger.js';
import { parseStrictJson } from '../fhir/strict-json.js';

/** Where the practice system moves a letter's files once it has filed it in the record. */
export const FILED_DIR = 'filed';
/** Where the practice system moves a letter's files when it refuses it. */
export const REJECTED_DIR = 'rejected';

/** `<MessageHeader.id>.bundle.json`: the Bundle as delivered; its presence means the letter is complete. */
export function bundleFileName(messageHeaderId: string): string {
  return `${messageHeaderId}.bundle.json`;
}

/** `<MessageHeader.id>.attachment.<ext>`: the decoded document, written before the Bundle. */
export function attachmentFileName(messageHeaderId: string, extension: string): string {
  return `${messageHeaderId}.attachment.${extension}`;
}

export interface FolderSinkOptions {
  /** The folder the practice system picks letters up from; `filed/` and `rejected/` sit inside it. */
  readonly inboxDir: string;
  readonly logger: Logger;
}

const STORED: SinkResult = { kind: 'stored' };
const NO_ANSWER: SinkResult = { kind: 'no-answer' };
/** Refused for good: re-sending the same bytes can never succeed. */
const REFUSED: SinkResult = { kind: 'answered', status: 422, itkCodes: [] };

/**
 * Errors from fsync on a directory that mean "not supported here" (some
 * network and FUSE file systems, Windows), not "not written": PostgreSQL's
 * fsync_fname ignores the same ones for directories.
 */
const DIRECTORY_SYNC_UNSUPPORTED: ReadonlySet<string> = new Set(['EINVAL', 'ENOTSUP', 'EISDIR', 'EPERM']);

/**
 * Hands letters to a practice system that takes documents from a folder
 * (the LetterSink contract in app/connector/ports.ts):
 * - writes `<id>.attachment.<ext>` (when the letter has an inline document)
 *   and then `<id>.bundle.json`, each to a hidden `.…tmp` file in the inbox,
 *   fsynced, renamed into place, and the directory fsynced; so a practice
 *   system that waits for the `.bundle.json` never sees half a letter, and a
 *   `stored` answer survives a power cut;
 * - idempotent per MessageHeader.id: when `<id>.bundle.json` is already in the
 *   inbox, `filed/` or `rejected/`, it writes nothing and answers `stored`.
 *   This holds only while the practice system keeps those files: one that
 *   deletes them after filing could be handed a redelivered letter again.
 *   Hand-overs of one id within this process run one after the other;
 * - an id that cannot name a file, or a body that is not a JSON Bundle, is
 *   refused (422); an I/O failure answers `no-answer` and is logged with its
 *   error code only, and the connector retries.
 * Logs carry ids and codes, never file contents or paths built from input.
 */
export class FolderSink implements LetterSink {
  private readonly inFlight = new Map<string, Promise<SinkResult>>();

  private constructor(private readonly options: FolderSinkOptions) {}

  /** Creates the inbox, `filed/` and `rejected/` when missing (a failure here is a start-up failure). */
  static async open(options: FolderSinkOptions): Promise<FolderSink> {
    for (const dir of [options.inboxDir, join(options.inboxDir, FILED_DIR), join(options.inboxDir, REJECTED_DIR)]) {
      await mkdir(dir, { recursive: true });
    }
    return new FolderSink(options);
  }

  async handOver(letter: LetterForSink): Promise<SinkResult> {
    const id = letter.messageHeaderId;
    const previous = this.inFlight.get(id);
    const run = (async () => {
      await previous; // never rejects: handOverNow answers every failure
      return this.handOverNow(letter);
    })();
    this.inFlight.set(id, run);
    try {
      return await run;
    } finally {
      if (this.inFlight.get(id) === run) this.inFlight.delete(id);
    }
  }

  private async handOverNow(letter: LetterForSink): Promise<SinkResult> {
    const context: LogContext = { component: 'folder-sink', ods: letter.practice };
    if (letter.trackingId !== undefined) context.trackingId = letter.trackingId;
    if (!isSafeFileStem(letter.messageHeaderId)) {
      // The id itself is not logged: it is whatever the sender put there.
      this.options.logger.warn('letter refused: its MessageHeader.id cannot name a file', { ...context, reason: 'unsafe-file-stem' });
      return REFUSED;
    }
    const log = this.options.logger.child({ ...context, messageHeaderId: letter.messageHeaderId });
    const parsed = parseStrictJson(letter.body);
    if (!parsed.ok || !isBundle(parsed.value)) {
      log.warn('letter refused: the body is not a JSON Bundle', { reason: 'not-a-json-bundle' });
      return REFUSED;
    }
    const attachment = letterAttachment(parsed.value);
    try {
      if (await this.alreadyHandedOver(letter.messageHeaderId)) {
        log.info('letter already in the folder from an earlier hand-over; nothing written');
        return STORED;
      }
      if (attachment !== undefined) {
        await writeAtomically(this.options.inboxDir, attachmentFileName(letter.messageHeaderId, attachment.extension), attachment.data);
      }
      await writeAtomically(this.options.inboxDir, bundleFileName(letter.messageHeaderId), letter.body);
      log.info('letter stored in the folder', { reason: attachment === undefined ? 'bundle-only' : 'bundle-and-attachment' });
      return STORED;
    } catch (error) {
      log.warn('could not write the letter to the folder; the connector will retry', { errorCode: errorCodeOf(error) });
      return NO_ANSWER;
    }
  }

  /** Whether `<id>.bundle.json` is in the inbox, `filed/` or `rejected/`; other errors than "not there" are I/O failures. */
  private async alreadyHandedOver(messageHeaderId: string): Promise<boolean> {
    const name = bundleFileName(messageHeaderId);
    for (const dir of [this.options.inboxDir, join(this.options.inboxDir, FILED_DIR), join(this.options.inboxDir, REJECTED_DIR)]) {
      try {
        await stat(join(dir, name));
        return true;
      } catch (error) {
        if (errorCodeOf(error) !== 'ENOENT') throw error;
      }
    }
    return false;
  }
}

/**
 * Writes `name` in `dir` so that it appears whole or not at all: a hidden
 * temp file (`.` first, `.tmp` last, so practice systems skip it), fsync,
 * close, rename over `name`, fsync of the directory. On failure the temp file
 * is removed, best effort.
 */
async function writeAtomically(dir: string, name: string, data: Uint8Array): Promise<void> {
  const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    const opened = handle;
    handle = undefined;
    await opened.close();
    await rename(temp, join(dir, name));
  } catch (error) {
    // Best effort: the write already failed and that error is the one to report.
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

/** Makes the directory entries (the rename) durable. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    if (!DIRECTORY_SYNC_UNSUPPORTED.has(errorCodeOf(error))) throw error;
  } finally {
    await handle?.close();
  }
}

function isBundle(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && (value as { resourceType?: unknown }).resourceType === 'Bundle';
}

/** The errno code (`ENOSPC`, `EACCES` …) of a file system error, else the error's class name. */
function errorCodeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.name : 'unknown';
}
