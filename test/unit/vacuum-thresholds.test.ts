import { expect } from 'chai';
import { tableUpkeep, type TableActivity } from '../../src/adapters/store/vacuum.js';

/** Courier's own upkeep follows PostgreSQL's default autovacuum thresholds (src/adapters/store/vacuum.ts). */
describe('own vacuum thresholds', () => {
  const quiet: TableActivity = { table: 'messages', live: 10_000, dead: 0, modifiedSinceAnalyze: 0, insertedSinceVacuum: 0 };

  it('does nothing for a table below every threshold', () => {
    expect(tableUpkeep(quiet)).to.equal('none');
    expect(tableUpkeep({ ...quiet, dead: 2_050, modifiedSinceAnalyze: 1_050, insertedSinceVacuum: 3_000 })).to.equal('none');
  });

  it('vacuums once dead rows pass 50 + 20 % of the live ones', () => {
    expect(tableUpkeep({ ...quiet, dead: 2_051 })).to.equal('vacuum');
    expect(tableUpkeep({ ...quiet, live: 0, dead: 51 })).to.equal('vacuum');
  });

  it('vacuums once inserts pass 1,000 + 20 % of the live rows', () => {
    expect(tableUpkeep({ ...quiet, insertedSinceVacuum: 3_001 })).to.equal('vacuum');
  });

  it('analyzes once changes pass 50 + 10 %: a young table after 51 rows, a grown one at every tenth', () => {
    expect(tableUpkeep({ ...quiet, live: 0, modifiedSinceAnalyze: 51 })).to.equal('analyze');
    expect(tableUpkeep({ ...quiet, live: 0, modifiedSinceAnalyze: 50 })).to.equal('none');
    expect(tableUpkeep({ ...quiet, modifiedSinceAnalyze: 1_051 })).to.equal('analyze');
  });
});
