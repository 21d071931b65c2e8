import { expect } from 'chai';
import { dueTimerEvent } from '../../src/domain/timers.js';
import { transition } from '../../src/domain/transition.js';
import { MESSAGE_STATES, type MessageState } from '../../src/domain/message-state.js';
import type { LetterSnapshot } from '../../src/domain/delivery-events.js';
import { POLICY, RANDOM } from '../support/delivery-fixtures.js';

const T0 = new Date('2026-03-01T10:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const letter = (state: MessageState, nextDeadline: Date | null, deadlineAt = at(24 * 60)): LetterSnapshot => ({
  state,
  attempts: 1,
  acceptedAt: T0,
  deadlineAt,
  nextDeadline,
});

describe('which timer is due (the sweeper asks this for every letter past its nextDeadline)', () => {
  it('names the timer of each waiting state once its nextDeadline has come', () => {
    expect(dueTimerEvent(letter('dispatched', at(10)), at(10))).to.deep.equal({ kind: 'ack-timeout' });
    expect(dueTimerEvent(letter('retrying', at(5)), at(6))).to.deep.equal({ kind: 'retry-due' });
    expect(dueTimerEvent(letter('dispatched', at(10)), at(9)), 'not yet').to.equal(undefined);
    expect(dueTimerEvent(letter('delivered', at(24 * 60)), at(60))).to.equal(undefined);
  });

  it('puts the filing deadline first, whatever else is pending', () => {
    for (const state of ['received', 'dispatched', 'retrying', 'delivered'] as const) {
      expect(dueTimerEvent(letter(state, at(24 * 60 + 30)), at(24 * 60)), state).to.deep.equal({ kind: 'deadline-passed' });
    }
  });

  it('has nothing for final letters and for escalated ones, which wait for a person', () => {
    for (const state of ['filed', 'rejected', 'cancelled', 'resolved', 'escalated'] as const) {
      expect(dueTimerEvent(letter(state, null), at(48 * 60)), state).to.equal(undefined);
    }
  });

  it('never names a timer the state machine would ignore', () => {
    const moments = [0, 5, 10, 60, 24 * 60, 48 * 60].map(at);
    for (const state of MESSAGE_STATES) {
      for (const next of [null, at(10), at(24 * 60)]) {
        for (const now of moments) {
          const event = dueTimerEvent(letter(state, next), now);
          if (event === undefined) continue;
          const result = transition(letter(state, next), event, now, POLICY, RANDOM);
          expect(result.kind, `${state} next=${next?.toISOString() ?? 'null'} now=${now.toISOString()} ${event.kind}`).to.equal('changed');
        }
      }
    }
  });
});
