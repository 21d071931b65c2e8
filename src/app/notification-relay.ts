import { backoffMs, type BackoffPolicy } from '../domain/retry-policy.js';
import type { Logger } from '../platform/logger.js';
import { PollingLoop } from './polling-loop.js';
import type { Clock, NotificationKind, NotificationStore, PendingNotification } from './ports.js';

export type PostResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

/** POSTs a JSON body; never throws; reports only a status code or an error name. */
export type HttpPoster = (url: string, body: unknown, contentType: string) => Promise<PostResult>;

export interface NotificationObserver {
  notificationSent(kind: NotificationKind, ok: boolean): void;
}

export interface NotificationRelayDeps {
  readonly notifications: NotificationStore;
  readonly post: HttpPoster;
  /** The escalation webhook, or undefined when none is configured. */
  readonly webhookUrl: string | undefined;
  readonly backoff: BackoffPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  readonly observer: NotificationObserver;
  readonly logger: Logger;
  readonly batchSize: number;
  readonly leaseMs: number;
  readonly intervalMs: number;
}

/**
 * Sends the HTTP notifications (escalation webhook, responses to senders,
 * practice alarms) until each is delivered: a failure is recorded
 * (attempts, last error: visible in the tracking view and the metrics) and
 * tried again after an exponential backoff with jitter, capped. Nothing is
 * given up on: a receiver down for a day gets its notifications when it is
 * back.
 */
export class NotificationRelay {
  private readonly loop: PollingLoop;

  constructor(private readonly deps: NotificationRelayDeps) {
    this.loop = new PollingLoop(() => this.round(), { batchSize: deps.batchSize, intervalMs: deps.intervalMs, logger: deps.logger, what: 'notification' });
  }

  start(): void {
    this.loop.start();
  }

  nudge(): void {
    this.loop.nudge();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round; resolves the number of notifications claimed. */
  async round(): Promise<number> {
    const now = this.deps.clock.now();
    const due = await this.deps.notifications.claimDue(now, this.deps.batchSize, new Date(now.getTime() + this.deps.leaseMs));
    await Promise.all(due.map((n) => this.send(n)));
    return due.length;
  }

  private async send(notification: PendingNotification): Promise<void> {
    const url = notification.url ?? this.deps.webhookUrl;
    const log = this.deps.logger.child({ component: 'notifications', event: notification.kind, ...(notification.trackingId ? { trackingId: notification.trackingId } : {}) });
    if (url === undefined) {
      // Queued while a webhook was configured, which has since been removed: nobody to tell.
      await this.deps.notifications.delivered(notification.id, this.deps.clock.now(), 'not sent: no webhook configured');
      log.warn('notification not sent: no escalation webhook is configured');
      return;
    }
    const contentType = notification.kind === 'sender-response' ? 'application/fhir+json' : 'application/json';
    const result = await this.deps.post(url, notification.payload, contentType);
    this.deps.observer.notificationSent(notification.kind, result.ok);
    if (result.ok) {
      await this.deps.notifications.delivered(notification.id, this.deps.clock.now());
      log.info('notification delivered', { attempt: notification.attempts + 1 });
      return;
    }
    const waitMs = backoffMs(notification.attempts + 1, this.deps.backoff, this.deps.random());
    await this.deps.notifications.failed(notification.id, result.error, new Date(this.deps.clock.now().getTime() + waitMs));
    log.warn('notification failed; will retry', { attempt: notification.attempts + 1, reason: result.error, durationMs: waitMs });
  }
}
