import { isSilent, type PracticeActivity } from '../domain/practice-silence.js';
import type { Logger } from '../platform/logger.js';
import { PollingLoop } from './polling-loop.js';
import type { Clock, NewNotification, PracticeStore } from './ports.js';

export interface PracticeWatchDeps {
  readonly practices: PracticeStore;
  /** The practices directory. */
  readonly directory: readonly string[];
  readonly silentAfterMs: number;
  readonly intervalMs: number;
  /** Whether an escalation webhook is configured (alarms are sent to it too). */
  readonly webhook: boolean;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called after an alarm change queued its event and notifications. */
  readonly onQueued?: () => void;
}

/** The body of a practice alarm event and webhook: codes and times only. */
export interface PracticeAlarmBody extends Record<string, unknown> {
  readonly state: 'practice-silent' | 'practice-heard';
  readonly ods: string;
  readonly at: string;
  readonly awaiting: number;
  readonly lastAckAt: string | null;
  readonly oldestAwaitingSince: string | null;
  readonly reason: string;
}

const NOTHING: PracticeActivity = { awaiting: 0, oldestAwaitingSince: null, lastAckAt: null };

/**
 * The silent-practice alarm (a dead GP endpoint is noticed in hours, not
 * years): every `intervalMs` it checks each practice in the directory; a
 * practice with letters waiting that has said nothing for `silentAfterMs`
 * raises a practice-level escalation — a `practice-silent.<ODS>` event and
 * the webhook — once; when it speaks again (or nothing waits any more) the
 * alarm clears with `practice-heard.<ODS>`.
 */
export class PracticeWatch {
  private readonly loop: PollingLoop;

  constructor(private readonly deps: PracticeWatchDeps) {
    this.loop = new PollingLoop(() => this.round().then(() => 0), { batchSize: 1, intervalMs: deps.intervalMs, logger: deps.logger, what: 'practice check' });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One check of every practice; resolves the practices whose alarm changed. */
  async round(): Promise<string[]> {
    const now = this.deps.clock.now();
    const [activity, active] = await Promise.all([this.deps.practices.activity(), this.deps.practices.activeAlarms()]);
    const changed: string[] = [];
    for (const ods of this.deps.directory) {
      const seen = activity.get(ods) ?? NOTHING;
      const silent = isSilent(seen, now, this.deps.silentAfterMs);
      if (silent === active.has(ods)) continue;
      const body = alarmBody(ods, silent, seen, now, this.deps.silentAfterMs);
      const notifications: NewNotification[] = silent && this.deps.webhook ? [{ kind: 'practice-alarm-webhook', url: null, payload: body, practice: ods }] : [];
      const change = { ods, at: now, event: body, notifications };
      const done = silent ? await this.deps.practices.raise(change) : await this.deps.practices.clear(change);
      if (!done) continue; // another instance got there first
      changed.push(ods);
      if (silent) this.deps.logger.error('practice silent: letters waiting and no acknowledgement', { ods, count: seen.awaiting });
      else this.deps.logger.info('practice heard from again; alarm cleared', { ods });
    }
    if (changed.length > 0) this.deps.onQueued?.();
    return changed;
  }
}

function alarmBody(ods: string, silent: boolean, seen: PracticeActivity, now: Date, silentAfterMs: number): PracticeAlarmBody {
  const hours = Math.round((silentAfterMs / 3_600_000) * 100) / 100;
  return {
    state: silent ? 'practice-silent' : 'practice-heard',
    ods,
    at: now.toISOString(),
    awaiting: seen.awaiting,
    lastAckAt: seen.lastAckAt?.toISOString() ?? null,
    oldestAwaitingSince: seen.oldestAwaitingSince?.toISOString() ?? null,
    reason: silent
      ? `${seen.awaiting} letter(s) waiting and no acknowledgement from the practice for ${hours} h`
      : seen.awaiting === 0
        ? 'no letters waiting any more'
        : 'the practice acknowledged again',
  };
}
