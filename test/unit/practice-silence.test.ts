import { expect } from 'chai';
import { isSilent } from '../../src/domain/practice-silence.js';

const HOUR = 3_600_000;
const T0 = new Date('2026-03-01T08:00:00Z');
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);

describe('silent practice alarm (4 h)', () => {
  const threshold = 4 * HOUR;

  it('is raised when letters wait and the practice said nothing for the threshold since the later of its last ack and the oldest send', () => {
    expect(isSilent({ awaiting: 3, oldestAwaitingSince: at(0), lastAckAt: null }, at(4), threshold)).to.equal(true);
    expect(isSilent({ awaiting: 3, oldestAwaitingSince: at(0), lastAckAt: null }, at(3.9), threshold)).to.equal(false);
    expect(isSilent({ awaiting: 3, oldestAwaitingSince: at(0), lastAckAt: at(1) }, at(4.5), threshold), 'acked an hour in').to.equal(false);
    expect(isSilent({ awaiting: 3, oldestAwaitingSince: at(0), lastAckAt: at(1) }, at(5), threshold)).to.equal(true);
  });

  it('does not count quiet time when nothing was waiting', () => {
    // Last ack a week ago, but the waiting letter went out only an hour ago.
    expect(isSilent({ awaiting: 1, oldestAwaitingSince: at(0), lastAckAt: at(-7 * 24) }, at(1), threshold)).to.equal(false);
    expect(isSilent({ awaiting: 0, oldestAwaitingSince: null, lastAckAt: at(-7 * 24) }, at(1), threshold)).to.equal(false);
  });
});
