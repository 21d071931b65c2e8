import { postMessage, type TestCourier } from '../../support/courier-harness.js';
import type { Letter } from '../../fixtures/letters.js';

/** One letter Courier accepted: its ids, destination and when the 202 came back. */
export interface Accepted {
  readonly trackingId: string;
  readonly messageHeaderId: string;
  readonly destination: string;
  readonly acceptedAt: number;
}

export interface HistoryEntry {
  readonly at: string;
  readonly from: string | null;
  readonly to: string;
  readonly cause: string | null;
}

/**
 * Posts `letters` to Courier, `concurrency` at a time (as a trust's engine
 * sends), and returns them in submission order. Anything but `202` fails the
 * scenario: these scenarios fault the practice side, never ingest.
 */
export async function submitAll(c: TestCourier, letters: readonly Letter[], concurrency = 4): Promise<Accepted[]> {
  const accepted: (Accepted | undefined)[] = new Array<Accepted | undefined>(letters.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < letters.length; i = next++) {
      const letter = letters[i];
      const res = await postMessage(c.baseUrl, letter);
      if (res.status !== 202 || res.location === null) throw new Error(`letter ${i} not accepted: ${res.status}`);
      const header = letter.entry[0].resource;
      accepted[i] = {
        trackingId: res.location.split('/').pop() ?? '',
        messageHeaderId: String(header.id),
        destination: String(header.destination[0].receiver.identifier.value),
        acceptedAt: Date.now(),
      };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return accepted.filter((a): a is Accepted => a !== undefined);
}

export async function historyOf(c: TestCourier, trackingId: string): Promise<HistoryEntry[]> {
  const res = await fetch(`${c.baseUrl}/api/messages/${trackingId}`);
  return ((await res.json()) as { history: HistoryEntry[] }).history;
}

/** When the letter last entered `state` (ms since the epoch), or undefined. */
export function enteredAt(history: readonly HistoryEntry[], state: string): number | undefined {
  const entry = history.findLast((h) => h.to === state);
  return entry === undefined ? undefined : Date.parse(entry.at);
}

/**
 * Waits until every letter of `practices` is settled in Courier (filed,
 * rejected, closed by a person or escalated: the reconciliation's open count
 * equals its escalated count) and `expected` letters are held, polling the
 * reconciliation API; fails after `ms` (the scenario's settle deadline).
 * Resolves with the time it saw them settled.
 */
export async function waitSettled(c: TestCourier, practices: readonly string[], expected: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    let held = 0;
    let unsettled = 0;
    for (const ods of practices) {
      const r = (await (await fetch(`${c.baseUrl}/api/practices/${ods}/reconciliation`)).json()) as { accepted: number; open: number; escalated: number };
      held += r.accepted;
      unsettled += r.open - r.escalated;
    }
    if (held === expected && unsettled === 0) return Date.now();
    if (Date.now() > deadline) throw new Error(`not settled within ${ms} ms: ${held} of ${expected} held, ${unsettled} unsettled`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The q-quantile (0..1) of `values` (nearest rank); 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

/** Milliseconds as seconds with one decimal, for figures. */
export function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

/** Destinations for a mixed stream of letters: round-robin over the practices until each has had its count. */
export function interleave(counts: Readonly<Record<string, number>>): string[] {
  const left = new Map(Object.entries(counts));
  const order: string[] = [];
  while ([...left.values()].some((n) => n > 0)) {
    for (const [ods, n] of left) {
      if (n <= 0) continue;
      order.push(ods);
      left.set(ods, n - 1);
    }
  }
  return order;
}
