import { appendFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LedgerFigures } from './ledger.js';

const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));

/**
 * Prints one scenario's figures (the faults suite always does: they are its
 * findings) and appends them as a JSON line to test/faults/results/latest.jsonl
 * (git-ignored) for the issue note. Ids and counts only.
 */
export function reportFigures(scenario: string, figures: LedgerFigures, settleMs: number, extra: Record<string, number | string> = {}): void {
  const line = { scenario, ...figures, settleSeconds: Math.round(settleMs / 100) / 10, ...extra, at: new Date().toISOString() };
  process.stdout.write(`\n    [faults] ${JSON.stringify(line)}\n`);
  mkdirSync(RESULTS, { recursive: true });
  appendFileSync(`${RESULTS}latest.jsonl`, `${JSON.stringify(line)}\n`);
}
