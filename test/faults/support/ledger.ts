/**
 * The faults suite's checker (issue 6), after Jepsen's total-queue check: what
 * was accepted must all be accounted for. Pure; each scenario fills a Ledger
 * as it runs and calls `checkLedger` at the end.
 *
 * Sets are of MessageHeader ids:
 * - accepted A: every letter Courier answered 202 (or 200: already held);
 * - filed F: letters the practice side filed, with how many times each;
 * - Courier's final word per letter (`states`), read from its API or store.
 * It holds when A = F ∪ E ∪ R (escalated, rejected — and cancelled or
 * resolved, which are people's final word), nothing was filed twice, nothing
 * was filed that was never accepted, Courier calls filed only letters the
 * practice filed, and every letter is settled (final or escalated).
 */
export interface Ledger {
  readonly accepted: ReadonlySet<string>;
  /** MessageHeader id → times the practice side filed it (first sight of each delivery that was filed). */
  readonly filed: ReadonlyMap<string, number>;
  /** MessageHeader id → Courier's state at the end of the scenario. */
  readonly states: ReadonlyMap<string, string>;
  /** Deliveries the practice side saw more than once (allowed: at-least-once delivery, deduped). */
  readonly duplicateDeliveries?: number;
}

export interface LedgerFigures {
  readonly accepted: number;
  readonly filed: number;
  readonly escalated: number;
  readonly rejected: number;
  readonly closedByPeople: number;
  readonly duplicatesDelivered: number;
  readonly duplicatesFiled: number;
}

export interface LedgerVerdict {
  readonly ok: boolean;
  /** Every violation, with up to five ids each (ids only: no clinical content). */
  readonly problems: readonly string[];
  readonly figures: LedgerFigures;
}

const SETTLED = new Set(['filed', 'rejected', 'escalated', 'cancelled', 'resolved']);

export function checkLedger(ledger: Ledger): LedgerVerdict {
  const problems: string[] = [];
  const report = (what: string, ids: readonly string[]): void => {
    if (ids.length > 0) problems.push(`${ids.length} ${what}: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`);
  };
  const stateOf = (id: string): string | undefined => ledger.states.get(id);
  const accepted = [...ledger.accepted];
  const inState = (state: string) => accepted.filter((id) => stateOf(id) === state);

  report('accepted letters neither filed nor escalated nor rejected (lost)', accepted.filter((id) => !ledger.filed.has(id) && !['escalated', 'rejected', 'cancelled', 'resolved'].includes(stateOf(id) ?? '')));
  report('letters filed more than once', [...ledger.filed].filter(([, n]) => n > 1).map(([id]) => id));
  report('letters filed that were never accepted', [...ledger.filed.keys()].filter((id) => !ledger.accepted.has(id)));
  report('letters Courier calls filed that the practice never filed', inState('filed').filter((id) => !ledger.filed.has(id)));
  report('letters not settled (not final, not escalated)', accepted.filter((id) => !SETTLED.has(stateOf(id) ?? 'unknown')));

  return {
    ok: problems.length === 0,
    problems,
    figures: {
      accepted: accepted.length,
      filed: [...ledger.filed.keys()].filter((id) => ledger.accepted.has(id)).length,
      escalated: inState('escalated').length,
      rejected: inState('rejected').length,
      closedByPeople: inState('cancelled').length + inState('resolved').length,
      duplicatesDelivered: ledger.duplicateDeliveries ?? 0,
      duplicatesFiled: [...ledger.filed.values()].filter((n) => n > 1).reduce((sum, n) => sum + n - 1, 0),
    },
  };
}
