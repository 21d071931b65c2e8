import { expect } from 'chai';
import { GROWN_TABLE_ROWS, NAPTIME_SECONDS, tableUpkeep, type TableActivity } from '../../src/adapters/store/vacuum.js';

/** Courier's own upkeep follows PostgreSQL's default autovacuum thresholds (src/adapters/store/vacuum.ts). */
describe('own vacuum thresholds', () => {
  const quiet: TableActivity = { table: 'messages', live: 10_000, dead: 0, modifiedSinceAnalyze: 0, insertedSinceVacuum: 0, secondsSinceVacuum: null, secondsSinceAnalyze: null };

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

  describe('a grown table, at most once per autovacuum naptime', () => {
    const grown: TableActivity = { ...quiet, live: GROWN_TABLE_ROWS, secondsSinceVacuum: 5, secondsSinceAnalyze: 5 };
    const due = { dead: 50_000, insertedSinceVacuum: 50_000, modifiedSinceAnalyze: 50_000 };

    it('waits a naptime after its last vacuum, whatever is due', () => {
      expect(tableUpkeep({ ...grown, ...due, secondsSinceVacuum: NAPTIME_SECONDS - 0.1 })).to.equal('none');
      expect(tableUpkeep({ ...grown, ...due, secondsSinceVacuum: NAPTIME_SECONDS })).to.equal('vacuum');
      expect(tableUpkeep({ ...grown, ...due, secondsSinceVacuum: null })).to.equal('vacuum');
    });

    it('vacuums when due even right after an analyze (the vacuum analyzes too)', () => {
      expect(tableUpkeep({ ...grown, dead: 50_000, secondsSinceVacuum: 600, secondsSinceAnalyze: 1 })).to.equal('vacuum');
    });

    it('waits a naptime after its last analyze before analyzing again', () => {
      const changed = { ...grown, modifiedSinceAnalyze: 50_000, secondsSinceVacuum: 600 };
      expect(tableUpkeep({ ...changed, secondsSinceAnalyze: NAPTIME_SECONDS - 1 })).to.equal('none');
      expect(tableUpkeep({ ...changed, secondsSinceAnalyze: NAPTIME_SECONDS + 1 })).to.equal('analyze');
      expect(tableUpkeep({ ...changed, secondsSinceAnalyze: null })).to.equal('analyze');
    });

    it('a young table is looked at on every round, however recently it was worked on', () => {
      const young = { ...grown, ...due, live: GROWN_TABLE_ROWS - 1 };
      expect(tableUpkeep({ ...young, secondsSinceVacuum: 1 })).to.equal('vacuum');
      expect(tableUpkeep({ ...young, dead: 0, insertedSinceVacuum: 0, secondsSinceVacuum: 1, secondsSinceAnalyze: 1 })).to.equal('analyze');
    });
  });
});
