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
 * out of order, and a failed save is made good by the next.
 */
export class SequenceTracker {
  private readonly states = new Map<string, SequenceState>();
  private readonly saving = new Map<string, Promise<void>>();
  /** Per practice, the state as last saved. */
  private readonly persisted = new Map<string, SequenceState>();
  private readonly reported = new Map<string, Set<number>>();
  private readonly clock: () => Date;

  private constructor(private readonly options: SequenceTrackerOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  static async load(options: SequenceTrackerOptions): Promise<SequenceTracker> {
    const tracker = new SequenceTracker(options);
    for (const [practice, state] of await options.inbox.loadSequences()) {
      tracker.states.set(practice, state);
      tracker.persisted.set(practice, state);
      tracker.reported.set(practice, await options.inbox.reportedGaps(practice));
    }
    return tracker;
  }

  /**
   * Records that `sequence` arrived for `practice`; resolves once the state
   * is saved. A save writes the difference from the last state that was saved
   * successfully, so after a failed save (database away) the next call saves
   * what the failed one did not.
   */
  observe(practice: string, sequence: number): Promise<void> {
    const current = this.states.get(practice);
    const next = observeSequence(current, sequence, this.clock());
    if (next !== current) this.states.set(practice, next);
    const previous = this.saving.get(practice) ?? Promise.resolve();
    const saved = previous.catch(() => undefined).then(() => this.saveLatest(practice));
    this.saving.set(practice, saved);
    return saved;
  }

  private async saveLatest(practice: string): Promise<void> {
    const target = this.states.get(practice);
    const base = this.persisted.get(practice);
    if (target === undefined || target === base) return;
    await this.options.inbox.saveSequence(practice, base, target);
    this.persisted.set(practice, target);
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
