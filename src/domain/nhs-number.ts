import type { NhsNumber } from './ids.js';

/**
 * NHS number check (NHS Data Dictionary): ten digits; the first nine weighted
 * 10 down to 2 and summed; 11 minus the sum modulo 11 is the check digit,
 * with 11 meaning 0 and 10 meaning the number is invalid.
 */
export function checkNhsNumber(value: string): NhsNumber | undefined {
  if (!/^\d{10}$/.test(value)) return undefined;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(value[i]) * (10 - i);
  const remainder = 11 - (sum % 11);
  const check = remainder === 11 ? 0 : remainder;
  if (check === 10 || check !== Number(value[9])) return undefined;
  return value as NhsNumber;
}
