/**
 * Gap detection on `x-courier-sequence` (DESIGN §3: per practice, gap-free
 * from 1, kept on every redelivery), for a receiver that must notice a
 * letter it never got. Pure: the caller keeps the state (durably) and the clock.
 *
 * Letters may arrive out of order (redeliveries, several consumers), so a
 * missing number is only reported once it has stayed missing for a grace
 * period; a late arrival fills it silently.
 */
export interface SequenceState {
  /** The highest sequence number seen. */
  readonly highest: number;
  /** Numbers below `highest` not yet seen, with when each was first noticed missing. */
  readonly missing: ReadonlyMap<number, Date>;
}

/** At most this many missing numbers are tracked; a jump beyond it is one huge gap, reported as its first numbers. */
export const MAX_TRACKED_GAPS = 10_000;

/**
 * The state after seeing `sequence` at `now`. With no state yet (a receiver
 * starting on a queue whose earlier letters went elsewhere), the first number
 * seen is the baseline: nothing before it counts as missing.
 */
export function observeSequence(state: SequenceState | undefined, sequence: number, now: Date): SequenceState {
  if (!Number.isSafeInteger(sequence) || sequence < 1) return state ?? { highest: 0, missing: new Map() };
  if (state === undefined) return { highest: sequence, missing: new Map() };
  if (sequence <= state.highest) {
    if (!state.missing.has(sequence)) return state; // a redelivery of something already seen
    const missing = new Map(state.missing);
    missing.delete(sequence);
    return { highest: state.highest, missing };
  }
  const missing = new Map(state.missing);
  for (let n = state.highest + 1; n < sequence && missing.size < MAX_TRACKED_GAPS; n++) missing.set(n, now);
  return { highest: sequence, missing };
}

/** Missing numbers that have stayed missing for at least `graceMs`, ascending. */
export function overdueGaps(state: SequenceState, now: Date, graceMs: number): number[] {
  return [...state.missing]
    .filter(([, noticed]) => now.getTime() - noticed.getTime() >= graceMs)
    .map(([n]) => n)
    .sort((a, b) => a - b);
}
