import { expect } from 'chai';
import { checkNhsNumber } from '../../src/domain/nhs-number.js';
import { FAILS_MODULUS_11, NO_VALID_CHECK_DIGIT, NOT_DIGITS, NOT_TEN_DIGITS, SENTINEL_NHS_NUMBER, VALID_NHS_NUMBERS, withCheckDigit } from '../fixtures/nhs-numbers.js';

describe('checkNhsNumber (Modulus 11, NHS Data Dictionary)', () => {
  it('accepts the fixture numbers and the NHS documentation example 943 476 5919', () => {
    for (const valid of [...VALID_NHS_NUMBERS, SENTINEL_NHS_NUMBER, '9434765919']) expect(checkNhsNumber(valid), valid).to.equal(valid);
  });

  it('agrees with the fixture generator, whose literals were computed by hand', () => {
    expect(VALID_NHS_NUMBERS.map((n) => withCheckDigit(n.slice(0, 9)))).to.deep.equal([...VALID_NHS_NUMBERS]);
    expect(withCheckDigit(SENTINEL_NHS_NUMBER.slice(0, 9))).to.equal(SENTINEL_NHS_NUMBER);
    expect(withCheckDigit(NO_VALID_CHECK_DIGIT.slice(0, 9))).to.equal(undefined);
  });

  it('refuses a wrong check digit: every tenth digit but the right one', () => {
    for (let d = 0; d <= 9; d++) {
      const candidate = `999000001${d}`;
      expect(checkNhsNumber(candidate), candidate).to.equal(d === 8 ? candidate : undefined);
    }
    expect(checkNhsNumber(FAILS_MODULUS_11)).to.equal(undefined);
  });

  it('treats 11 − (sum mod 11) = 11 as check digit 0', () => {
    // 999000005: 9×10 + 9×9 + 9×8 + 5×2 = 253 = 23 × 11
    expect(checkNhsNumber('9990000050')).to.equal('9990000050');
    expect(checkNhsNumber('9990000051')).to.equal(undefined);
  });

  it('refuses numbers whose check comes to 10, whatever the last digit', () => {
    for (let d = 0; d <= 9; d++) expect(checkNhsNumber(`999000000${d}`)).to.equal(undefined);
  });

  it('matches the generator on the first 2,000 numbers of the 999 range', () => {
    for (let i = 0; i < 2000; i++) {
      const nine = `999${String(i).padStart(6, '0')}`;
      const valid = withCheckDigit(nine);
      for (let d = 0; d <= 9; d++) {
        const candidate = `${nine}${d}`;
        expect(checkNhsNumber(candidate) !== undefined, candidate).to.equal(candidate === valid);
      }
    }
  });

  it('refuses anything but ten ASCII digits', () => {
    for (const bad of [NOT_TEN_DIGITS, NOT_DIGITS, '99900000181', '999 000 0018', '999-000-0018', ' 9990000018', '9990000018\n', '', '９９９０００００１８', '+999000001']) {
      expect(checkNhsNumber(bad), JSON.stringify(bad)).to.equal(undefined);
    }
  });
});
