import type { ErrorCode } from './errors.js';

/**
 * What ingest reports for metrics; the Prometheus adapter implements it.
 * Refusals are reported by the HTTP adapter with the error code as the reason,
 * so every refusal, wherever it was raised, is counted once.
 */
export interface IngestObserver {
  validated(seconds: number): void;
  accepted(event: string): void;
  duplicate(): void;
  rejected(reason: ErrorCode): void;
}
