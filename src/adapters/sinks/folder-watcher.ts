import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FilingOutcome, FilingWatcher } from '../../app/connector/ports.js';
import { PollingLoop } from '../../app/polling-loop.js';
import { isSafeFileStem } from '../../domain/letter-attachment.js';
import type { Logger } from '../../platform/logger.js';
import { FILED_DIR, REJECTED_DIR } from './folder-sink.js';

export interface FolderWatcherOptions {
  /** The practice's ODS code, carried on every outcome. */
  readonly practice: string;
  /** The FolderSink's inbox; `filed/` and `rejected/` are looked at inside it. */
  readonly inboxDir: string;
  /** Pause between the end of one scan and the start of the next. */
  readonly pollIntervalMs: number;
  readonly logger: Logger;
}

type Outcome = FilingOutcome['outcome'];

/** Scanned in this order, so within one scan `filed` is reported before `rejected`. */
const DIRECTORIES: readonly { readonly dir: string; readonly outcome: Outcome }[] = [
  { dir: FILED_DIR, outcome: 'filed' },
  { dir: REJECTED_DIR, outcome: 'rejected' },
];

const BUNDLE_FILE = /^(.+)\.bundle\.json$/;
const ATTACHMENT_FILE = /^(.+)\.attachment\.[A-Za-z0-9]+$/;

/**
 * The letter a file in `filed/` or `rejected/` belongs to: `<id>.bundle.json`
 * or `<id>.attachment.<ext>` as FolderSink writes them. Dot-files (including
 * FolderSink's and practice systems' temp files), `.tmp` files and anything
 * else give undefined.
 */
export function letterIdOfFile(name: string): string | undefined {
  if (name.startsWith('.') || name.endsWith('.tmp')) return undefined;
  const id = BUNDLE_FILE.exec(name)?.[1] ?? ATTACHMENT_FILE.exec(name)?.[1];
  return id !== undefined && isSafeFileStem(id) ? id : undefined;
}

/**
 * Reports what a folder practice system did with the letters FolderSink left
 * it, by polling `filed/` and `rejected/` (not fs.watch: network shares do
 * not deliver change events reliably). Contract (FilingWatcher):
 * - each (id, outcome) is reported once per process run, after `onOutcome`
 *   resolved; one whose `onOutcome` rejected is offered again on the next
 *   scan. What was reported is remembered in memory only, so a restarted
 *   process reports everything in the folders again (the connector ignores
 *   repeats).
 * - an id found in both folders is reported as both, `filed` first: the
 *   watcher does not judge which is right; the connector does.
 * - scans never overlap; `stop()` lets the running scan finish its current
 *   outcome and waits for it.
 * - a folder that is missing or unreadable is logged once (until it is
 *   readable again) and retried on every scan; the process never crashes.
 */
export class FolderWatcher implements FilingWatcher {
  private readonly reported = new Set<string>();
  /** Folders whose last read failed, with the error code, so a failure is logged once. */
  private readonly failing = new Map<string, string>();
  private loop: PollingLoop | undefined;
  private stopping = false;

  constructor(private readonly options: FolderWatcherOptions) {}

  /** Starts polling at once. A second call while running is ignored. */
  start(onOutcome: (outcome: FilingOutcome) => Promise<void>): void {
    if (this.loop !== undefined || this.stopping) return;
    this.loop = new PollingLoop(() => this.scan(onOutcome), {
      batchSize: Number.POSITIVE_INFINITY, // always pause between scans
      intervalMs: this.options.pollIntervalMs,
      logger: this.options.logger,
      what: 'folder watcher',
    });
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop?.stop();
  }

  /** One pass over both folders; returns how many outcomes were reported. */
  private async scan(onOutcome: (outcome: FilingOutcome) => Promise<void>): Promise<number> {
    let count = 0;
    for (const { dir, outcome } of DIRECTORIES) {
      for (const messageHeaderId of await this.idsIn(dir)) {
        if (this.stopping) return count;
        const key = `${outcome}:${messageHeaderId}`;
        if (this.reported.has(key)) continue;
        try {
          await onOutcome({ practice: this.options.practice, messageHeaderId, outcome });
          this.reported.add(key);
          count++;
        } catch (error) {
          this.options.logger.warn('filing outcome not taken; will report it again on the next scan', {
            component: 'folder-watcher',
            ods: this.options.practice,
            messageHeaderId,
            state: outcome,
            errorName: error instanceof Error ? error.name : 'unknown',
          });
        }
      }
    }
    return count;
  }

  /** The letter ids in one folder, each once, sorted; none when the folder cannot be read. */
  private async idsIn(dir: string): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(join(this.options.inboxDir, dir));
    } catch (error) {
      const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : 'unknown';
      if (this.failing.get(dir) !== code) {
        this.options.logger.warn(`cannot read the ${dir} folder; will keep trying`, { component: 'folder-watcher', ods: this.options.practice, errorCode: code });
      }
      this.failing.set(dir, code);
      return [];
    }
    if (this.failing.delete(dir)) {
      this.options.logger.info(`the ${dir} folder can be read again`, { component: 'folder-watcher', ods: this.options.practice });
    }
    const ids = new Set<string>();
    for (const name of names) {
      const id = letterIdOfFile(name);
      if (id !== undefined) ids.add(id);
    }
    return [...ids].sort();
  }
}
