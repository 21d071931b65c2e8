import type { TopologyNames } from '../domain/topology-names.js';
import type { Logger } from '../platform/logger.js';
import type { ApplyDeliveryEvent } from './apply-delivery-event.js';
import type { Clock, DeliveryStore, DispatchWork, EventWork, PublishOutcome, Publisher } from './ports.js';
import type { PublishesInFlight } from './publishes-in-flight.js';

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
  /**
   * While work keeps coming, how long to wait before claiming again after a
   * round that did not fill its batch (default 0: at once), so the rows
   * committed meanwhile go to the broker together. RabbitMQ spends far less
   * per message on bursts than on a trickle of the same rate (see courier.ts).
   * The first claim after an idle pause is never delayed: a lone letter goes
   * at once; under load a row waits at most this long longer. Nudges do not
   * end the wait (they come with every commit); stop() does.
   */
  readonly lingerMs?: number;
  /**
   * Longest pause between rounds that got nothing through because the broker
   * refused or was away (default 2 s); the pause doubles from `idleMs` up to it.
   */
  readonly maxRetryPauseMs?: number;
  /** Where acknowledgements learn that a letter's publish has not settled yet (see PublishesInFlight). */
  readonly inFlight?: PublishesInFlight;
}

/** What one round did: rows the broker took (done with), and rows released to publish again. */
interface RoundResult {
  readonly taken: number;
  readonly released: number;
}

const DEFAULT_MAX_RETRY_PAUSE_MS = 2_000;
/** Rounds whose confirms or state changes are still outstanding while the next one claims. */
const MAX_ROUNDS_IN_FLIGHT = 3;

/**
 * Moves outbox rows to the broker (DESIGN §1): letters to `<p>.outbound`
 * with the practice's ODS code as routing key (mandatory), status events to
 * `<p>.events`. A row is deleted only after the broker confirmed it and the
 * resulting state change committed; a letter that is `returned` moves to
 * escalation through the state machine; `nacked`/`connection-lost` rows are
 * released and published again (receivers dedupe on MessageHeader.id).
 *
 * While the broker is away (or refusing), a round publishes nothing and
 * releases everything it claimed. Such rounds are paced by a pause doubling
 * from `idleMs` to `maxRetryPauseMs` and report once per round, not once per
 * row: without that, a broker outage made the relay claim, fail and release
 * the whole batch five times a second and log a warning per letter each time
 * (hundreds of lines a second with a backlog), loading the store and the event
 * loop that HTTP shares for no progress. A nudge (new work) or a round that
 * gets anything through ends the pause at once, so publishing resumes as soon
 * as the broker is back and work arrives, and within `maxRetryPauseMs` if none does.
 */
export class OutboxRelay {
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  /** Ends a linger early; only stop() calls it. */
  private endLinger: (() => void) | undefined;
  /** A nudge came while no pause was waiting for one: skip the next pause. */
  private nudged = false;
  /** Consecutive rounds that got nothing through although there was work (or that failed). */
  private fruitless = 0;

  constructor(private readonly deps: OutboxRelayDeps) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Ask for a round now (after new work was committed). */
  nudge(): void {
    if (this.wake === undefined) this.nudged = true;
    else this.wake();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.endLinger?.();
    await this.running;
  }

  /**
   * One round: claim, publish, settle. Resolves the number of rows the broker
   * took (completed rows). The round's taken rows are completed in one
   * statement once every publish of the round is answered; a row is in it
   * only after its confirm and its state change committed. A crash before
   * that statement commits leaves the rows to come back after their lease:
   * published again (receivers dedupe; the state machine ignores a repeated
   * `published`), never lost.
   */
  async round(): Promise<number> {
    return (await this.runRound()).taken;
  }

  /**
   * Claims and publishes one round; `issued` is told how many rows it claimed
   * once all their publishes are handed to the publisher (in claim order).
   */
  private async runRound(issued: (claimed: number) => void = () => undefined): Promise<RoundResult> {
    const now = this.deps.clock.now();
    const { dispatches, events } = await this.deps.delivery.claimOutbox(this.deps.batchSize, now, new Date(now.getTime() + this.deps.leaseMs));
    // Each publish with its row: an `events` row has one per event.
    const publishes = [
      ...dispatches.map((d) => ({ outboxId: d.outboxId, outcome: this.dispatch(d) })),
      ...events.map((e) => ({ outboxId: e.outboxId, outcome: this.publishEvent(e) })),
    ];
    issued(new Set(publishes.map((p) => p.outboxId)).size);
    // allSettled: a row whose state change failed must not keep the others from being completed.
    const settled = await Promise.allSettled(publishes.map((p) => p.outcome));
    const { taken, released, reasons } = judgeRows(publishes.map((p, i) => ({ outboxId: p.outboxId, settled: settled[i] as PromiseSettledResult<PublishOutcome> })));
    await this.deps.delivery.completeOutbox(taken);
    // Released in one statement: during an outage that is the whole batch, every round.
    await this.deps.delivery.releaseOutbox(released);
    if (released.length > 0) {
      this.deps.logger.warn('publishes not confirmed; released to publish again', { count: released.length, reason: reasons.join(', ') });
    }
    // A row whose state change failed stays claimed until its lease ends, then goes out again.
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return { taken: taken.length, released: released.length };
  }

  /**
   * Rounds overlap while they go well: once a round's publishes are issued,
   * the next round claims (its rows come later in id order and are published
   * after, on the same channel) while the first waits for its confirms and
   * commits its state changes — up to MAX_ROUNDS_IN_FLIGHT at once. A round
   * that did not fill its batch, or a drain after rounds that took rows, is
   * followed by the linger, so work arriving under load is claimed in
   * bursts; a full batch is followed by the next claim at once. After a
   * round that claimed nothing, or any trouble (broker away or refusing,
   * store errors), the loop lets every round finish, then judges and pauses
   * as for a single round.
   */
  private async loop(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    // What the rounds finished since the last drain did, summed: a running backlog keeps no list of rounds.
    let taken = 0;
    let released = 0;
    let failed = false;
    let troubled = false;
    while (!this.stopping) {
      if (inFlight.size >= MAX_ROUNDS_IN_FLIGHT) await Promise.race(inFlight);
      let claimed = 0;
      let markIssued: () => void = () => undefined;
      const issued = new Promise<void>((resolve) => (markIssued = resolve));
      const round: Promise<void> = this.runRound((n) => {
        claimed = n;
        markIssued();
      })
        .then(
          (result) => {
            taken += result.taken;
            released += result.released;
            if (result.taken === 0 && result.released > 0) troubled = true;
          },
          (error: unknown) => {
            failed = true;
            troubled = true;
            this.deps.logger.warn('outbox round failed; will retry', { errorName: error instanceof Error ? error.name : 'unknown' });
          },
        )
        .finally(() => {
          inFlight.delete(round);
          markIssued(); // a claim that failed issued nothing
        });
      inFlight.add(round);
      await issued;
      if (claimed > 0 && !troubled && !this.stopping) {
        await (claimed < this.deps.batchSize ? this.linger() : nextTurn());
        continue;
      }
      await Promise.all(inFlight);
      this.fruitless = taken > 0 || (released === 0 && !failed) ? 0 : this.fruitless + 1;
      const tookAny = taken > 0;
      taken = 0;
      released = 0;
      failed = false;
      troubled = false;
      if (this.stopping) break;
      if (tookAny) {
        this.nudged = false;
        await this.linger();
      } else if (this.nudged) {
        this.nudged = false;
        await nextTurn();
      } else {
        // Nothing went out (empty outbox, broker away or refusing, store trouble): pause, so
        // a round of promise-only work cannot starve the event loop; longer while it keeps failing.
        await this.pause(this.fruitless === 0 ? this.deps.idleMs : this.retryPauseMs());
      }
    }
    await Promise.all(inFlight);
  }

  private retryPauseMs(): number {
    const max = Math.max(this.deps.idleMs, this.deps.maxRetryPauseMs ?? DEFAULT_MAX_RETRY_PAUSE_MS);
    return Math.min(max, this.deps.idleMs * 2 ** Math.min(this.fruitless - 1, 20));
  }

  /** Waits `lingerMs` (a macrotask at least), or until stopped. */
  private async linger(): Promise<void> {
    const ms = this.deps.lingerMs ?? 0;
    if (ms <= 0 || this.stopping) return nextTurn();
    const delay = cancellableDelay(ms);
    this.endLinger = delay.end;
    await delay.done;
    this.endLinger = undefined;
  }

  /** Waits `ms`, or until nudged or stopped. */
  private async pause(ms: number): Promise<void> {
    const delay = cancellableDelay(ms);
    this.wake = delay.end;
    await delay.done;
    this.wake = undefined;
  }

  /** Resolves the broker's answer once it is dealt with: for `confirmed` and `returned`, once the state change committed. */
  private dispatch(work: DispatchWork): Promise<PublishOutcome> {
    const settled = this.publishLetter(work);
    return this.deps.inFlight?.track(work.trackingId, settled) ?? settled;
  }

  private async publishLetter(work: DispatchWork): Promise<PublishOutcome> {
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
      if (outcome === 'returned') log.error('letter unroutable: no queue for its practice', { reason: 'returned' });
      return outcome;
    }
    log.debug('publish not confirmed; will publish again', { reason: outcome });
    return outcome;
  }

  private async publishEvent(work: EventWork): Promise<PublishOutcome> {
    return this.deps.publisher.publish({
      exchange: this.deps.names.events,
      routingKey: work.routingKey,
      body: Buffer.from(JSON.stringify(work.body)),
      mandatory: false,
      contentType: 'application/json',
    });
  }
}

/** Resolves on the next turn of the event loop, after pending I/O: lets other work run between rounds. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A timer whose wait `end()` cuts short. */
function cancellableDelay(ms: number): { readonly done: Promise<void>; readonly end: () => void } {
  let end: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    end = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return { done, end };
}

/**
 * What becomes of each claimed row once its publishes are answered. A row
 * (an `events` row holds several events) is completed when the broker took
 * all of its publishes, released when it refused any (the taken ones go again
 * with it: receivers see repeats), and left claimed until its lease ends when
 * a state change failed. Rows in claim order; `reasons` are the refusals'.
 */
export function judgeRows(items: readonly { outboxId: number; settled: PromiseSettledResult<PublishOutcome> }[]): {
  taken: number[];
  released: number[];
  reasons: string[];
} {
  // Per row: whether a state change failed, and the broker's refusals.
  const rows = new Map<number, { failed: boolean; refusals: string[] }>();
  for (const { outboxId, settled } of items) {
    const row = rows.get(outboxId) ?? { failed: false, refusals: [] };
    if (settled.status === 'rejected') row.failed = true;
    else if (settled.value !== 'confirmed' && settled.value !== 'returned') row.refusals.push(settled.value);
    rows.set(outboxId, row);
  }
  const judged = [...rows].filter(([, row]) => !row.failed);
  const released = judged.filter(([, row]) => row.refusals.length > 0);
  return {
    taken: judged.filter(([, row]) => row.refusals.length === 0).map(([id]) => id),
    released: released.map(([id]) => id),
    reasons: [...new Set(released.flatMap(([, row]) => row.refusals))],
  };
}
