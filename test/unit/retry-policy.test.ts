import { expect } from 'chai';
import { backoffBaseMs, backoffMs } from '../../src/domain/retry-policy.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const POLICY = { initialMs: MINUTE, maxMs: HOUR };

describe('retry policy: backoff with equal jitter', () => {
  it('starts at the initial step and doubles per attempt up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((k) => backoffBaseMs(k, POLICY))).to.deep.equal([
      MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, 16 * MINUTE, 32 * MINUTE, HOUR, HOUR,
    ]);
  });

  it('never decreases as attempts grow, even for absurd attempt numbers', () => {
    let previous = 0;
    for (let k = 1; k <= 2000; k++) {
      const base = backoffBaseMs(k, POLICY);
      expect(base).to.be.at.least(previous);
      previous = base;
    }
    expect(backoffBaseMs(1e9, POLICY)).to.equal(HOUR);
    expect(backoffBaseMs(Number.POSITIVE_INFINITY, POLICY)).to.equal(MINUTE);
  });

  it('treats attempts below 1 as attempt 1', () => {
    for (const k of [0, -3, 0.5, Number.NaN]) expect(backoffBaseMs(k, POLICY)).to.equal(MINUTE);
  });

  it('half is fixed, half is random: [base/2, base]', () => {
    expect(backoffMs(1, POLICY, 0)).to.equal(30_000);
    expect(backoffMs(1, POLICY, 0.5)).to.equal(45_000);
    expect(backoffMs(1, POLICY, 0.999_999)).to.equal(59_999);
    expect(backoffMs(20, POLICY, 0)).to.equal(HOUR / 2);
  });

  it('stays within [0, max] and within [⌊base/2⌋, base] for many random inputs', () => {
    let seed = 7;
    const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let i = 0; i < 20_000; i++) {
      const k = 1 + Math.floor(random() * 40);
      const policy = { initialMs: Math.floor(random() * 10 * MINUTE), maxMs: Math.floor(random() * 3 * HOUR) };
      const base = backoffBaseMs(k, policy);
      const wait = backoffMs(k, policy, random());
      expect(Number.isInteger(wait)).to.equal(true);
      expect(wait).to.be.within(Math.floor(base / 2), base);
      expect(wait).to.be.within(0, policy.maxMs);
    }
  });

  it('clamps a random source outside [0, 1) and bad policy values instead of leaving the bounds', () => {
    expect(backoffMs(3, POLICY, -5)).to.equal(2 * MINUTE);
    expect(backoffMs(3, POLICY, 7)).to.equal(4 * MINUTE);
    expect(backoffMs(3, POLICY, Number.NaN)).to.equal(2 * MINUTE);
    expect(backoffMs(3, { initialMs: -1, maxMs: HOUR }, 0.5)).to.equal(0);
    expect(backoffMs(3, { initialMs: MINUTE, maxMs: Number.NaN }, 0.5)).to.equal(0);
    expect(backoffMs(60, { initialMs: Number.MAX_VALUE, maxMs: HOUR }, 0.5)).to.equal(0.75 * HOUR);
  });
});
