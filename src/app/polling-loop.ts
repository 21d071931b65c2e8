import type { Logger } from '../platform/logger.js';

/**
 * Runs `round` again and again until stopped. A round that did a full batch
 * is followed at once by the next (a backlog is worked through at store
 * speed), yielding to I/O in between; otherwise the loop sleeps `intervalMs`
 * or until nudged. A failing round is logged and retried after the pause.
 * Always pausing or yielding matters: PGlite answers on microtasks, so a
 * loop of promise-only rounds would starve the event loop.
 */
export class PollingLoop {
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly round: () => Promise<number>,
    private readonly options: { readonly batchSize: number; readonly intervalMs: number; readonly logger: Logger; readonly what: string },
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Ask for a round now (new work was committed). */
  nudge(): void {
    this.wake?.();
  }

  /** Lets the current round finish, then stops. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let done = 0;
      try {
        done = await this.round();
      } catch (error) {
        this.options.logger.warn(`${this.options.what} round failed; will retry`, { errorName: error instanceof Error ? error.name : 'unknown' });
      }
      if (this.stopping) break;
      if (done >= this.options.batchSize) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.intervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
