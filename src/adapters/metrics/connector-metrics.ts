import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConnectorObserver } from '../../app/connector/connector.js';
import type { InboxStatus } from '../../app/connector/ports.js';

/** The connector's Prometheus metrics, on a registry of its own. Labels are ODS codes and statuses only. */
export class ConnectorMetrics implements ConnectorObserver {
  readonly registry = new Registry();
  private readonly settledTotal = new Counter({
    name: 'courier_connector_letters_settled_total',
    help: 'Letters the connector settled, by practice and outcome (received, filed, rejected, handed-back)',
    labelNames: ['practice', 'status'] as const,
    registers: [this.registry],
  });
  private readonly failedHandOvers = new Counter({
    name: 'courier_connector_hand_over_failures_total',
    help: 'Hand-overs to the practice system that are to be tried again (5xx, timeout, unreachable, I/O error)',
    labelNames: ['practice'] as const,
    registers: [this.registry],
  });
  private readonly redeliveries = new Counter({
    name: 'courier_connector_redeliveries_total',
    help: 'Letters that came again after they were settled: not filed twice, their acks re-sent',
    labelNames: ['practice'] as const,
    registers: [this.registry],
  });
  private readonly gaps = new Gauge({
    name: 'courier_connector_sequence_gaps',
    help: 'x-courier-sequence numbers missing for longer than the grace period',
    labelNames: ['practice'] as const,
    registers: [this.registry],
  });

  constructor(practices: readonly string[], options: { collectProcessMetrics: boolean }) {
    if (options.collectProcessMetrics) collectDefaultMetrics({ register: this.registry });
    for (const practice of practices) this.gaps.set({ practice }, 0);
  }

  settled(practice: string, status: Exclude<InboxStatus, 'handing-over'>): void {
    this.settledTotal.inc({ practice, status });
  }

  handOverFailed(practice: string): void {
    this.failedHandOvers.inc({ practice });
  }

  redelivered(practice: string): void {
    this.redeliveries.inc({ practice });
  }

  overdueGaps(practice: string, count: number): void {
    this.gaps.set({ practice }, count);
  }
}
