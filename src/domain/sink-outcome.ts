import type { OperationOutcome } from 'fhir/r4.js';
import { itkPolarity, type AckCode } from './ack-mapping.js';
import { itkCodesOf } from './ack-rules.js';

/** What handing a letter to a practice system (a sink) came to. */
export type SinkResult =
  /** A FHIR endpoint answered; `itkCodes` are the ITK response codes its OperationOutcome or response message carried. */
  | { readonly kind: 'answered'; readonly status: number; readonly itkCodes: readonly string[] }
  /** Written durably where the practice system picks it up (a folder): received, not yet filed. */
  | { readonly kind: 'stored' }
  /** No answer: timed out, connection refused or reset, or the folder could not be written. */
  | { readonly kind: 'no-answer' };

export interface ConnectorAck {
  readonly code: AckCode;
  readonly itkCodes: readonly string[];
}

export type SinkDecision =
  /** Send these acks to Courier (in order), then ack the letter to the broker. */
  | { readonly kind: 'acknowledge'; readonly acks: readonly ConnectorAck[] }
  /** Leave the letter unacked (the broker gives it back) and try again after a backoff. */
  | { readonly kind: 'retry' };

/** Statuses that mean "not now" rather than "never": request timeout, too early, too many requests. */
const TRY_LATER = new Set([408, 425, 429]);

/**
 * The connector's decision for one attempt (issue 5), pure:
 * - stored (folder) → `20013`; the business ack follows when the practice
 *   system files it.
 * - 2xx → `20013`; also `30001` (or `30004`) when the endpoint says it is
 *   filed; a negative ITK code in a 2xx answer is a refusal (`fatal-error`).
 * - 4xx (except 408/425/429) → `fatal-error` with the negative ITK codes the
 *   endpoint gave (e.g. `30002` patient not known): re-sending the same
 *   letter cannot succeed.
 * - 5xx, 408/425/429, timeouts and connection errors → retry; from attempt
 *   `retryLimit` on, `transient-error` so Courier's own retries and
 *   escalation take over.
 */
export function sinkDecision(result: SinkResult, attempt: number, retryLimit: number): SinkDecision {
  if (result.kind === 'stored') return acknowledge({ code: 'ok', itkCodes: ['20013'] });
  const codes = result.kind === 'answered' ? [...new Set(result.itkCodes)] : [];
  const negative = codes.filter((c) => itkPolarity(c) === 'negative');
  if (result.kind === 'answered' && result.status >= 200 && result.status < 300) {
    if (negative.length > 0) return acknowledge({ code: 'fatal-error', itkCodes: negative });
    const filed = codes.filter((c) => itkPolarity(c) === 'business-success');
    return filed.length > 0 ? acknowledge({ code: 'ok', itkCodes: ['20013'] }, { code: 'ok', itkCodes: filed }) : acknowledge({ code: 'ok', itkCodes: ['20013'] });
  }
  if (result.kind === 'answered' && result.status >= 400 && result.status < 500 && !TRY_LATER.has(result.status)) {
    return acknowledge({ code: 'fatal-error', itkCodes: negative });
  }
  return attempt >= retryLimit ? acknowledge({ code: 'transient-error', itkCodes: [] }) : { kind: 'retry' };
}

function acknowledge(...acks: ConnectorAck[]): SinkDecision {
  return { kind: 'acknowledge', acks };
}

/**
 * The ITK response codes in a FHIR endpoint's answer (parsed JSON, shape
 * unknown): an OperationOutcome's, or those of every OperationOutcome entry of
 * a Bundle (a `$process-message` response message). Anything else has none.
 */
export function itkCodesOfAnswer(answer: unknown): string[] {
  if (!isResource(answer)) return [];
  if (answer.resourceType === 'OperationOutcome') return outcomeCodes(answer);
  if (answer.resourceType !== 'Bundle' || !Array.isArray(answer.entry)) return [];
  return answer.entry.flatMap((entry: unknown) => {
    const resource = typeof entry === 'object' && entry !== null && 'resource' in entry ? entry.resource : undefined;
    return isResource(resource) && resource.resourceType === 'OperationOutcome' ? outcomeCodes(resource) : [];
  });
}

function isResource(value: unknown): value is { resourceType: unknown; entry?: unknown } {
  return typeof value === 'object' && value !== null && 'resourceType' in value;
}

function outcomeCodes(value: object): string[] {
  const issues = 'issue' in value && Array.isArray(value.issue) ? (value.issue as unknown[]) : [];
  const wellFormed = issues.filter((i): i is OperationOutcome['issue'][number] => typeof i === 'object' && i !== null);
  return itkCodesOf({ resourceType: 'OperationOutcome', issue: wellFormed.map((i) => ({ ...i, details: { coding: codingsOf(i.details) } })) });
}

function codingsOf(details: unknown): { system?: string; code?: string }[] {
  const coding = typeof details === 'object' && details !== null && 'coding' in details && Array.isArray(details.coding) ? (details.coding as unknown[]) : [];
  return coding
    .filter((c): c is { system?: unknown; code?: unknown } => typeof c === 'object' && c !== null)
    .flatMap((c) => (typeof c.system === 'string' && typeof c.code === 'string' ? [{ system: c.system, code: c.code }] : []));
}
