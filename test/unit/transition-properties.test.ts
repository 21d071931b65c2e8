/**
 * Properties of the delivery state machine over random histories (fast-check).
 *
 * A history is a letter accepted at T0, then random events (acks, transient
 * errors, confirms, nacks and returns of publishes Courier asked for,
 * dead-lettering, stale timers from another sweeper, operator actions,
 * resend requests from the practice's connector) at
 * random clock jumps. Between events a driver plays the timer sweeper: it
 * fires the due timer (`deadline-passed` once past `deadlineAt`, else
 * `ack-timeout` in `dispatched` and `retry-due` in `retrying` once past
 * `nextDeadline`), either on time or, as after downtime, late: after the next
 * event, which then meets timers already overdue. Every change is applied to
 * the snapshot as the store would.
 *
 * The properties, checked on every step of every history:
 * (a) no letter without an owner: past its deadline (once due timers have
 *     fired) a letter is filed, rejected, escalated, cancelled or resolved;
 *     before it, the sweeper holds a timer still ahead; an on-time sweeper
 *     escalates exactly at the deadline; a due timer always moves the letter.
 * (b) final states (filed, rejected, cancelled, resolved) ignore every event,
 *     operator actions included; `escalated` is left only by a person
 *     (retry, cancel, resolve) or by the practice's own business ack or rejection.
 * (c) `filed` is entered at most once.
 * (d) `nextDeadline` is set and not after `deadlineAt` wherever the sweeper
 *     owns the letter, and null in final states and in `escalated`.
 * (e) attempts never decrease, publishes name the next attempt, and attempts
 *     exceed `maxAttempts` only by the one attempt each operator retry or
 *     honoured resend request buys.
 * Also: an operator retry gives the letter its original filing window afresh,
 * every change is an edge of the generated state diagram, and the histories
 * take every edge of it.
 *
 * Runs are reproducible: a fixed seed by default; `FC_SEED=<n>` and
 * `FC_RUNS=<n>` explore further (a failure prints its seed and path).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { DeliveryEvent, DeliveryEventKind, DeliveryPolicy, LetterSnapshot, TransitionResult } from '../../src/domain/delivery-events.js';
import { hasDeadline, isFinalState, type MessageState } from '../../src/domain/message-state.js';
import { stateDiagramEdges } from '../../src/domain/state-diagram.js';
import { dueTimerEvent, type TimerEvent } from '../../src/domain/timers.js';
import { transition } from '../../src/domain/transition.js';
import { HOUR, MINUTE, SECOND, T0, apply } from '../support/delivery-fixtures.js';

const DAY = 24 * HOUR;
const RUNS = Number(process.env.FC_RUNS ?? 2000);
const SEED = Number(process.env.FC_SEED ?? 20250301);
const PARAMETERS: fc.Parameters<unknown> = { numRuns: RUNS, seed: SEED };

const MANUAL: ReadonlySet<DeliveryEventKind> = new Set(['retry', 'cancel', 'resolve']);
/** Where a letter has an owner other than the sweeper: the practice's answer, a person, or a person's work list. */
const SETTLED: ReadonlySet<MessageState> = new Set(['filed', 'rejected', 'escalated', 'cancelled', 'resolved']);
/** The only ways out of `escalated`: a person, or the practice's own answer (which a person must not contradict). */
const LEAVES_ESCALATED: ReadonlySet<DeliveryEventKind> = new Set(['retry', 'cancel', 'resolve', 'business-ack', 'rejected']);
const SITUATIONS = ['a second operator retry', 'attempts past maxAttempts', 'a resend request past maxAttempts'];
const EDGES = new Set(stateDiagramEdges().map((e) => `${e.from} ${e.to} ${e.event}`));

interface Step {
  readonly jumpMs: number;
  readonly kind: DeliveryEventKind;
  /** Picks the attempt a publish outcome is about, among those Courier asked for (and the last confirmed one). */
  readonly pick: number;
  readonly failure: 'unroutable' | 'nacked';
  readonly random: number;
}
interface History {
  readonly policy: DeliveryPolicy;
  readonly windowMs: number;
  /** On time: timers fire at their moment. Late: the sweeper was down and catches up after the next event. */
  readonly sweeper: 'on-time' | 'late';
  /** Without: operator events in `steps` are skipped, to check what the machine does on its own. */
  readonly manual: boolean;
  readonly steps: readonly Step[];
}

const policyArb: fc.Arbitrary<DeliveryPolicy> = fc
  .record({
    infrastructureAckTimeoutMs: fc.integer({ min: 2 * MINUTE, max: 30 * MINUTE }),
    initialMs: fc.integer({ min: SECOND, max: 10 * MINUTE }),
    extraMs: fc.integer({ min: 0, max: 2 * HOUR }),
    maxAttempts: fc.integer({ min: 1, max: 6 }),
  })
  .map(({ infrastructureAckTimeoutMs, initialMs, extraMs, maxAttempts }) => ({
    infrastructureAckTimeoutMs,
    backoff: { initialMs, maxMs: initialMs + extraMs },
    maxAttempts,
  }));

/** Weighted so that most histories run long enough to retry, escalate and be retried by a person before the practice answers. */
const kindArb: fc.Arbitrary<DeliveryEventKind> = fc.oneof(
  { weight: 16, arbitrary: fc.constantFrom<DeliveryEventKind>('published', 'publish-failed', 'infrastructure-ack', 'transient-error', 'ack-timeout', 'retry-due') },
  { weight: 3, arbitrary: fc.constantFrom<DeliveryEventKind>('deadline-passed', 'dead-lettered') },
  { weight: 2, arbitrary: fc.constantFrom<DeliveryEventKind>('business-ack', 'rejected') },
  { weight: 2, arbitrary: fc.constant<DeliveryEventKind>('retry') },
  { weight: 2, arbitrary: fc.constantFrom<DeliveryEventKind>('cancel', 'resolve') },
  { weight: 4, arbitrary: fc.constant<DeliveryEventKind>('resend-requested') },
);

const stepArb: fc.Arbitrary<Step> = fc.record({
  jumpMs: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 5 * MINUTE }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 3 * HOUR }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * DAY }) },
  ),
  kind: kindArb,
  pick: fc.nat(),
  failure: fc.constantFrom('unroutable', 'nacked'),
  random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
});

const historyArb: fc.Arbitrary<History> = fc.record({
  policy: policyArb,
  windowMs: fc.oneof(fc.constantFrom(DAY, 7 * DAY), fc.integer({ min: 10 * MINUTE, max: 3 * DAY })),
  sweeper: fc.constantFrom('on-time', 'late'),
  manual: fc.boolean(),
  steps: fc.array(stepArb, { maxLength: 40, size: 'max' }),
});

/** The letter as the store holds it, and what the test has seen happen to it. */
interface World {
  letter: LetterSnapshot;
  now: number;
  readonly policy: DeliveryPolicy;
  readonly windowMs: number;
  /** Publish attempts Courier asked for (attempt 1 at acceptance, then every `publish` effect): the only ones the broker can confirm, nack or return. */
  readonly requested: Set<number>;
  operatorRetries: number;
  /** Resend requests that published an attempt: each, like an operator retry, may buy one past `maxAttempts`. */
  resends: number;
  timesFiled: number;
  /** What the histories exercised, shared by all runs: diagram edges (`from to event`) and named situations. */
  readonly seen: Set<string>;
}

describe('transition: properties over random histories and clock jumps', function () {
  this.timeout(20_000);

  it('every letter has an owner by its deadline, final states stay final, nothing is filed twice, deadlines and attempts stay in bounds', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(historyArb, (history) => {
        const world = replay(history, seen);
        // Long after everything: once the sweeper has run past the deadline, a person or the practice owns the letter.
        sweep(world, history, world.letter.deadlineAt.getTime() + 30 * DAY, 0.5);
        expect(SETTLED.has(world.letter.state), `(a) ${world.letter.state} long after its deadline`).to.equal(true);
        if (!history.manual) {
          expect(['filed', 'rejected', 'escalated'], '(a) without a person').to.include(world.letter.state);
          expect(world.letter.deadlineAt.getTime(), 'only an operator retry moves the filing deadline').to.equal(T0.getTime() + history.windowMs);
        }
      }),
      PARAMETERS,
    );
    // The histories reach what the properties are about: every move of the state machine, and the rare paths.
    expect([...EDGES].filter((edge) => !seen.has(edge)), 'state diagram edges no history took').to.deep.equal([]);
    expect([...SITUATIONS].filter((situation) => !seen.has(situation)), 'situations no history reached').to.deep.equal([]);
  });
});

function replay(history: History, seen: Set<string>): World {
  const deadlineAt = new Date(T0.getTime() + history.windowMs);
  const world: World = {
    letter: { state: 'received', attempts: 0, acceptedAt: T0, deadlineAt, filingWindowMs: history.windowMs, nextDeadline: deadlineAt },
    now: T0.getTime(),
    policy: history.policy,
    windowMs: history.windowMs,
    requested: new Set([1]),
    operatorRetries: 0,
    resends: 0,
    timesFiled: 0,
    seen,
  };
  for (const step of history.steps) {
    // A late sweeper is behind: the step's event is handled before the sweeper catches up with the timers due by then.
    if (history.sweeper === 'on-time') sweep(world, history, world.now + step.jumpMs, step.random);
    else world.now += step.jumpMs;
    if (MANUAL.has(step.kind) && !history.manual) continue;
    applyEvent(world, eventOf(step, world), step.random);
    sweep(world, history, world.now, step.random);
  }
  return world;
}

/**
 * The sweeper, up to `until`: fires every timer that falls due, on time or
 * (late) all at `until`, then checks (a): past its deadline a letter is settled.
 */
function sweep(world: World, history: History, until: number, random: number): void {
  let lastFiredAt = Number.NaN;
  for (;;) {
    const dueAt = timerDueAt(world.letter);
    if (dueAt === undefined || dueAt > until) break;
    const now = history.sweeper === 'on-time' ? Math.max(world.now, dueAt) : until;
    // Every timer moves the next one strictly ahead (or settles the letter), so one instant never needs two.
    holds(now !== lastFiredAt, () => `(a) two timers due at one instant for a ${world.letter.state} letter`);
    lastFiredAt = world.now = now;
    const event = dueTimer(world.letter, now);
    holds(event !== undefined, () => `(a) ${world.letter.state}: claimable at ${iso(now)} but no timer is due`);
    if (event === undefined) break;
    holds(dueTimerEvent(world.letter, new Date(now))?.kind === event.kind, () => `(a) the domain's dueTimerEvent disagrees about ${event.kind}`);
    const deadlineAt = world.letter.deadlineAt.getTime();
    const result = applyEvent(world, event, random);
    // A due timer always moves the letter on; an ignored one would be claimed again and again.
    holds(result.kind === 'changed', () => `(a) ${event.kind} was due but ignored`);
    // (a) on time, the sweeper hands the letter on exactly at its deadline, never later.
    if (event.kind === 'deadline-passed' && history.sweeper === 'on-time') holds(now === deadlineAt, () => `(a) escalated at ${iso(now)}, deadline ${iso(deadlineAt)}`);
  }
  world.now = Math.max(world.now, until);
  const { state, deadlineAt, nextDeadline } = world.letter;
  // (a) no letter without an owner: past its deadline it is settled; before it, the sweeper holds a timer still ahead.
  holds(world.now < deadlineAt.getTime() || SETTLED.has(state), () => `(a) ${state} at ${iso(world.now)}, past its deadline ${iso(deadlineAt.getTime())}`);
  if (hasDeadline(state)) holds(nextDeadline !== null && nextDeadline.getTime() > world.now, () => `(a) ${state}: no timer ahead at ${iso(world.now)}`);
}

/** When the sweeper (claiming letters whose nextDeadline has come) would next act on the letter. */
function timerDueAt(letter: LetterSnapshot): number | undefined {
  if (!hasDeadline(letter.state)) return undefined;
  return Math.min(letter.nextDeadline?.getTime() ?? -Infinity, letter.deadlineAt.getTime());
}

/** The timer the sweeper applies, modelled from DESIGN §5 (the filing deadline first). */
function dueTimer(letter: LetterSnapshot, now: number): TimerEvent | undefined {
  if (!hasDeadline(letter.state)) return undefined;
  if (now >= letter.deadlineAt.getTime()) return { kind: 'deadline-passed' };
  if (letter.nextDeadline === null || now < letter.nextDeadline.getTime()) return undefined;
  if (letter.state === 'dispatched') return { kind: 'ack-timeout' };
  if (letter.state === 'retrying') return { kind: 'retry-due' };
  return undefined;
}

/**
 * The step's event. Publish outcomes name an attempt Courier asked for: mostly
 * the latest, else any earlier one or the one already confirmed (late or repeated).
 */
function eventOf(step: Step, world: World): DeliveryEvent {
  const candidates = [...world.requested, world.letter.attempts].filter((a) => a >= 1).sort((a, b) => a - b);
  const attempt = (step.pick % 3 === 0 ? candidates[Math.floor(step.pick / 3) % candidates.length] : candidates.at(-1)) ?? 1;
  switch (step.kind) {
    case 'published':
      return { kind: 'published', attempt };
    case 'publish-failed':
      return { kind: 'publish-failed', attempt, failure: step.failure };
    case 'rejected':
      return { kind: 'rejected', reason: 'fatal-error' };
    case 'transient-error':
      return { kind: 'transient-error', reason: 'transient-error' };
    case 'dead-lettered':
      return step.pick % 2 === 0 ? { kind: 'dead-lettered' } : { kind: 'dead-lettered', brokerReason: 'delivery_limit' };
    case 'retry':
    case 'cancel':
    case 'resolve':
      return { kind: step.kind, reason: 'property test', actor: 'fc@test' };
    case 'resend-requested':
      return { kind: 'resend-requested', reason: 'property test', actor: 'connector-fc' };
    default:
      return { kind: step.kind };
  }
}

/** Applies one event at `world.now`, checks properties (b)–(e) on what it does, and stores the change. */
function applyEvent(world: World, event: DeliveryEvent, random: number): TransitionResult {
  const before = world.letter;
  const result = transition(before, event, new Date(world.now), world.policy, random);
  // (b) a final state is never left, not even by a person: filed, rejected, cancelled and resolved ignore everything.
  holds(!isFinalState(before.state) || result.kind === 'ignored', () => `(b) ${before.state} + ${event.kind} left a final state`);
  if (result.kind === 'ignored') return result;
  if (event.kind === 'retry') world.operatorRetries++;
  if (event.kind === 'resend-requested' && result.effects.some((e) => e.kind === 'publish')) {
    if (before.attempts >= world.policy.maxAttempts) world.seen.add('a resend request past maxAttempts');
    world.resends++;
  }
  checkChange(world, before, event, result);
  for (const effect of result.effects) if (effect.kind === 'publish') world.requested.add(effect.attempt);
  world.letter = apply(before, result);
  return result;
}

function checkChange(world: World, before: LetterSnapshot, event: DeliveryEvent, result: Changed): void {
  const label = `${before.state} + ${event.kind} → ${result.state}`;
  const edge = `${before.state} ${result.state} ${event.kind}`;
  holds(EDGES.has(edge), () => `${label} is missing from the state diagram`);
  world.seen.add(edge);
  if (world.operatorRetries >= 2) world.seen.add('a second operator retry');
  if (result.attempts > world.policy.maxAttempts) world.seen.add('attempts past maxAttempts');
  // A resend request moves only a dispatched letter: the next attempt now, or escalation at the deadline.
  if (event.kind === 'resend-requested') holds(before.state === 'dispatched' && (result.state === 'retrying' || result.state === 'escalated'), () => `${label}: a resend request moved it`);
  // (b) escalated waits for a person; only a person or the practice's own answer moves it on.
  holds(before.state !== 'escalated' || LEAVES_ESCALATED.has(event.kind), () => `(b) ${label}: escalated moved without a person`);
  // (c) filed at most once.
  if (result.state === 'filed') world.timesFiled++;
  holds(world.timesFiled <= 1, () => `(c) ${label}: filed ${world.timesFiled} times`);
  // (d) a timer exactly where the sweeper owns the letter, and never after the filing deadline.
  const next = result.nextDeadline;
  if (hasDeadline(result.state)) holds(next !== null && next.getTime() <= result.deadlineAt.getTime(), () => `(d) ${label}: nextDeadline ${String(next?.toISOString())} not within the deadline`);
  else holds(next === null, () => `(d) ${label}: ${result.state} must have no nextDeadline`);
  // (e) attempts never go down, and pass maxAttempts only by what operator retries and resend requests bought (one each).
  holds(result.attempts >= before.attempts, () => `(e) ${label}: attempts ${before.attempts} → ${result.attempts}`);
  const limit = world.policy.maxAttempts + world.operatorRetries + world.resends;
  holds(result.attempts <= limit, () => `(e) ${label}: ${result.attempts} attempts, limit ${world.policy.maxAttempts} + ${world.operatorRetries} operator retries + ${world.resends} resends`);
  for (const effect of result.effects) {
    if (effect.kind === 'publish') holds(effect.attempt === before.attempts + 1, () => `(e) ${label}: publishes attempt ${effect.attempt} after ${before.attempts}`);
  }
  // An operator retry restarts the filing clock with the letter's original window.
  if (event.kind === 'retry') holds(result.deadlineAt.getTime() - world.now === world.windowMs, () => `${label}: renewed window ${result.deadlineAt.getTime() - world.now} ms, original ${world.windowMs} ms`);
  // Exactly one status event per change of state, none otherwise.
  const emits = result.effects.filter((e) => e.kind === 'emit-event').length;
  holds(emits === (result.state === before.state ? 0 : 1), () => `${label}: ${emits} status events`);
}

type Changed = Extract<TransitionResult, { kind: 'changed' }>;

/** A cheap assertion for the hot loop: the message is built only on failure. */
function holds(condition: boolean, message: () => string): void {
  if (!condition) throw new AssertionError(message());
}

class AssertionError extends Error {
  override name = 'AssertionError';
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
