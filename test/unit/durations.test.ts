import { expect } from 'chai';
import { parseDurationMs } from '../../src/domain/durations.js';

describe('parseDurationMs (ISO 8601)', () => {
  const cases: [string, number][] = [
    ['PT10M', 600_000],
    ['PT2S', 2000],
    ['PT0.5S', 500],
    ['PT24H', 86_400_000],
    ['P7D', 604_800_000],
    ['P1DT2H', 93_600_000],
    ['P2W', 1_209_600_000],
    ['PT1H30M15S', 5_415_000],
  ];
  for (const [text, ms] of cases) it(`${text} = ${ms} ms`, () => expect(parseDurationMs(text)).to.equal(ms));
  for (const bad of ['P1Y', 'P1M', 'P', 'PT', '10m', 'PT-1S', 'P1W2D', 'pt10m', '', 'PT1.2345S']) {
    it(`refuses ${JSON.stringify(bad)}`, () => expect(parseDurationMs(bad)).to.equal(undefined));
  }
});
