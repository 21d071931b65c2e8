import { expect } from 'chai';
import { transition } from '../../src/domain/transition.js';
import { MESSAGE_STATES, type MessageState } from '../../src/domain/message-state.js';
import type { LetterSnapshot } from '../../src/domain/delivery-events.js';
import { COLUMNS, DL, HOUR, MINUTE, NOW, POLICY, RANDOM, SECOND, at, changed, eventFor, snapshot, summarise, type Column } from '../support/delivery-fixtures.js';

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
    retry: go('retrying', 2, at(NOW, 10 * MINUTE), ['publish:3']),
    cancel: go('cancelled', 2, null, EMIT),
    resolve: go('resolved', 2, null, EMIT),
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
  },
  filed: FINAL_ROW,
  rejected: FINAL_ROW,
  cancelled: FINAL_ROW,
  resolved: FINAL_ROW,
};

describe('transition: every state × event pair', () => {
  it('the table covers all 9 states and 14 event variants', () => {
    expect(Object.keys(EXPECTED)).to.have.members([...MESSAGE_STATES]);
    for (const state of MESSAGE_STATES) expect(Object.keys(EXPECTED[state])).to.have.members([...COLUMNS]);
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
