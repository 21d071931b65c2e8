import { expect } from 'chai';
import { checkNhsNumber } from '../../src/domain/nhs-number.js';
import { FAILS_MODULUS_11, NO_VALID_CHECK_DIGIT, NOT_TEN_DIGITS, SENTINEL_NHS_NUMBER, VALID_NHS_NUMBERS } from '../fixtures/nhs-numbers.js';

describe('checkNhsNumber (Modulus 11)', () => {
  for (const valid of [...VALID_NHS_NUMBERS, SENTINEL_NHS_NUMBER, '9434765919']) {
    it(`accepts ${valid}`, () => expect(checkNhsNumber(valid)).to.equal(valid));
  }
  it('refuses a wrong check digit', () => expect(checkNhsNumber(FAILS_MODULUS_11)).to.equal(undefined));
  it('refuses a number whose check comes to 10', () => expect(checkNhsNumber(NO_VALID_CHECK_DIGIT)).to.equal(undefined));
  it('refuses anything but ten digits', () => {
    for (const bad of [NOT_TEN_DIGITS, '99900000181', '999 000 0018', '999000001a', '', '９９９０００００１８']) expect(checkNhsNumber(bad), bad).to.equal(undefined);
  });
  it('treats a remainder of 11 as check digit 0', () => {
    // 999000006: 9*10+9*9+9*8+6*2 = 255, 255 mod 11 = 2, 11-2 = 9 → …69; find one ending 0:
    const withZero = Array.from({ length: 1000 }, (_, i) => `999${String(i).padStart(6, '0')}0`).find((n) => checkNhsNumber(n) !== undefined);
    expect(withZero).to.be.a('string');
    const digits = [...(withZero ?? '')].map(Number);
    expect(digits.slice(0, 9).reduce((sum, d, i) => sum + d * (10 - i), 0) % 11).to.equal(0);
  });
});
