import type { TopologyNames } from '../domain/topology-names.js';
import type { Logger } from '../platform/logger.js';
import type { ApplyDeliveryEvent } from './apply-delivery-event.js';
import type { Clock, DeliveryStore, DispatchWork, EventWork, Publisher } from './ports.js';

export interface OutboxRelayDeps {
  readonly delivery: DeliveryStore;
  readonly publisher: Publisher;
  readonly apply: ApplyDeliveryEvent;
  readonly names: TopologyNames;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Rows claimed per round; all of a round are published concurrently (the publisher bounds the window). */
  readonly batchSize: number;
  /** How long a claim hides rows from other relays; after it, unfinished rows are taken again. */
  readonly leaseMs: number;
  /** Pause when the outbox is empty. */
  readonly idleMs: number;
}

/**
 * Moves outbox rows to the broker (DESIGN §1): letters to `<p>.outbound`
 * with the practice's ODS code as routing key (mandatory), status events to
 * `<p>.events`. A row is deleted only after the broker confirmed it and the
 * resulting state change committed; a letter that is `returned` moves to
 * escalation through the state machine; `nacked`/`connection-lost` rows are
 * released and published again (receivers dedupe on MessageHeader.id).
 */
export class OutboxRelay {
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(private readonly deps: OutboxRelayDeps) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Ask for a round now (after new work was committed). */
  nudge(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
  }

  /** One round: claim, publish, settle. Resolves the number of rows the broker took (completed rows). */
  async round(): Promise<number> {
    const now = this.deps.clock.now();
    const { dispatches, events } = await this.deps.delivery.claimOutbox(this.deps.batchSize, now, new Date(now.getTime() + this.deps.leaseMs));
    const settled = await Promise.all([...dispatches.map((d) => this.dispatch(d)), ...events.map((e) => this.publishEvent(e))]);
    return settled.filter(Boolean).length;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let handled = 0;
      try {
        handled = await this.round();
      } catch (error) {
        this.deps.logger.warn('outbox round failed; will retry', { errorName: error instanceof Error ? error.name : 'unknown' });
      }
      // Pause when nothing went out (empty outbox, or the broker is away): a
      // round of promise-only work must not starve the event loop.
      if (handled === 0 && !this.stopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.deps.idleMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      } else {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Resolves true when the row is done with (confirmed or returned), false when released for another try. */
  private async dispatch(work: DispatchWork): Promise<boolean> {
    const outcome = await this.deps.publisher.publish({
      exchange: this.deps.names.outbound,
      routingKey: work.destination,
      body: Buffer.from(work.body.buffer, work.body.byteOffset, work.body.byteLength),
      mandatory: true,
      messageId: work.messageHeaderId,
      type: work.event,
      contentType: 'application/fhir+json',
      headers: { 'x-courier-tracking-id': work.trackingId, 'x-courier-attempt': work.attempt, 'x-courier-sequence': work.sequence },
    });
    const log = this.deps.logger.child({ trackingId: work.trackingId, ods: work.destination, attempt: work.attempt });
    if (outcome === 'confirmed' || outcome === 'returned') {
      const event = outcome === 'confirmed' ? { kind: 'published' as const, attempt: work.attempt } : { kind: 'publish-failed' as const, attempt: work.attempt, failure: 'unroutable' as const };
      await this.deps.apply(work.trackingId, event);
      await this.deps.delivery.completeOutbox([work.outboxId]);
      if (outcome === 'returned') log.error('letter unroutable: no queue for its practice', { reason: 'returned' });
      return true;
    }
    log.warn('publish not confirmed; will publish again', { reason: outcome });
    await this.deps.delivery.releaseOutbox([work.outboxId]);
    return false;
  }

  private async publishEvent(work: EventWork): Promise<boolean> {
    const outcome = await this.deps.publisher.publish({
      exchange: this.deps.names.events,
      routingKey: work.routingKey,
      body: Buffer.from(JSON.stringify(work.body)),
      mandatory: false,
      contentType: 'application/json',
    });
    if (outcome === 'confirmed' || outcome === 'returned') {
      await this.deps.delivery.completeOutbox([work.outboxId]);
      return true;
    }
    await this.deps.delivery.releaseOutbox([work.outboxId]);
    return false;
  }
}
