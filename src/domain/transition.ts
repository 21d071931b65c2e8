import { isFinalState, type MessageState } from './message-state.js';
import { backoffMs } from './retry-policy.js';
import type { DeliveryEvent, DeliveryPolicy, Effect, LetterSnapshot, TransitionResult } from './delivery-events.js';

/**
 * The delivery state machine (DESIGN §5). Total and pure: every state × event
 * pair has an answer, nothing is thrown for an event that is legal but
 * irrelevant (late, duplicate, stale), and time and randomness come in as
 * arguments.
 *
 * Rules where DESIGN leaves room, and why:
 * - Final states (filed, rejected, cancelled, resolved) ignore everything.
 * - Timer events (`ack-timeout`, `retry-due`, `deadline-passed`) are checked
 *   against the snapshot and ignored when not yet due, so a stale or early
 *   timer can never move a letter.
 * - The filing deadline wins: any failure or retry handled at or after
 *   `deadlineAt` escalates instead of scheduling more work, and every
 *   scheduled `nextDeadline` is capped at `deadlineAt`.
 * - `escalated` waits for a person: timers, broker events and infrastructure
 *   acks change nothing there. A business ack or a rejection still applies,
 *   because the practice's answer is the truth and a person must not send a
 *   paper copy of a letter already filed ("never filed twice").
 * - Acks, transient errors and dead-lettering prove a publish reached the
 *   practice, so they count at least one attempt even if the confirm was lost.
 * - A `transient-error` after the infrastructure ack (`delivered`) is honoured:
 *   the practice asked for the letter again.
 * - A nacked publish is not an attempt (DESIGN §1: only confirmed publishes
 *   count): it is retried with backoff and bounded by the deadline, not by
 *   `maxAttempts`. An unroutable one escalates: no queue for the practice is a
 *   configuration fault that retrying cannot fix.
 * - Operator `retry` is allowed from `escalated` only (publish now; attempts
 *   carry on, so after exhausting `maxAttempts` each operator retry buys one
 *   more attempt). It restarts the filing clock with the letter's original
 *   window (`filingWindowMs`), since most escalated letters are past their
 *   deadline and would otherwise be escalated again at once. Every retry gets
 *   that same window: `deadlineAt − acceptedAt` is only a fallback, because
 *   after one retry it has grown by the time the letter waited for a person. A
 *   `retrying` letter already has its next attempt scheduled, and a retry
 *   that left the state unchanged would leave no history entry (history
 *   records changes of state), so a person's action would go unrecorded.
 * - Operator `cancel` and `resolve` close any non-final letter: a person may
 *   send a letter on paper during a known outage without waiting for escalation.
 * - Every operator cause names the person and their note:
 *   `cancelled by a person (jsmith@trust): sent on paper`.
 * - A practice connector's `resend-requested` (a sequence number stayed
 *   missing) acts only in `dispatched`: published, no infrastructure ack yet,
 *   so the practice saying it never saw the letter is the best evidence
 *   there is, and waiting for the ack timeout would only delay the letter.
 *   It publishes the next attempt now, as a due `retry-due` does (same ids
 *   and sequence, filing deadline unchanged); at or past the filing deadline
 *   it escalates instead. Like an operator retry it may take attempts past
 *   `maxAttempts` (one per request, each answering a practice that is
 *   evidently up; the ack timeout after it escalates as usual), and the
 *   filing deadline still bounds it. Everywhere else it changes nothing and
 *   says why: a `received` letter is on its way, a `retrying` one has its
 *   next attempt scheduled, a `delivered` one was acknowledged by the
 *   practice system itself (the gap is on the practice side, and sending
 *   again would not close it), an `escalated` one waits for a person. Cause:
 *   `resend requested by the practice (connector-a81001): sequence 41 missing`.
 *
 * @param random a number in [0, 1) for backoff jitter (see retry-policy.ts).
 */
export function transition(current: LetterSnapshot, event: DeliveryEvent, now: Date, policy: DeliveryPolicy, random: number): TransitionResult {
  if (isFinalState(current.state)) return ignored(`${event.kind} ignored: ${current.state} is final`);
  const handler = HANDLERS[event.kind] as Handler<DeliveryEvent> | undefined;
  if (handler === undefined) return ignored(`unknown event ${String((event as { kind?: unknown }).kind)}`);
  return handler({ s: current, now, policy, random }, event);
}

type Handler<E extends DeliveryEvent> = (ctx: Context, event: E) => TransitionResult;

/** One handler per event kind; the mapped type makes a missing kind a compile error. */
const HANDLERS: { readonly [K in DeliveryEvent['kind']]: Handler<Extract<DeliveryEvent, { kind: K }>> } = {
  published: (ctx, e) => onPublished(ctx, e.attempt),
  'publish-failed': (ctx, e) => onPublishFailed(ctx, e.attempt, e.failure),
  'infrastructure-ack': (ctx) => onInfrastructureAck(ctx),
  'business-ack': (ctx, e) =>
    inStates(ctx, e.kind, ['received', 'dispatched', 'retrying', 'delivered', 'escalated'], () =>
      moveTo(ctx, 'filed', 'business ack: filed by the practice', { attempts: atLeastOne(ctx), nextDeadline: null }),
    ),
  rejected: (ctx, e) =>
    moveTo(ctx, 'rejected', `rejected by the practice: ${e.reason}`, {
      attempts: atLeastOne(ctx),
      nextDeadline: null,
      effects: [{ kind: 'notify-sender', outcome: 'rejected', reason: e.reason }],
    }),
  'transient-error': (ctx, e) =>
    inStates(ctx, e.kind, ['received', 'dispatched', 'delivered'], () =>
      failedAttempt(ctx, atLeastOne(ctx), `transient error from the practice (${e.reason})`, true),
    ),
  'ack-timeout': (ctx) => onAckTimeout(ctx),
  'retry-due': (ctx) => onRetryDue(ctx),
  'deadline-passed': (ctx) => onDeadlinePassed(ctx),
  'dead-lettered': (ctx, e) =>
    inStates(ctx, e.kind, ['received', 'dispatched', 'retrying'], () =>
      escalate(ctx, deadLetterCause(e.brokerReason), atLeastOne(ctx)),
    ),
  retry: (ctx, e) => onOperatorRetry(ctx, byPerson('retry requested', e)),
  cancel: (ctx, e) => moveTo(ctx, 'cancelled', byPerson('cancelled', e), { nextDeadline: null }),
  resolve: (ctx, e) => moveTo(ctx, 'resolved', byPerson('resolved', e), { nextDeadline: null }),
  'resend-requested': (ctx, e) => onResendRequested(ctx, `resend requested by the practice (${e.actor}): ${e.reason}`),
};

interface Context {
  readonly s: LetterSnapshot;
  readonly now: Date;
  readonly policy: DeliveryPolicy;
  readonly random: number;
}

/** Broker confirmed attempt `attempt`: the letter is out, wait for the infrastructure ack. */
function onPublished(ctx: Context, attempt: number): TransitionResult {
  return inStates(ctx, 'published', ['received', 'retrying'], () => {
    if (attempt <= ctx.s.attempts) return ignored(`published ignored: attempt ${attempt} was already confirmed`);
    return moveTo(ctx, 'dispatched', `attempt ${attempt} published`, {
      attempts: attempt,
      nextDeadline: capped(ctx, ctx.policy.infrastructureAckTimeoutMs, ctx.s.deadlineAt),
    });
  });
}

function onPublishFailed(ctx: Context, attempt: number, failure: 'unroutable' | 'nacked'): TransitionResult {
  return inStates(ctx, 'publish-failed', ['received', 'retrying'], () => {
    if (attempt !== ctx.s.attempts + 1) return ignored(`publish-failed ignored: attempt ${attempt} is not the pending attempt ${ctx.s.attempts + 1}`);
    if (failure === 'unroutable') return escalate(ctx, `attempt ${attempt} was unroutable: no queue is bound for the practice`);
    return failedAttempt(ctx, attempt, `attempt ${attempt} was nacked by the broker`, false);
  });
}

function onInfrastructureAck(ctx: Context): TransitionResult {
  if (ctx.s.state === 'delivered') return ignored('infrastructure-ack ignored: already delivered (duplicate ack)');
  return inStates(ctx, 'infrastructure-ack', ['received', 'dispatched', 'retrying'], () =>
    moveTo(ctx, 'delivered', 'infrastructure ack: received by the practice system', {
      attempts: atLeastOne(ctx),
      nextDeadline: ctx.s.deadlineAt,
    }),
  );
}

function onAckTimeout(ctx: Context): TransitionResult {
  return inStates(ctx, 'ack-timeout', ['dispatched'], () => {
    if (!isDue(ctx)) return ignored('ack-timeout ignored: not yet due');
    return failedAttempt(ctx, ctx.s.attempts, `no infrastructure ack for attempt ${ctx.s.attempts} in time`, true);
  });
}

/** The backoff is over: publish the next attempt, and come back if its confirm never arrives. */
function onRetryDue(ctx: Context): TransitionResult {
  return inStates(ctx, 'retry-due', ['retrying'], () => {
    if (!isDue(ctx)) return ignored('retry-due ignored: not yet due');
    if (deadlineReached(ctx)) return escalateForDeadline(ctx);
    return republish(ctx, ctx.s.deadlineAt, `backoff over: publishing attempt ${ctx.s.attempts + 1}`);
  });
}

function onDeadlinePassed(ctx: Context): TransitionResult {
  if (ctx.s.state === 'escalated') return ignored('deadline-passed ignored: already escalated, waiting for a person');
  if (!deadlineReached(ctx)) return ignored('deadline-passed ignored: the filing deadline has not passed');
  return escalateForDeadline(ctx);
}

function onOperatorRetry(ctx: Context, cause: string): TransitionResult {
  const { state, deadlineAt, acceptedAt, filingWindowMs } = ctx.s;
  if (state !== 'escalated') return ignored(`retry ignored: only an escalated letter can be retried, not a ${state} one`);
  const window = Math.max(filingWindowMs ?? deadlineAt.getTime() - acceptedAt.getTime(), 0);
  return republish(ctx, new Date(ctx.now.getTime() + window), cause);
}

/** Why a resend request changes nothing, per state it can meet (final states are answered before any handler). */
const RESEND_IGNORED: Partial<Record<MessageState, string>> = {
  received: 'the letter is not yet published, it is on its way',
  retrying: 'the next attempt is already scheduled',
  delivered: 'the practice system already acknowledged receipt',
  escalated: 'escalated, waiting for a person',
};

/** The practice never saw a published letter: publish the next attempt now, unless the filing deadline has come. */
function onResendRequested(ctx: Context, cause: string): TransitionResult {
  if (ctx.s.state !== 'dispatched') return ignored(`resend-requested ignored: ${RESEND_IGNORED[ctx.s.state] ?? `not applicable to a ${ctx.s.state} letter`}`);
  if (deadlineReached(ctx)) return escalateForDeadline(ctx);
  return republish(ctx, ctx.s.deadlineAt, cause);
}

/** The history cause of an operator event: what was done, by whom, and their note. */
function byPerson(done: string, e: { readonly actor: string; readonly reason: string }): string {
  return `${done} by a person (${e.actor}): ${e.reason}`;
}

/** Publish attempt attempts+1 now, entering `retrying`; the timer re-fires `retry-due` if no confirm arrives. */
function republish(ctx: Context, deadlineAt: Date, cause: string): TransitionResult {
  const attempt = ctx.s.attempts + 1;
  return moveTo(ctx, 'retrying', cause, {
    deadlineAt,
    nextDeadline: capped(ctx, ctx.policy.infrastructureAckTimeoutMs, deadlineAt),
    effects: [{ kind: 'publish', attempt }],
  });
}

/**
 * Attempt `failed` did not get through. The deadline wins; then, if the
 * failure counts as an attempt, `maxAttempts` bounds the retries; otherwise
 * wait backoff(failed) and try again.
 */
function failedAttempt(ctx: Context, failed: number, cause: string, countsAsAttempt: boolean): TransitionResult {
  const attempts = Math.max(ctx.s.attempts, countsAsAttempt ? failed : 0);
  if (deadlineReached(ctx)) return escalateForDeadline(ctx, attempts);
  if (countsAsAttempt && attempts >= ctx.policy.maxAttempts) {
    return escalate(ctx, `${cause}; ${attempts} attempts made, the limit is ${ctx.policy.maxAttempts}`, attempts);
  }
  const wait = backoffMs(failed, ctx.policy.backoff, ctx.random);
  return moveTo(ctx, 'retrying', `${cause}; retrying in ${wait} ms`, { attempts, nextDeadline: capped(ctx, wait, ctx.s.deadlineAt) });
}

function escalateForDeadline(ctx: Context, attempts = ctx.s.attempts): TransitionResult {
  return escalate(ctx, `not filed by the filing deadline ${ctx.s.deadlineAt.toISOString()}`, attempts);
}

function escalate(ctx: Context, reason: string, attempts = ctx.s.attempts): TransitionResult {
  return moveTo(ctx, 'escalated', reason, {
    attempts,
    nextDeadline: null,
    effects: [
      { kind: 'escalate', reason },
      { kind: 'notify-sender', outcome: 'escalated', reason },
    ],
  });
}

interface Change {
  readonly attempts?: number;
  readonly deadlineAt?: Date;
  readonly nextDeadline: Date | null;
  readonly effects?: readonly Effect[];
}

/** The one place results are built: a change of state always carries its `emit-event`, first. */
function moveTo(ctx: Context, to: MessageState, cause: string, change: Change): TransitionResult {
  const from = ctx.s.state;
  const emit: Effect[] = from === to ? [] : [{ kind: 'emit-event', from, to, reason: cause }];
  return {
    kind: 'changed',
    state: to,
    attempts: change.attempts ?? ctx.s.attempts,
    deadlineAt: change.deadlineAt ?? ctx.s.deadlineAt,
    nextDeadline: change.nextDeadline,
    cause,
    effects: [...emit, ...(change.effects ?? [])],
  };
}

function inStates(ctx: Context, kind: DeliveryEvent['kind'], states: readonly MessageState[], apply: () => TransitionResult): TransitionResult {
  if (states.includes(ctx.s.state)) return apply();
  const why = ctx.s.state === 'escalated' ? 'escalated, waiting for a person' : `not applicable to a ${ctx.s.state} letter`;
  return ignored(`${kind} ignored: ${why}`);
}

function ignored(reason: string): TransitionResult {
  return { kind: 'ignored', reason };
}

/** now + ms, but never after `limit` (the filing deadline). */
function capped(ctx: Context, ms: number, limit: Date): Date {
  return new Date(Math.min(ctx.now.getTime() + Math.max(ms, 0), limit.getTime()));
}

/** A timer is due when the snapshot's next deadline has come (a missing one counts as due, so a letter never stalls). */
function isDue(ctx: Context): boolean {
  return ctx.s.nextDeadline === null || ctx.now.getTime() >= ctx.s.nextDeadline.getTime();
}

function deadlineReached(ctx: Context): boolean {
  return ctx.now.getTime() >= ctx.s.deadlineAt.getTime();
}

function atLeastOne(ctx: Context): number {
  return Math.max(ctx.s.attempts, 1);
}

/** The escalation cause for a dead-lettered letter, from the broker's reason (a code; anything else is not echoed). */
function deadLetterCause(brokerReason: string | undefined): string {
  if (brokerReason === 'delivery_limit') return 'dead-lettered by the broker: the delivery limit was reached (the practice system kept handing it back)';
  if (brokerReason !== undefined && /^[a-z_]{1,32}$/.test(brokerReason)) return `dead-lettered by the broker (${brokerReason})`;
  return 'dead-lettered by the broker';
}
