import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreLockedError } from '../../app/errors.js';
import type { Logger } from '../../platform/logger.js';

export const LOCK_FILE = 'courier.lock';

/** What the lock file says about its holder. */
export interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt: string;
}

export interface DataDirLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

/** Lock files this process holds: a second open within one process is refused too. */
const heldHere = new Set<string>();

/** A lock file younger than this that cannot be read is being written, not debris. */
const UNREADABLE_GRACE_MS = 5_000;

/**
 * PGlite takes no lock on its data directory, and two processes opening one
 * directory corrupt it (DESIGN §7). This lock file, created with O_EXCL
 * (`wx`), makes a second opener fail fast with `StoreLockedError` naming the
 * holder. A lock whose process is gone (same host, pid not alive) is stale
 * and taken over; so is one naming our own pid that this process does not
 * hold (a restarted container is pid 1 again). A holder on another host
 * cannot be checked and is always respected.
 */
export async function lockDataDir(dataDir: string, options: { logger?: Logger | undefined } = {}): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  const content = JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() } satisfies LockHolder);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(path, content, { flag: 'wx' });
      heldHere.add(path);
      return { path, release: () => release(path, content) };
    } catch (error) {
      if (!hasCode(error, 'EEXIST')) throw error;
    }
    const found = await readLock(path);
    if (found.kind === 'gone') continue;
    if (found.kind === 'held') {
      if (isLive(found.holder, path)) {
        throw new StoreLockedError(
          `The data directory ${dataDir} is in use by process ${found.holder.pid} on ${found.holder.hostname} (since ${found.holder.startedAt}); ` +
            'stop that process or use another data directory',
        );
      }
      options.logger?.warn('taking over the stale lock of a process that is gone', { component: 'store', pid: found.holder.pid });
    } else if (found.ageMs < UNREADABLE_GRACE_MS) {
      throw new StoreLockedError(`The data directory ${dataDir} is being locked by another process`);
    }
    takeOver(path, found.raw);
  }
  throw new StoreLockedError(`Could not take the lock on the data directory ${dataDir}: other processes keep taking it`);
}

type LockRead = { kind: 'gone' } | { kind: 'held'; holder: LockHolder; raw: string } | { kind: 'unreadable'; raw: string; ageMs: number };

/** Reads the lock, giving a holder that has just created it a moment to finish writing. */
async function readLock(path: string): Promise<LockRead> {
  for (let attempt = 0; ; attempt++) {
    let raw: string;
    let ageMs: number;
    try {
      raw = readFileSync(path, 'utf8');
      ageMs = Date.now() - statSync(path).mtimeMs;
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return { kind: 'gone' };
      throw error;
    }
    const holder = parseHolder(raw);
    if (holder !== undefined) return { kind: 'held', holder, raw };
    if (attempt >= 5) return { kind: 'unreadable', raw, ageMs };
    await sleep(50);
  }
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null) return undefined;
    const { pid, hostname: host, startedAt } = value as Record<string, unknown>;
    if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0 || typeof host !== 'string') return undefined;
    return { pid, hostname: host, startedAt: typeof startedAt === 'string' ? startedAt : 'unknown' };
  } catch {
    return undefined; // empty or torn: the caller decides by the file's age
  }
}

function isLive(holder: LockHolder, path: string): boolean {
  if (holder.hostname !== hostname()) return true;
  if (holder.pid === process.pid) return heldHere.has(path);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return hasCode(error, 'EPERM'); // alive, owned by another user
  }
}

/**
 * Removes a stale lock without ever removing a fresh one: the file is first
 * renamed aside (atomic), and if what was moved is not the stale content we
 * judged (another process took over in between), it is linked back.
 */
function takeOver(path: string, staleContent: string): void {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return; // someone else removed it first; try again
    throw error;
  }
  try {
    if (readFileSync(aside, 'utf8') !== staleContent) linkSync(aside, path);
  } catch (error) {
    // EEXIST: yet another process locked meanwhile and holds the directory; ours will fail on retry.
    if (!hasCode(error, 'EEXIST')) throw error;
  } finally {
    unlinkSync(aside);
  }
}

function release(path: string, content: string): void {
  if (!heldHere.delete(path)) return;
  try {
    if (readFileSync(path, 'utf8') === content) unlinkSync(path);
  } catch (error) {
    if (!hasCode(error, 'ENOENT')) throw error; // already gone: nothing to release
  }
}

function hasCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code;
}
