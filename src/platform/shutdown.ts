import type { Logger } from './logger.js';

/** Something to close on the way out, closed in the reverse order of registration. */
export interface Closeable {
  readonly name: string;
  close(): Promise<void>;
}

/**
 * Graceful stop: on SIGTERM or SIGINT, run `stop` once (stop taking requests,
 * finish in-flight ones, close broker and store), then exit 0; if it takes
 * longer than `graceMs`, exit 1 so the orchestrator restarts cleanly. Nothing
 * accepted is at risk either way: custody is in the store before any 202.
 */
export function onTerminationSignals(stop: () => Promise<void>, options: { graceMs: number; logger: Logger }): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    options.logger.info('stopping', { reason: signal });
    const timer = setTimeout(() => {
      options.logger.error('graceful stop timed out; exiting', { durationMs: options.graceMs });
      process.exit(1);
    }, options.graceMs);
    timer.unref();
    stop().then(
      () => {
        options.logger.info('stopped');
        process.exitCode = 0;
        clearTimeout(timer);
      },
      (error: unknown) => {
        options.logger.error('error while stopping', { errorName: error instanceof Error ? error.name : 'unknown' });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
}

/** Closes each in reverse order; a failure of one does not stop the others. */
export async function closeAll(items: readonly Closeable[], logger: Logger): Promise<void> {
  for (const item of [...items].reverse()) {
    try {
      await item.close();
    } catch (error) {
      logger.warn('close failed', { component: item.name, errorName: error instanceof Error ? error.name : 'unknown' });
    }
  }
}
