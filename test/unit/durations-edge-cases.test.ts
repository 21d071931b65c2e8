import { expect } from 'chai';
import { parseDurationMs } from '../../src/domain/durations.js';

/** Cases beyond the basic ones in durations.test.ts: combinations, precision and refusals with their reasons. */
describe('parseDurationMs: edge cases', () => {
  const accepted: readonly (readonly [string, number])[] = [
    ['PT1.25S', 1250],
    ['PT0S', 0],
    ['P1DT2H3M4.005S', 93_784_005],
    ['PT90M', 5_400_000],
    ['P3650D', 315_360_000_000],
  ];
  for (const [text, ms] of accepted) {
    it(`${text} = ${ms} ms`, () => expect(parseDurationMs(text)).to.equal(ms));
  }

  const refused: readonly (readonly [string, string])[] = [
    ['P1Y2M3D', 'years and months have no fixed length'],
    ['P1WT2H', 'weeks mixed with time'],
    ['P1DT', 'a dangling T'],
    ['PT1H30', 'a number without designator'],
    ['PT30M1H', 'components out of order'],
    ['PT0.5M', 'fractions other than seconds'],
    ['PT0,5S', 'a decimal comma'],
    ['-PT1M', 'negative'],
    [' PT10M', 'surrounding space'],
    ['P99999999999999D', 'beyond safe integer milliseconds'],
  ];
  for (const [text, why] of refused) {
    it(`refuses ${JSON.stringify(text)} (${why})`, () => expect(parseDurationMs(text)).to.equal(undefined));
  }
});
