import type { DeliveryEvent, DeliveryPolicy, LetterSnapshot, TransitionResult } from '../domain/delivery-events.js';
import type { TrackingId } from '../domain/ids.js';
import type { MessageState } from '../domain/message-state.js';
import { transition } from '../domain/transition.js';
import type { Logger } from '../platform/logger.js';
import type { DeliveryObserver } from './delivery-observer.js';
import { noticesFor, type NoticePolicy } from './escalation-notices.js';
import type { Clock, DeliveryStore, MessageRecord, MessageStore, VersionedChange } from './ports.js';
import { GroupCommit, type ItemResult } from '../platform/group-commit.js';

export interface ApplyDeliveryEventDeps {
  readonly messages: MessageStore;
  readonly delivery: DeliveryStore;
  readonly policy: DeliveryPolicy;
  /** `deadlines.<event>` in milliseconds: each event's filing window. */
  readonly filingWindows: Readonly<Record<string, number>>;
  readonly clock: Clock;
  /** A number in [0, 1) for backoff jitter; injected so tests can fix it. */
  readonly random: () => number;
  readonly observer: DeliveryObserver;
  /** Which HTTP notifications escalations and rejections call for. */
  readonly notices: NoticePolicy;
  /** Called after a change that queued notifications committed (to wake their sender). */
  readonly onNotificationsQueued?: () => void;
  readonly logger: Logger;
}

export type ApplyDeliveryEvent = (trackingId: TrackingId, event: DeliveryEvent) => Promise<TransitionResult | undefined>;

/**
 * What the state machine sees of a stored letter. `filingWindowMs` is the
 * configured time from acceptance to filed for its event (an operator retry
 * gives the letter that window again); without it the domain falls back to
 * the letter's own `deadlineAt − acceptedAt`.
 */
export function letterSnapshot(record: MessageRecord, filingWindowMs?: number): LetterSnapshot {
  return {
    state: record.state,
    attempts: record.attempts,
    acceptedAt: record.createdAt,
    deadlineAt: record.deadlineAt,
    nextDeadline: record.nextDeadline,
    ...(filingWindowMs === undefined ? {} : { filingWindowMs }),
  };
}

/** Optimistic updates lose only to a concurrent change of the same letter; a few tries always suffice. */
const MAX_TRIES = 5;
/** States every letter passes on its way to `filed`: logged at debug, to keep a backlog from flooding the log. */
const ROUTINE_STATES: ReadonlySet<MessageState> = new Set(['dispatched', 'delivered', 'filed']);
/** Most events applied per statement. */
const MAX_BATCH = 256;

interface LetterEvent {
  readonly trackingId: TrackingId;
  readonly event: DeliveryEvent;
}

/** What the state machine decided for one letter: nothing to do, or a change to commit and then report. */
type Plan =
  | { readonly kind: 'ignored'; readonly result: TransitionResult & { kind: 'ignored' } }
  | { readonly kind: 'change'; readonly result: TransitionResult; readonly change: VersionedChange; readonly report: () => void };

/**
 * Loads a letter, asks the pure state machine what `event` does to it, and
 * commits the change with its outbox work (status event, next publish) and
 * HTTP notifications (escalation webhook, response to the sender) in one
 * transaction guarded by the row version. Idempotent: a repeated event
 * is `ignored` by the state machine. Resolves undefined for unknown letters.
 *
 * Concurrent calls are group-committed: the events that arrive while one
 * batch is being written are read in one statement and committed in one
 * (`applyChanges`), one event per letter per batch (a second event for the
 * same letter waits for the next batch, so it sees the first one's result).
 * Changes that lost their version check to another writer are read and
 * decided again, together.
 */
export function applyDeliveryEvent(deps: ApplyDeliveryEventDeps): ApplyDeliveryEvent {
  const batches = new GroupCommit<LetterEvent, TransitionResult | undefined>((items) => applyBatch(deps, items), {
    maxBatch: MAX_BATCH,
    key: (item) => item.trackingId,
  });
  return (trackingId, event) => batches.submit({ trackingId, event });
}

/**
 * Reads the batch's letters in one statement, decides every event, commits
 * every change in one statement; the changes that lost their version check
 * (another instance, a manual action on another path) are read, decided and
 * committed again, together, up to MAX_TRIES rounds.
 */
async function applyBatch(deps: ApplyDeliveryEventDeps, items: readonly LetterEvent[]): Promise<ItemResult<TransitionResult | undefined>[]> {
  const results = new Array<ItemResult<TransitionResult | undefined>>(items.length);
  let pending = items.map((item, index) => ({ item, index }));
  for (let attempt = 0; attempt < MAX_TRIES && pending.length > 0; attempt++) {
    const records = new Map((await deps.delivery.letters(pending.map((p) => p.item.trackingId))).map((r) => [r.trackingId, r]));
    const now = deps.clock.now();
    const changes: { readonly index: number; readonly item: LetterEvent; readonly plan: Extract<Plan, { kind: 'change' }> }[] = [];
    for (const { item, index } of pending) {
      const record = records.get(item.trackingId);
      const plan = record === undefined ? undefined : planChange(deps, record, item.event, now);
      if (plan?.kind === 'change') changes.push({ index, item, plan });
      else results[index] = { value: plan?.result };
    }
    const committed = changes.length === 0 ? [] : await deps.delivery.applyChanges(changes.map((c) => c.plan.change));
    pending = [];
    for (const [n, { index, item, plan }] of changes.entries()) {
      if (committed[n] === true) {
        plan.report();
        results[index] = { value: plan.result };
      } else {
        pending.push({ item, index });
      }
    }
  }
  for (const { item, index } of pending) {
    results[index] = { error: new Error(`Letter ${item.trackingId} kept changing under ${MAX_TRIES} attempts to apply ${item.event.kind}`) };
  }
  return results;
}

function planChange(deps: ApplyDeliveryEventDeps, record: MessageRecord, event: DeliveryEvent, now: Date): Plan {
  const snapshot = letterSnapshot(record, deps.filingWindows[record.event]);
  const result = transition(snapshot, event, now, deps.policy, deps.random());
  if (result.kind === 'ignored') return { kind: 'ignored', result };
  const publish = result.effects.find((e) => e.kind === 'publish');
  const emit = result.effects.find((e) => e.kind === 'emit-event');
  const notifications = noticesFor(result.effects, record, result.attempts, now, deps.notices);
  const change: VersionedChange = {
    trackingId: record.trackingId,
    expectedVersion: record.version,
    change: {
      state: result.state,
      attempts: result.attempts,
      nextDeadline: result.nextDeadline,
      deadlineAt: result.deadlineAt,
      cause: result.cause,
      at: now,
      ...(publish === undefined ? {} : { publishAttempt: publish.attempt }),
      ...(emit === undefined ? {} : { event: { previousState: emit.from, reason: emit.reason } }),
      ...(notifications.length === 0 ? {} : { notifications }),
    },
  };
  const report = () => {
    if (emit !== undefined) {
      deps.observer.stateChanged(emit.to);
      // Routine progress at debug (the history table keeps it); what an operator must see at info.
      const level = ROUTINE_STATES.has(emit.to) ? 'debug' : 'info';
      deps.logger[level]('letter state changed', { trackingId: record.trackingId, ods: record.destination, state: emit.to, previousState: emit.from, event: event.kind });
    }
    if (notifications.length > 0) deps.onNotificationsQueued?.();
  };
  return { kind: 'change', result, change, report };
}
