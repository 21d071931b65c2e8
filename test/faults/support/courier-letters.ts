/** A letter as Courier's tracking API lists it (DESIGN §6), the fields the faults suite reads. */
export interface TrackedLetter {
  readonly trackingId: string;
  readonly messageHeaderId: string;
  readonly destination: string;
  readonly state: string;
  readonly attempts: number;
  readonly sequence: number;
  readonly updatedAt: string;
}

/**
 * Every letter Courier holds, read page by page through its tracking API
 * (`GET /api/messages`), keyed by MessageHeader.id: the scenario reads
 * Courier's word from the outside, as an operator would, also when Courier
 * runs as a child process.
 */
export async function courierLetters(baseUrl: string): Promise<Map<string, TrackedLetter>> {
  const letters = new Map<string, TrackedLetter>();
  let cursor: string | null = null;
  do {
    const res: Response = await fetch(`${baseUrl}/api/messages?limit=500${cursor === null ? '' : `&cursor=${cursor}`}`, { signal: AbortSignal.timeout(20_000) });
    if (res.status !== 200) throw new Error(`GET /api/messages answered ${res.status}`);
    const page = (await res.json()) as { items: TrackedLetter[]; nextCursor: string | null };
    for (const item of page.items) letters.set(item.messageHeaderId, item);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return letters;
}

const SETTLED = new Set(['filed', 'rejected', 'escalated', 'cancelled', 'resolved']);

/** Letters per state, for progress and failure messages. */
export function countStates(letters: ReadonlyMap<string, TrackedLetter>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const letter of letters.values()) counts[letter.state] = (counts[letter.state] ?? 0) + 1;
  return counts;
}

/** True when every one of `ids` is held and settled (final, or escalated to a person). */
export function allSettled(letters: ReadonlyMap<string, TrackedLetter>, ids: Iterable<string>): boolean {
  for (const id of ids) if (!SETTLED.has(letters.get(id)?.state ?? 'missing')) return false;
  return true;
}

/**
 * Polls Courier until every one of `ids` is settled, or fails after `ms` —
 * the scenario's settle deadline, its only timed assertion. Resolves the
 * letters as last read and how long it took. A failed read (Courier
 * restarting, the store away) is retried until the deadline.
 */
export async function waitUntilSettled(baseUrl: () => string, ids: ReadonlySet<string>, ms: number): Promise<{ letters: Map<string, TrackedLetter>; settleMs: number }> {
  const started = Date.now();
  let last = new Map<string, TrackedLetter>();
  let lastError = '';
  for (;;) {
    try {
      last = await courierLetters(baseUrl());
      if (allSettled(last, ids)) return { letters: last, settleMs: Date.now() - started };
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() - started > ms) {
      throw new Error(`letters not settled within ${ms} ms: states ${JSON.stringify(countStates(last))} of ${ids.size} accepted${lastError === '' ? '' : `; last read error: ${lastError}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** MessageHeader id → state, for `checkLedger`. */
export function statesOf(letters: ReadonlyMap<string, TrackedLetter>): Map<string, string> {
  return new Map([...letters].map(([id, letter]) => [id, letter.state]));
}
