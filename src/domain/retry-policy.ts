/**
 * Backoff between delivery attempts (DESIGN §5): exponential from
 * `delivery.backoff.initial`, doubling per attempt, capped at
 * `delivery.backoff.max`, with jitter.
 *
 * Jitter is "equal jitter": half of the capped exponential step is fixed and
 * the other half is random. The fixed half guarantees a real pause before the
 * next attempt (full jitter can pick ~0 and hammer a practice system that just
 * failed); the random half spreads the retries of many letters to the same
 * practice, which all failed together during one outage, so they do not all
 * come back in the same second.
 *
 * Pure: the random number is an argument, never Math.random().
 */
export interface BackoffPolicy {
  /** Step for attempt 1, in milliseconds. */
  readonly initialMs: number;
  /** Upper bound of every step, in milliseconds. */
  readonly maxMs: number;
}

/** 2^52 already exceeds any sane cap; stopping there keeps the arithmetic finite. */
const MAX_DOUBLINGS = 52;

/**
 * The un-jittered step after attempt `attempt` (1-based): initialMs · 2^(attempt−1),
 * capped at maxMs. Non-decreasing in `attempt`; attempts below 1 count as 1.
 * Negative or non-finite policy values count as 0.
 */
export function backoffBaseMs(attempt: number, policy: BackoffPolicy): number {
  const initial = nonNegative(policy.initialMs);
  const max = nonNegative(policy.maxMs);
  const doublings = Math.min(Math.max(Math.floor(Number.isFinite(attempt) ? attempt : 1) - 1, 0), MAX_DOUBLINGS);
  return Math.min(max, initial * 2 ** doublings);
}

/**
 * Milliseconds to wait after attempt `attempt` failed before attempt
 * `attempt + 1`: an integer in [⌊base/2⌋, base] where base = backoffBaseMs(attempt),
 * so never below 0 and never above maxMs.
 *
 * @param random a number in [0, 1), e.g. from Math.random() in the app layer;
 *   values outside that range (or NaN) are clamped, so a bad source can never
 *   push the wait outside its bounds.
 */
export function backoffMs(attempt: number, policy: BackoffPolicy, random: number): number {
  const base = backoffBaseMs(attempt, policy);
  const r = Number.isNaN(random) ? 0 : Math.min(Math.max(random, 0), 1);
  return Math.min(base, Math.floor(base / 2 + (r * base) / 2));
}

function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
