import { expect } from 'chai';
import { judgeRows } from '../../src/app/outbox-relay.js';
import type { PublishOutcome } from '../../src/app/ports.js';

/** One publish of row `outboxId`, answered with `outcome`, or failed in its state change (`'failed'`). */
const item = (outboxId: number, outcome: PublishOutcome | 'failed'): { outboxId: number; settled: PromiseSettledResult<PublishOutcome> } => ({
  outboxId,
  settled: outcome === 'failed' ? { status: 'rejected', reason: new Error('state change failed') } : { status: 'fulfilled', value: outcome },
});

describe('judging the rows of a relay round', () => {
  it('completes a row of several events only when the broker took every one', () => {
    expect(judgeRows([item(1, 'confirmed'), item(2, 'confirmed'), item(2, 'confirmed'), item(2, 'confirmed')])).to.deep.equal({ taken: [1, 2], released: [], reasons: [] });
  });

  it('releases the whole row when the broker refused any of its events, so all go again', () => {
    expect(judgeRows([item(7, 'confirmed'), item(7, 'nacked'), item(7, 'confirmed'), item(8, 'returned')])).to.deep.equal({ taken: [8], released: [7], reasons: ['nacked'] });
  });

  it('leaves a row claimed (until its lease ends) when a state change of it failed, whatever else happened', () => {
    expect(judgeRows([item(3, 'failed'), item(4, 'returned'), item(4, 'nacked'), item(4, 'failed'), item(5, 'connection-lost'), item(5, 'nacked')])).to.deep.equal({
      taken: [],
      released: [5],
      reasons: ['connection-lost', 'nacked'], // row 5's: row 4 is not released
    });
  });

  it('keeps claim order and names no row twice', () => {
    expect(judgeRows([item(9, 'confirmed'), item(2, 'nacked'), item(9, 'confirmed'), item(4, 'confirmed')]).taken).to.deep.equal([9, 4]);
  });
});
