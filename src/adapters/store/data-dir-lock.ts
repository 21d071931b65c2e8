import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StoreLockedError } from '../../app/errors.js';

export interface DataDirLock {
  release(): void;
}

/**
 * PGlite takes no lock of its own, and two processes opening one data
 * directory corrupt it. This lock file, created with O_EXCL, makes a second
 * opener fail fast naming the holder. A lock whose process is gone (same
 * host, pid not alive) is stale and taken over.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'courier.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() }));
      closeSync(fd);
      return { release: () => releaseIfOurs(path) };
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error;
      const holder = readHolder(path);
      if (holder !== undefined && (holder.hostname !== hostname() || isAlive(holder.pid))) {
        throw new StoreLockedError(
          `The data directory ${dataDir} is in use by process ${holder.pid} on ${holder.hostname}; stop it or use another COURIER_DATA_DIR`,
        );
      }
      unlinkSync(path); // stale: its process is gone (or the file is unreadable debris)
    }
  }
  throw new StoreLockedError(`Could not take the lock on ${dataDir}`);
}

function readHolder(path: string): { pid: number; hostname: string } | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { pid, hostname: host } = value as { pid?: unknown; hostname?: unknown };
    return typeof pid === 'number' && typeof host === 'string' ? { pid, hostname: host } : undefined;
  } catch {
    return undefined; // a torn or empty lock file: treated as stale
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM'); // exists, owned by someone else
  }
}

function releaseIfOurs(path: string): void {
  if (readHolder(path)?.pid !== process.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone: nothing to release
  }
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code;
}
