import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AckKind, AckResult, DeliveryObserver } from '../../app/delivery-observer.js';
import type { NotificationObserver } from '../../app/notification-relay.js';
import type { ResendObserver } from '../../app/resend-request.js';
import type { DeliveryStats, NotificationKind, PublishOutcome } from '../../app/ports.js';

const NOTIFICATION_KINDS: readonly NotificationKind[] = ['escalation-webhook', 'sender-response', 'practice-alarm-webhook'];
import type { MessageState } from '../../domain/message-state.js';

/**
 * Delivery metrics (issue: "the signal that would have caught the 53,000"):
 * counters fed by the delivery side as things happen, and gauges refreshed
 * from the store on every scrape, so they are right after a restart and
 * across instances sharing one database. Labels are codes and ODS codes only.
 * Every practice in the directory is always reported, with 0 when it has no
 * open letters, so "no series" never hides "no data".
 */
export class DeliveryMetrics implements DeliveryObserver, NotificationObserver, ResendObserver {
  private readonly publishes: Counter<'what' | 'outcome'>;
  private readonly confirmSeconds: Histogram<'what'>;
  private readonly stateChanges: Counter<'state'>;
  private readonly acks: Counter<'kind' | 'result'>;
  private readonly resendRequests: Counter<'practice' | 'result'>;
  private readonly outboxDepth: Gauge<'kind'>;
  private readonly openLetters: Gauge<'practice' | 'state'>;
  private readonly oldestOpenAge: Gauge<'practice'>;
  private readonly notificationsSent: Counter<'kind' | 'outcome'>;
  private readonly practiceSilent: Gauge<'practice'>;
  private readonly notificationsPending: Gauge<'kind'>;
  private readonly oldestPendingNotification: Gauge<'kind'>;

  constructor(
    registry: Registry,
    private readonly practices: readonly string[],
  ) {
    const registers = [registry];
    this.publishes = new Counter({
      name: 'courier_publishes_total',
      help: 'Publishes answered by the broker, by what was published (letter, status-event) and outcome (confirmed, returned, nacked, connection-lost)',
      labelNames: ['what', 'outcome'],
      registers,
    });
    this.confirmSeconds = new Histogram({
      name: 'courier_publish_confirm_seconds',
      help: 'Time from publish to the broker answering it (confirm, return or loss)',
      labelNames: ['what'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.stateChanges = new Counter({
      name: 'courier_letter_state_changes_total',
      help: 'Committed letter state changes by the state entered (dispatched, delivered, filed, rejected, retrying, escalated, …)',
      labelNames: ['state'],
      registers,
    });
    this.acks = new Counter({
      name: 'courier_acks_total',
      help: 'Acknowledgements received, by kind (infrastructure-ack, business-ack, rejected, transient-error, unrecognised) and result (applied, no-effect, refused, unknown-letter)',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.resendRequests = new Counter({
      name: 'courier_resend_requests_total',
      help: 'Resend requests from practice connectors (a sequence number they never saw), per practice, by result (resent: published again; not-resent: the letter was not waiting for its receipt, or was past its filing deadline)',
      labelNames: ['practice', 'result'],
      registers,
    });
    // Every practice starts at 0, so a rate() over a practice's first request is right.
    for (const practice of practices) for (const result of ['resent', 'not-resent']) this.resendRequests.inc({ practice, result }, 0);
    this.outboxDepth = new Gauge({
      name: 'courier_outbox_depth',
      help: 'Outbox rows waiting for a broker confirm, by kind (dispatch, event)',
      labelNames: ['kind'],
      registers,
    });
    this.openLetters = new Gauge({
      name: 'courier_open_letters',
      help: 'Letters not yet in a final state, per practice and state (escalated included: it waits for a person)',
      labelNames: ['practice', 'state'],
      registers,
    });
    this.oldestOpenAge = new Gauge({
      name: 'courier_oldest_open_letter_age_seconds',
      help: 'Age of the oldest letter not yet in a final state, per practice (0 when none is open)',
      labelNames: ['practice'],
      registers,
    });
    this.practiceSilent = new Gauge({
      name: 'courier_practice_silent',
      help: '1 while the practice has letters waiting and has sent no acknowledgement for alerts.silentPractice, else 0',
      labelNames: ['practice'],
      registers,
    });
    this.notificationsSent = new Counter({
      name: 'courier_notifications_sent_total',
      help: 'HTTP notification attempts (escalation-webhook, sender-response, practice-alarm-webhook) by outcome (delivered, failed)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.notificationsPending = new Gauge({
      name: 'courier_notifications_pending',
      help: 'HTTP notifications not yet delivered, by kind (they are retried until they are)',
      labelNames: ['kind'],
      registers,
    });
    this.oldestPendingNotification = new Gauge({
      name: 'courier_oldest_pending_notification_age_seconds',
      help: 'Age of the oldest undelivered HTTP notification, by kind (0 when none)',
      labelNames: ['kind'],
      registers,
    });
  }

  notificationSent(kind: NotificationKind, ok: boolean): void {
    this.notificationsSent.inc({ kind, outcome: ok ? 'delivered' : 'failed' });
  }

  published(what: 'letter' | 'status-event', outcome: PublishOutcome, seconds: number): void {
    this.publishes.inc({ what, outcome });
    this.confirmSeconds.observe({ what }, seconds);
  }

  stateChanged(to: MessageState): void {
    this.stateChanges.inc({ state: to });
  }

  acknowledged(kind: AckKind, result: AckResult): void {
    this.acks.inc({ kind, result });
  }

  resendRequested(practice: string, resent: boolean): void {
    this.resendRequests.inc({ practice, result: resent ? 'resent' : 'not-resent' });
  }

  refreshSilent(silent: ReadonlySet<string>): void {
    for (const practice of new Set([...this.practices, ...silent])) this.practiceSilent.set({ practice }, silent.has(practice) ? 1 : 0);
  }

  /** Sets the notification gauges from a fresh read of the store. */
  refreshNotifications(pending: readonly { kind: NotificationKind; count: number; oldestCreatedAt: Date }[], now: Date): void {
    for (const kind of NOTIFICATION_KINDS) {
      const row = pending.find((p) => p.kind === kind);
      this.notificationsPending.set({ kind }, row?.count ?? 0);
      this.oldestPendingNotification.set({ kind }, row === undefined ? 0 : Math.max(0, (now.getTime() - row.oldestCreatedAt.getTime()) / 1000));
    }
  }

  /** Sets the gauges from a fresh read of the store. */
  refresh(stats: DeliveryStats, now: Date): void {
    this.outboxDepth.set({ kind: 'dispatch' }, stats.outbox.dispatch);
    this.outboxDepth.set({ kind: 'event' }, stats.outbox.event);
    this.openLetters.reset();
    this.oldestOpenAge.reset();
    const oldest = new Map<string, Date>();
    for (const practice of this.practices) this.oldestOpenAge.set({ practice }, 0);
    for (const group of stats.open) {
      this.openLetters.set({ practice: group.destination, state: group.state }, group.count);
      const known = oldest.get(group.destination);
      if (known === undefined || group.oldestAcceptedAt < known) oldest.set(group.destination, group.oldestAcceptedAt);
    }
    for (const [practice, at] of oldest) this.oldestOpenAge.set({ practice }, Math.max(0, (now.getTime() - at.getTime()) / 1000));
  }
}
