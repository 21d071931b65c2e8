import { dueTimerEvent } from '../domain/timers.js';
import type { Logger } from '../platform/logger.js';
import { PollingLoop } from './polling-loop.js';
import { letterSnapshot, type ApplyDeliveryEvent } from './apply-delivery-event.js';
import type { Clock, TimerStore } from './ports.js';

export interface TimerSweeperDeps {
  readonly timers: TimerStore;
  readonly apply: ApplyDeliveryEvent;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Letters claimed per round; a round's letters are handled concurrently. */
  readonly batchSize: number;
  /** How long a claim hides letters from other sweepers (a crashed sweeper's claims lapse after it). */
  readonly leaseMs: number;
  /** Pause between sweeps when nothing was due. */
  readonly intervalMs: number;
}

/**
 * Drives the state machine's timers (DESIGN §5) from the store: ack
 * timeouts, the end of backoffs, and filing deadlines. Each round claims due
 * letters (several instances share the work), asks the domain which timer is
 * due and applies it. After downtime the first rounds find every overdue
 * letter at once and work through them back to back, without pausing, so a
 * backlog clears at store speed.
 */
export class TimerSweeper {
  private readonly loop: PollingLoop;

  constructor(private readonly deps: TimerSweeperDeps) {
    this.loop = new PollingLoop(() => this.round(), { batchSize: deps.batchSize, intervalMs: deps.intervalMs, logger: deps.logger, what: 'timer sweep' });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round; resolves the number of letters claimed. */
  async round(): Promise<number> {
    const now = this.deps.clock.now();
    const due = await this.deps.timers.claimDue(now, this.deps.batchSize, new Date(now.getTime() + this.deps.leaseMs));
    const handled = await Promise.all(
      due.map(async (letter) => {
        const event = dueTimerEvent(letterSnapshot(letter), now);
        if (event === undefined) {
          // By construction every claimed letter has a timer due; leave the claim to lapse rather than loop on it.
          this.deps.logger.warn('letter past its next deadline has no timer due', { trackingId: letter.trackingId, state: letter.state });
          return undefined;
        }
        try {
          await this.deps.apply(letter.trackingId, event);
          return letter.trackingId;
        } catch (error) {
          this.deps.logger.warn('timer could not be applied; retried when the claim lapses', {
            trackingId: letter.trackingId,
            event: event.kind,
            errorName: error instanceof Error ? error.name : 'unknown',
          });
          return undefined;
        }
      }),
    );
    // Released, so a next timer that is already due (e.g. a zero backoff) is not held back by the lease.
    await this.deps.timers.releaseTimers(handled.filter((id) => id !== undefined));
    return due.length;
  }
}
