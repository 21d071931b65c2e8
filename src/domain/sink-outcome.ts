import { itkPolarity, type AckCode } from './ack-mapping.js';

/** What handing a letter to a practice system's FHIR endpoint came to. */
export type SinkResult =
  /** The endpoint answered; `itkCodes` are the ITK response codes its OperationOutcome or response message carried. */
  | { readonly kind: 'answered'; readonly status: number; readonly itkCodes: readonly string[] }
  /** No answer: timed out, connection refused or reset. */
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
