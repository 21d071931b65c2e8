import { expect } from 'chai';
import { checkLedger } from './support/ledger.js';

const ids = (...xs: string[]) => new Set(xs);

describe('faults checker: every accepted letter is accounted for', () => {
  it('holds when every accepted letter is filed once, escalated or rejected', () => {
    const verdict = checkLedger({
      accepted: ids('a', 'b', 'c'),
      filed: new Map([['a', 1]]),
      states: new Map([
        ['a', 'filed'],
        ['b', 'escalated'],
        ['c', 'rejected'],
      ]),
      duplicateDeliveries: 4,
    });
    expect(verdict.problems).to.deep.equal([]);
    expect(verdict.ok).to.equal(true);
    expect(verdict.figures).to.deep.equal({ accepted: 3, filed: 1, escalated: 1, rejected: 1, closedByPeople: 0, duplicatesDelivered: 4, duplicatesFiled: 0 });
  });

  it('fails on a lost letter, a double filing, a stray filing, a false "filed" and an unsettled letter', () => {
    const verdict = checkLedger({
      accepted: ids('lost', 'twice', 'claimed', 'open'),
      filed: new Map([
        ['twice', 2],
        ['stray', 1],
        ['open', 1],
      ]),
      states: new Map([
        ['lost', 'dispatched'],
        ['twice', 'filed'],
        ['claimed', 'filed'],
        ['open', 'delivered'],
      ]),
    });
    expect(verdict.ok).to.equal(false);
    expect(verdict.problems).to.have.length(5);
    expect(verdict.problems.join('\n')).to.contain('(lost): lost').and.contain('more than once: twice').and.contain('never accepted: stray');
    expect(verdict.problems.join('\n')).to.contain('never filed: claimed').and.contain('not settled (not final, not escalated): lost, open');
    expect(verdict.figures.duplicatesFiled).to.equal(1);
  });
});
