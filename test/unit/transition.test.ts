import { expect } from 'chai';
import { transition } from '../../src/domain/transition.js';
import { MESSAGE_STATES, type MessageState } from '../../src/domain/message-state.js';
import { DELIVERY_EVENT_KINDS, type LetterSnapshot } from '../../src/domain/delivery-events.js';
import { AFTER_DL, COLUMNS, DL, HOUR, MINUTE, NOW, POLICY, RANDOM, SECOND, at, changed, eventFor, snapshot, summarise, type Column } from '../support/delivery-fixtures.js';

/** One representative letter per state, as the store would hold it an hour after acceptance. */
const LETTERS: Record<MessageState, LetterSnapshot> = {
  received: snapshot('received', 0, DL),
  dispatched: snapshot('dispatched', 2, at(NOW, -SECOND)),
  retrying: snapshot('retrying', 2, at(NOW, -SECOND)),
  delivered: snapshot('delivered', 2, DL),
  escalated: snapshot('escalated', 2, null),
  filed: snapshot('filed', 2, null),
  rejected: snapshot('rejected', 2, null),
  cancelled: snapshot('cancelled', 2, null),
  resolved: snapshot('resolved', 2, null),
};

interface Moved {
  readonly to: MessageState;
  readonly attempts: number;
  readonly next: Date | null;
  /** `emit-event` (from the current state to `to`), `escalate`, `notify-sender:<outcome>`, `publish:<attempt>`. */
  readonly effects: readonly string[];
  readonly deadlineAt?: Date;
}
const I = 'ignored';
type Cell = typeof I | Moved;

const go = (to: MessageState, attempts: number, next: Date | null, effects: readonly string[], deadlineAt?: Date): Moved =>
  deadlineAt === undefined ? { to, attempts, next, effects } : { to, attempts, next, effects, deadlineAt };
const EMIT = ['emit-event'];
const ESCALATE = ['emit-event', 'escalate', 'notify-sender:escalated'];
const REJECT = ['emit-event', 'notify-sender:rejected'];
const FINAL_ROW: Record<Column, Cell> = Object.fromEntries(COLUMNS.map((c) => [c, I])) as Record<Column, Cell>;

/**
 * The expected outcome of every state × event pair, written down from DESIGN §4/§5
 * and the decisions documented on transition(): not derived from the code.
 */
const EXPECTED: Record<MessageState, Record<Column, Cell>> = {
  received: {
    published: go('dispatched', 1, at(NOW, 10 * MINUTE), EMIT),
    'publish-failed unroutable': go('escalated', 0, null, ESCALATE),
    'publish-failed nacked': go('retrying', 0, at(NOW, 45 * SECOND), EMIT),
    'infrastructure-ack': go('delivered', 1, DL, EMIT),
    'business-ack': go('filed', 1, null, EMIT),
    rejected: go('rejected', 1, null, REJECT),
    'transient-error': go('retrying', 1, at(NOW, 45 * SECOND), EMIT),
    'ack-timeout': I,
    'retry-due': I,
    'deadline-passed': go('escalated', 0, null, ESCALATE),
    'dead-lettered': go('escalated', 1, null, ESCALATE),
    retry: I,
    cancel: go('cancelled', 0, null, EMIT),
    resolve: go('resolved', 0, null, EMIT),
    // Not yet published: it is on its way.
    'resend-requested': I,
  },
  dispatched: {
    published: I,
    'publish-failed unroutable': I,
    'publish-failed nacked': I,
    'infrastructure-ack': go('delivered', 2, DL, EMIT),
    'business-ack': go('filed', 2, null, EMIT),
    rejected: go('rejected', 2, null, REJECT),
    'transient-error': go('retrying', 2, at(NOW, 90 * SECOND), EMIT),
    'ack-timeout': go('retrying', 2, at(NOW, 90 * SECOND), EMIT),
    'retry-due': I,
    'deadline-passed': go('escalated', 2, null, ESCALATE),
    'dead-lettered': go('escalated', 2, null, ESCALATE),
    retry: I,
    cancel: go('cancelled', 2, null, EMIT),
    resolve: go('resolved', 2, null, EMIT),
    // The practice never saw it: the next attempt now, as a due retry would publish it.
    'resend-requested': go('retrying', 2, at(NOW, 10 * MINUTE), ['emit-event', 'publish:3']),
  },
  retrying: {
    published: go('dispatched', 3, at(NOW, 10 * MINUTE), EMIT),
    'publish-failed unroutable': go('escalated', 2, null, ESCALATE),
    'publish-failed nacked': go('retrying', 2, at(NOW, 180 * SECOND), []),
    'infrastructure-ack': go('delivered', 2, DL, EMIT),
    'business-ack': go('filed', 2, null, EMIT),
    rejected: go('rejected', 2, null, REJECT),
    'transient-error': I,
    'ack-timeout': I,
    'retry-due': go('retrying', 2, at(NOW, 10 * MINUTE), ['publish:3']),
    'deadline-passed': go('escalated', 2, null, ESCALATE),
    'dead-lettered': go('escalated', 2, null, ESCALATE),
    // Its next attempt is already scheduled; a same-state change would leave no history entry.
    retry: I,
    cancel: go('cancelled', 2, null, EMIT),
    resolve: go('resolved', 2, null, EMIT),
    // Its next attempt is already scheduled.
    'resend-requested': I,
  },
  delivered: {
    published: I,
    'publish-failed unroutable': I,
    'publish-failed nacked': I,
    'infrastructure-ack': I,
    'business-ack': go('filed', 2, null, EMIT),
    rejected: go('rejected', 2, null, REJECT),
    'transient-error': go('retrying', 2, at(NOW, 90 * SECOND), EMIT),
    'ack-timeout': I,
    'retry-due': I,
    'deadline-passed': go('escalated', 2, null, ESCALATE),
    'dead-lettered': I,
    retry: I,
    cancel: go('cancelled', 2, null, EMIT),
    resolve: go('resolved', 2, null, EMIT),
    // The practice system itself acknowledged receipt.
    'resend-requested': I,
  },
  escalated: {
    published: I,
    'publish-failed unroutable': I,
    'publish-failed nacked': I,
    'infrastructure-ack': I,
    'business-ack': go('filed', 2, null, EMIT),
    rejected: go('rejected', 2, null, REJECT),
    'transient-error': I,
    'ack-timeout': I,
    'retry-due': I,
    'deadline-passed': I,
    'dead-lettered': I,
    // The filing clock restarts with the original 24 h window.
    retry: go('retrying', 2, at(NOW, 10 * MINUTE), ['emit-event', 'publish:3'], at(NOW, 24 * HOUR)),
    cancel: go('cancelled', 2, null, EMIT),
    resolve: go('resolved', 2, null, EMIT),
    // Waits for a person.
    'resend-requested': I,
  },
  filed: FINAL_ROW,
  rejected: FINAL_ROW,
  cancelled: FINAL_ROW,
  resolved: FINAL_ROW,
};

describe('transition: every state × event pair', () => {
  it('the table covers all 9 states and 15 event variants', () => {
    expect(Object.keys(EXPECTED)).to.have.members([...MESSAGE_STATES]);
    for (const state of MESSAGE_STATES) expect(Object.keys(EXPECTED[state])).to.have.members([...COLUMNS]);
  });

  it('every state × event kind pair is in the table: no kind of DeliveryEvent lacks a column', () => {
    const missing: string[] = [];
    for (const state of MESSAGE_STATES) {
      const kinds = new Set(Object.keys(EXPECTED[state]).map((column) => eventFor(column as Column, LETTERS[state]).event.kind));
      expect([...kinds].filter((kind) => !DELIVERY_EVENT_KINDS.includes(kind)), `${state}: columns of unknown kinds`).to.deep.equal([]);
      for (const kind of DELIVERY_EVENT_KINDS) if (!kinds.has(kind)) missing.push(`${state} × ${kind}`);
    }
    expect(missing, 'pairs without a cell').to.deep.equal([]);
  });

  for (const state of MESSAGE_STATES) {
    for (const column of COLUMNS) {
      const expected = EXPECTED[state][column];
      const label = expected === I ? 'ignored' : `→ ${expected.to}`;
      it(`${state} + ${column}: ${label}`, () => {
        const letter = LETTERS[state];
        const { event, now } = eventFor(column, letter);
        const result = transition(letter, event, now, POLICY, RANDOM);
        if (expected === I) {
          expect(result.kind).to.equal('ignored');
          if (result.kind === 'ignored') expect(result.reason).to.be.a('string').and.not.equal('');
          return;
        }
        const change = changed(result);
        expect({
          state: change.state,
          attempts: change.attempts,
          nextDeadline: change.nextDeadline?.toISOString() ?? null,
          deadlineAt: change.deadlineAt.toISOString(),
          effects: change.effects.map(summarise),
        }).to.deep.equal({
          state: expected.to,
          attempts: expected.attempts,
          nextDeadline: expected.next?.toISOString() ?? null,
          deadlineAt: (expected.deadlineAt ?? DL).toISOString(),
          effects: expected.effects,
        });
        expect(change.cause).to.be.a('string').and.not.equal('');
        for (const effect of change.effects) {
          if (effect.kind === 'emit-event') expect(effect).to.deep.equal({ kind: 'emit-event', from: state, to: expected.to, reason: change.cause });
        }
      });
    }
  }
});

type Target = MessageState | typeof I;
/** A row where every column not listed is ignored. */
const moves = (cells: Partial<Record<Column, MessageState>>): Record<Column, Target> =>
  Object.fromEntries(COLUMNS.map((c) => [c, cells[c] ?? I])) as Record<Column, Target>;
const CLOSE = { cancel: 'cancelled', resolve: 'resolved' } as const;
const ANSWERS = { 'business-ack': 'filed', rejected: 'rejected' } as const;
const FINAL_TARGETS = moves({});

/**
 * Where each pair leads when the rules' other branches apply: written down
 * from DESIGN §5 and transition()'s documented decisions, like the table above.
 */
function checkTargets(letters: Partial<Record<MessageState, LetterSnapshot>>, table: Partial<Record<MessageState, Record<Column, Target>>>, now?: Date) {
  for (const [state, row] of Object.entries(table) as [MessageState, Record<Column, Target>][]) {
    for (const column of COLUMNS) {
      const expected = row[column];
      it(`${state} + ${column}: ${expected === I ? 'ignored' : `→ ${expected}`}`, () => {
        const letter = letters[state] ?? LETTERS[state];
        const event = eventFor(column, letter);
        const result = transition(letter, event.event, now ?? event.now, POLICY, RANDOM);
        expect(result.kind === 'changed' ? result.state : I).to.equal(expected);
      });
    }
  }
}

describe('transition: every state × event pair past the filing deadline', () => {
  // The deadline wins: every failure, timer or dead letter escalates; the practice's answers and people still count.
  checkTargets({}, {
    received: moves({ published: 'dispatched', 'publish-failed unroutable': 'escalated', 'publish-failed nacked': 'escalated', 'infrastructure-ack': 'delivered', ...ANSWERS, 'transient-error': 'escalated', 'deadline-passed': 'escalated', 'dead-lettered': 'escalated', ...CLOSE }),
    dispatched: moves({ 'infrastructure-ack': 'delivered', ...ANSWERS, 'transient-error': 'escalated', 'ack-timeout': 'escalated', 'deadline-passed': 'escalated', 'dead-lettered': 'escalated', ...CLOSE, 'resend-requested': 'escalated' }),
    retrying: moves({ published: 'dispatched', 'publish-failed unroutable': 'escalated', 'publish-failed nacked': 'escalated', 'infrastructure-ack': 'delivered', ...ANSWERS, 'retry-due': 'escalated', 'deadline-passed': 'escalated', 'dead-lettered': 'escalated', ...CLOSE }),
    delivered: moves({ ...ANSWERS, 'transient-error': 'escalated', 'deadline-passed': 'escalated', ...CLOSE }),
    escalated: moves({ ...ANSWERS, retry: 'retrying', ...CLOSE }),
    filed: FINAL_TARGETS,
    rejected: FINAL_TARGETS,
    cancelled: FINAL_TARGETS,
    resolved: FINAL_TARGETS,
  }, AFTER_DL);

  it('a letter confirmed or acknowledged after its deadline is due for escalation at once', () => {
    for (const [state, column] of [['received', 'published'], ['retrying', 'published'], ['dispatched', 'infrastructure-ack']] as const) {
      const change = changed(transition(LETTERS[state], eventFor(column, LETTERS[state]).event, AFTER_DL, POLICY, RANDOM));
      expect(change.nextDeadline, `${state} + ${column}`).to.deep.equal(DL);
    }
  });
});

describe('transition: every state × event pair at maxAttempts', () => {
  const max = POLICY.maxAttempts;
  // `received` has made no attempt and final states ignore everything, so only these rows differ from the first table.
  checkTargets(
    {
      dispatched: snapshot('dispatched', max, at(NOW, -SECOND)),
      // Only after an operator retry (each buys one more attempt).
      retrying: snapshot('retrying', max, at(NOW, -SECOND)),
      delivered: snapshot('delivered', max, DL),
      escalated: snapshot('escalated', max, null),
    },
    {
      // A resend request answers a practice that is evidently up: one more attempt, like an operator retry.
      dispatched: moves({ 'infrastructure-ack': 'delivered', ...ANSWERS, 'transient-error': 'escalated', 'ack-timeout': 'escalated', 'deadline-passed': 'escalated', 'dead-lettered': 'escalated', ...CLOSE, 'resend-requested': 'retrying' }),
      retrying: moves({ published: 'dispatched', 'publish-failed unroutable': 'escalated', 'publish-failed nacked': 'retrying', 'infrastructure-ack': 'delivered', ...ANSWERS, 'retry-due': 'retrying', 'deadline-passed': 'escalated', 'dead-lettered': 'escalated', ...CLOSE }),
      delivered: moves({ ...ANSWERS, 'transient-error': 'escalated', 'deadline-passed': 'escalated', ...CLOSE }),
      escalated: moves({ ...ANSWERS, retry: 'retrying', ...CLOSE }),
    },
  );
});

describe('transition: timers before they are due, in every state', () => {
  for (const state of MESSAGE_STATES) {
    it(`${state}: an early ack-timeout, retry-due or deadline-passed is ignored`, () => {
      const letter = { ...LETTERS[state], nextDeadline: LETTERS[state].nextDeadline === null ? null : at(NOW, MINUTE) };
      for (const kind of ['ack-timeout', 'retry-due', 'deadline-passed'] as const) {
        expect(transition(letter, { kind }, NOW, POLICY, RANDOM).kind, kind).to.equal('ignored');
      }
    });
  }
});
