import { observeSequence, overdueGaps, type SequenceState } from '../../domain/sequence-gaps.js';
import type { Logger } from '../../platform/logger.js';
import type { ConnectorInbox, GapReporter, ResendRequester } from './ports.js';

export interface SequenceTrackerOptions {
  readonly inbox: ConnectorInbox;
  readonly reporter: GapReporter;
  readonly resend: ResendRequester;
  readonly logger: Logger;
  /** How long a missing number may stay missing before it is reported (letters can arrive out of order). */
  readonly graceMs: number;
  /** Called after each check with the overdue gaps per practice (for the metric). */
  readonly onOverdue?: (practice: string, count: number) => void;
  readonly clock?: () => Date;
}

/**
 * Follows `x-courier-sequence` per practice (DESIGN §3: gap-free from 1) and
 * reports a number that stays missing past the grace period: an event on
 * `courier.events`, a warning in the log, the metric, and a resend request to
 * Courier's API. A gap is reported once, when both the event and the request
 * went through; otherwise it is tried again at the next check.
 *
 * The state lives in memory, is changed synchronously as letters arrive, and
 * is saved through a per-practice chain, so concurrent letters never save
 * out of order.
 */
export class SequenceTracker {
  private readonly states = new Map<string, SequenceState>();
  private readonly saving = new Map<string, Promise<void>>();
  private readonly reported = new Map<string, Set<number>>();
  private readonly clock: () => Date;

  private constructor(private readonly options: SequenceTrackerOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  static async load(options: SequenceTrackerOptions): Promise<SequenceTracker> {
    const tracker = new SequenceTracker(options);
    for (const [practice, state] of await options.inbox.loadSequences()) {
      tracker.states.set(practice, state);
      tracker.reported.set(practice, await options.inbox.reportedGaps(practice));
    }
    return tracker;
  }

  /** Records that `sequence` arrived for `practice`; resolves once saved. */
  observe(practice: string, sequence: number): Promise<void> {
    const before = this.states.get(practice);
    const after = observeSequence(before, sequence, this.clock());
    if (after === before) return this.saving.get(practice) ?? Promise.resolve();
    this.states.set(practice, after);
    const previous = this.saving.get(practice) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.options.inbox.saveSequence(practice, before, after));
    this.saving.set(practice, next);
    return next;
  }

  /** Numbers still missing for a practice, ascending (for tests and the CLI). */
  missing(practice: string): number[] {
    return [...(this.states.get(practice)?.missing.keys() ?? [])].sort((a, b) => a - b);
  }

  /** Reports the gaps that stayed open past the grace period and were not reported yet. */
  async check(): Promise<void> {
    const now = this.clock();
    for (const [practice, state] of this.states) {
      const overdue = overdueGaps(state, now, this.options.graceMs);
      this.options.onOverdue?.(practice, overdue.length);
      const reported = this.reported.get(practice) ?? new Set<number>();
      this.reported.set(practice, reported);
      for (const sequence of overdue) {
        if (reported.has(sequence)) continue;
        if (await this.report(practice, sequence, state.missing.get(sequence) ?? now, now)) reported.add(sequence);
      }
    }
  }

  private async report(practice: string, sequence: number, noticedAt: Date, now: Date): Promise<boolean> {
    const log = this.options.logger.child({ ods: practice, sequence });
    log.warn('sequence gap: a letter for this practice has not arrived', { durationMs: now.getTime() - noticedAt.getTime() });
    try {
      await this.options.reporter.reportGap(practice, sequence, noticedAt, now);
    } catch (error) {
      log.warn('could not publish the sequence gap event; trying again later', { errorName: error instanceof Error ? error.name : 'unknown' });
      return false;
    }
    const answer = await this.options.resend.requestResend(practice, sequence, `sequence gap: ${sequence} not received`);
    if (answer.kind === 'failed') {
      log.warn('could not ask Courier to resend; trying again later', { reason: answer.reason });
      return false;
    }
    if (answer.kind === 'unknown-sequence') log.warn('Courier has no letter with this sequence for the practice');
    else log.info(answer.resent ? 'Courier is resending the letter' : 'Courier did not resend the letter', { trackingId: answer.trackingId, state: answer.state });
    await this.options.inbox.markGapReported(practice, sequence, now);
    return true;
  }
}
