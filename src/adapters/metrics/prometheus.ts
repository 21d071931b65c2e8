import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ErrorCode } from '../../app/errors.js';
import type { IngestObserver } from '../../app/ingest-observer.js';
import type { DeliveryStats, NotificationStore } from '../../app/ports.js';

/** Where the store-backed gauges are read from on each scrape. */
export interface GaugeSources {
  readonly delivery: () => Promise<DeliveryStats>;
  readonly notifications: NotificationStore['pending'];
  /** Practices whose silent-practice alarm is up. */
  readonly silentPractices: () => Promise<ReadonlySet<string>>;
}
import { DeliveryMetrics } from './delivery-metrics.js';

/**
 * Courier's Prometheus metrics on a registry of its own (never the global
 * one), so several instances in one test process do not collide. Labels are
 * codes only: event codes, error codes, routes, statuses — never input values.
 */
export class CourierMetrics implements IngestObserver {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'courier_http_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'courier_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly acceptedTotal = new Counter({
    name: 'courier_letters_accepted_total',
    help: 'Letters taken into custody (202), by ITK3 event code',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  private readonly duplicatesTotal = new Counter({
    name: 'courier_letters_duplicate_total',
    help: 'Resends of letters already held (200, nothing re-sent)',
    registers: [this.registry],
  });
  private readonly rejectedTotal = new Counter({
    name: 'courier_letters_refused_total',
    help: 'Messages refused at ingest, by reason (Courier error code)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly validationSeconds = new Histogram({
    name: 'courier_validation_duration_seconds',
    help: 'Time to parse and validate one message (JSON, HL7 R4 schema, Courier profile)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly delivery: DeliveryMetrics;
  /** What ingest holds now (IngestAdmission), read on each scrape: how close senders are to a 503. */
  #inFlight: () => { readonly requests: number; readonly bodyBytes: number } = () => ({ requests: 0, bodyBytes: 0 });

  constructor(options: { collectProcessMetrics?: boolean; practices?: readonly string[] } = {}) {
    if (options.collectProcessMetrics ?? false) collectDefaultMetrics({ register: this.registry, prefix: 'courier_' });
    this.delivery = new DeliveryMetrics(this.registry, options.practices ?? []);
    const inFlight = () => this.#inFlight();
    new Gauge({
      name: 'courier_ingest_in_flight_requests',
      help: 'Messages being read, checked and stored now; past the bound Courier answers 503',
      registers: [this.registry],
      collect() {
        this.set(inFlight().requests);
      },
    });
    new Gauge({
      name: 'courier_ingest_in_flight_body_bytes',
      help: 'Body bytes held back for the messages being taken in now',
      registers: [this.registry],
      collect() {
        this.set(inFlight().bodyBytes);
      },
    });
  }

  /** Reads ingest's in-flight figures from `source` from now on. */
  watchIngest(source: () => { readonly requests: number; readonly bodyBytes: number }): void {
    this.#inFlight = source;
  }

  /**
   * The exposition text, with the store-backed gauges read fresh. A store
   * that cannot answer leaves them at their last values (and /readyz says why).
   */
  async render(sources: GaugeSources, now: Date): Promise<string> {
    const fresh = await sources.delivery().catch(() => undefined);
    if (fresh !== undefined) this.delivery.refresh(fresh, now);
    const pending = await sources.notifications().catch(() => undefined);
    if (pending !== undefined) this.delivery.refreshNotifications(pending, now);
    const silent = await sources.silentPractices().catch(() => undefined);
    if (silent !== undefined) this.delivery.refreshSilent(silent);
    return this.registry.metrics();
  }

  validated(seconds: number): void {
    this.validationSeconds.observe(seconds);
  }

  accepted(event: string): void {
    this.acceptedTotal.inc({ event });
  }

  duplicate(): void {
    this.duplicatesTotal.inc();
  }

  rejected(reason: ErrorCode): void {
    this.rejectedTotal.inc({ reason });
  }
}
