import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CourierError } from '../../app/errors.js';
import type { Logger } from '../../platform/logger.js';

export const PGDATA = 'pgdata';
const CREATING_PREFIX = `${PGDATA}.creating-`;

/**
 * Makes sure `<dataDir>/pgdata` holds a complete database and returns its
 * path. A database directory half-made by a kill during first-time creation
 * will not open again (DESIGN §7), so a new one is built beside the final
 * one, in `pgdata.creating-<pid>`, by `initialise` (which must leave it
 * closed), and renamed into place only when complete. Leftover
 * `pgdata.creating-*` directories are removed first.
 *
 * Call only while holding the data directory lock: nothing else may be
 * creating in `dataDir` at the same time.
 */
export async function ensureEmbeddedDataDir(
  dataDir: string,
  initialise: (directory: string) => Promise<void>,
  logger?: Logger,
): Promise<string> {
  for (const name of readdirSync(dataDir)) {
    if (!name.startsWith(CREATING_PREFIX)) continue;
    rmSync(join(dataDir, name), { recursive: true, force: true });
    logger?.warn('removed a database directory left half-made by an interrupted first start', { component: 'store' });
  }
  const final = join(dataDir, PGDATA);
  if (existsSync(final)) {
    if (existsSync(join(final, 'PG_VERSION'))) return final;
    if (!isEmptyDirectory(final)) {
      throw new CourierError('internal', `${final} exists but is not a database directory; move it away or use another data directory`);
    }
    rmSync(final, { recursive: true });
  }
  const creating = join(dataDir, `${CREATING_PREFIX}${process.pid}`);
  try {
    await initialise(creating);
  } catch (error) {
    rmSync(creating, { recursive: true, force: true });
    throw error;
  }
  renameSync(creating, final);
  logger?.info('created the embedded database', { component: 'store' });
  return final;
}

function isEmptyDirectory(path: string): boolean {
  return statSync(path).isDirectory() && readdirSync(path).length === 0;
}
