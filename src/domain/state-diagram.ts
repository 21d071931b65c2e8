import { DELIVERY_EVENT_KINDS, type DeliveryEvent, type DeliveryEventKind, type DeliveryPolicy, type LetterSnapshot } from './delivery-events.js';
import { MESSAGE_STATES, hasDeadline, isFinalState, type MessageState } from './message-state.js';
import { transition } from './transition.js';

/**
 * The delivery state machine drawn from the code: `transition()` is asked
 * about every state × event kind on a grid of representative letters, and
 * every change it makes becomes an edge. Nothing here is written by hand
 * except the grid, so the README diagram (`npm run diagram`) cannot drift from
 * the rules; a unit test fails when it does.
 *
 * The grid covers what the rules branch on: attempts below, at and past
 * `maxAttempts` (past it only after operator retries), timers not yet due and
 * due, and the filing deadline ahead, reached and passed; publish events for
 * the pending attempt and for one already confirmed.
 */

/** One change `transition()` can make: a letter in `from` moves to `to` on an event of kind `event`. */
export interface StateDiagramEdge {
  readonly from: MessageState;
  readonly to: MessageState;
  readonly event: DeliveryEventKind;
}

/** Where custody puts every accepted letter (DESIGN §5). */
const INITIAL_STATE: MessageState = 'received';

const HOUR = 3_600_000;
const ACCEPTED_AT = new Date(Date.UTC(2025, 0, 1, 9));
const DEADLINE_AT = at(ACCEPTED_AT, 24 * HOUR);

/** Policy values only place the grid's moments; the edges do not depend on them. */
const POLICY: DeliveryPolicy = { infrastructureAckTimeoutMs: HOUR / 6, backoff: { initialMs: HOUR / 60, maxMs: HOUR }, maxAttempts: 3 };

/** (now, nextDeadline) pairs: timer ahead, timer due, no timer stored, deadline reached, deadline passed. */
const MOMENTS: readonly { readonly now: Date; readonly nextDeadline: Date | null }[] = [
  { now: at(ACCEPTED_AT, HOUR), nextDeadline: at(ACCEPTED_AT, 2 * HOUR) },
  { now: at(ACCEPTED_AT, HOUR), nextDeadline: at(ACCEPTED_AT, HOUR) },
  { now: at(ACCEPTED_AT, HOUR), nextDeadline: null },
  { now: DEADLINE_AT, nextDeadline: DEADLINE_AT },
  { now: at(DEADLINE_AT, HOUR), nextDeadline: DEADLINE_AT },
];

const ATTEMPTS: readonly number[] = [0, 1, POLICY.maxAttempts - 1, POLICY.maxAttempts, POLICY.maxAttempts + 1];

const NOTE = { reason: 'state diagram', actor: 'diagram' } as const;

/** Events of each kind to try on a letter; the mapped type makes a missing kind a compile error. */
const SAMPLES: { readonly [K in DeliveryEventKind]: (letter: LetterSnapshot) => readonly Extract<DeliveryEvent, { kind: K }>[] } = {
  published: (l) => [l.attempts, l.attempts + 1].map((attempt) => ({ kind: 'published', attempt })),
  'publish-failed': (l) =>
    (['unroutable', 'nacked'] as const).flatMap((failure) => [l.attempts, l.attempts + 1].map((attempt) => ({ kind: 'publish-failed' as const, attempt, failure }))),
  'infrastructure-ack': () => [{ kind: 'infrastructure-ack' }],
  'business-ack': () => [{ kind: 'business-ack' }],
  rejected: () => [{ kind: 'rejected', reason: 'fatal-error' }],
  'transient-error': () => [{ kind: 'transient-error', reason: 'transient-error' }],
  'ack-timeout': () => [{ kind: 'ack-timeout' }],
  'retry-due': () => [{ kind: 'retry-due' }],
  'deadline-passed': () => [{ kind: 'deadline-passed' }],
  'dead-lettered': () => [{ kind: 'dead-lettered' }, { kind: 'dead-lettered', brokerReason: 'delivery_limit' }],
  retry: () => [{ kind: 'retry', ...NOTE }],
  cancel: () => [{ kind: 'cancel', ...NOTE }],
  resolve: () => [{ kind: 'resolve', ...NOTE }],
  'resend-requested': () => [{ kind: 'resend-requested', ...NOTE }],
};

/** Every change `transition()` makes on the grid, once each, ordered by state, then target, then event (declaration order). */
export function stateDiagramEdges(): readonly StateDiagramEdge[] {
  const seen = new Map<string, StateDiagramEdge>();
  for (const state of MESSAGE_STATES) {
    for (const { letter, now } of representativeLetters(state)) {
      for (const kind of DELIVERY_EVENT_KINDS) {
        for (const event of samples(kind, letter)) {
          const result = transition(letter, event, now, POLICY, 0.5);
          if (result.kind === 'ignored') continue;
          const edge: StateDiagramEdge = { from: state, to: result.state, event: kind };
          seen.set(`${edge.from} ${edge.to} ${edge.event}`, edge);
        }
      }
    }
  }
  return [...seen.values()].sort(compareEdges);
}

/**
 * The Mermaid `stateDiagram-v2` of the state machine: `[*]` enters at
 * `received`, final states leave to `[*]`, and one arrow per pair of states
 * is labelled with every event kind that makes that move.
 */
export function stateDiagram(): string {
  const byPair = new Map<string, { from: MessageState; to: MessageState; events: DeliveryEventKind[] }>();
  for (const edge of stateDiagramEdges()) {
    const key = `${edge.from} ${edge.to}`;
    const pair = byPair.get(key) ?? { from: edge.from, to: edge.to, events: [] };
    pair.events.push(edge.event);
    byPair.set(key, pair);
  }
  const lines = ['stateDiagram-v2', `    [*] --> ${INITIAL_STATE}`];
  for (const { from, to, events } of byPair.values()) lines.push(`    ${from} --> ${to} : ${events.join(', ')}`);
  for (const state of MESSAGE_STATES) if (isFinalState(state)) lines.push(`    ${state} --> [*]`);
  return lines.join('\n');
}

function representativeLetters(state: MessageState): { letter: LetterSnapshot; now: Date }[] {
  return ATTEMPTS.flatMap((attempts) =>
    MOMENTS.map(({ now, nextDeadline }) => ({
      letter: { state, attempts, acceptedAt: ACCEPTED_AT, deadlineAt: DEADLINE_AT, nextDeadline: hasDeadline(state) ? nextDeadline : null },
      now,
    })),
  );
}

function samples<K extends DeliveryEventKind>(kind: K, letter: LetterSnapshot): readonly DeliveryEvent[] {
  return (SAMPLES[kind] as (l: LetterSnapshot) => readonly DeliveryEvent[])(letter);
}

function compareEdges(a: StateDiagramEdge, b: StateDiagramEdge): number {
  return (
    MESSAGE_STATES.indexOf(a.from) - MESSAGE_STATES.indexOf(b.from) ||
    MESSAGE_STATES.indexOf(a.to) - MESSAGE_STATES.indexOf(b.to) ||
    DELIVERY_EVENT_KINDS.indexOf(a.event) - DELIVERY_EVENT_KINDS.indexOf(b.event)
  );
}

function at(base: Date, ms: number): Date {
  return new Date(base.getTime() + ms);
}
