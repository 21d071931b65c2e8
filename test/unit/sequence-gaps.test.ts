import { expect } from 'chai';
import { MAX_TRACKED_GAPS, observeSequence, overdueGaps, type SequenceState } from '../../src/domain/sequence-gaps.js';

const T0 = new Date('2026-03-01T10:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const seeAll = (numbers: number[], start?: SequenceState): SequenceState =>
  numbers.reduce<SequenceState | undefined>((state, n) => observeSequence(state, n, T0), start) ?? { highest: 0, missing: new Map() };

describe('sequence gap detection (x-courier-sequence)', () => {
  it('finds nothing missing in 1..n, in any order, with redeliveries', () => {
    const state = seeAll([1, 2, 4, 3, 3, 5, 2]);
    expect(state.highest).to.equal(5);
    expect([...state.missing.keys()]).to.deep.equal([]);
  });

  it('reports a number missing only after the grace period, and forgets it when it arrives late', () => {
    let state = seeAll([1, 2, 5]);
    expect([...state.missing.keys()]).to.deep.equal([3, 4]);
    expect(overdueGaps(state, at(59), 60_000), 'within the grace period').to.deep.equal([]);
    expect(overdueGaps(state, at(60), 60_000)).to.deep.equal([3, 4]);
    state = observeSequence(state, 4, at(61));
    expect(overdueGaps(state, at(120), 60_000)).to.deep.equal([3]);
  });

  it('times each gap from when it was noticed', () => {
    let state = observeSequence(observeSequence(undefined, 1, T0), 3, T0); // 2 missing from T0
    state = observeSequence(state, 6, at(50)); // 4 and 5 missing from T0 + 50 s
    expect(overdueGaps(state, at(60), 60_000)).to.deep.equal([2]);
    expect(overdueGaps(state, at(110), 60_000)).to.deep.equal([2, 4, 5]);
  });

  it('takes the first number seen as the baseline when it has no history', () => {
    const state = seeAll([500, 501]);
    expect(state).to.deep.equal({ highest: 501, missing: new Map() });
  });

  it('ignores numbers that are not sequences, and bounds what it tracks', () => {
    const state = seeAll([1, 0, -3, 2.5, Number.NaN, 2]);
    expect(state).to.deep.equal({ highest: 2, missing: new Map() });
    const jump = observeSequence(state, 2 + MAX_TRACKED_GAPS * 5, T0);
    expect(jump.missing.size).to.equal(MAX_TRACKED_GAPS);
    expect(jump.highest).to.equal(2 + MAX_TRACKED_GAPS * 5);
  });
});
