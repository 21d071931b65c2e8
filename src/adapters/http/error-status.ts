import type { ErrorCode } from '../../app/errors.js';
import type { IssueType } from '../../domain/validation-issue.js';

export interface ErrorAnswer {
  readonly status: number;
  readonly issueType: IssueType;
  /** `Retry-After` for refusals the sender should resend: when it is worth trying again. */
  readonly retryAfterSeconds?: number;
}

/**
 * The one table from Courier error codes to HTTP statuses and FHIR issue
 * types. Only the HTTP adapter knows about statuses.
 */
export const ERROR_STATUS: Readonly<Record<ErrorCode, ErrorAnswer>> = {
  'unsupported-media-type': { status: 415, issueType: 'not-supported' },
  'payload-too-large': { status: 413, issueType: 'too-long' },
  'malformed-request': { status: 400, issueType: 'structure' },
  'profile-violation': { status: 422, issueType: 'business-rule' },
  'duplicate-conflict': { status: 409, issueType: 'duplicate' },
  'not-found': { status: 404, issueType: 'not-found' },
  'invalid-transition': { status: 409, issueType: 'business-rule' },
  unauthenticated: { status: 401, issueType: 'login' },
  forbidden: { status: 403, issueType: 'forbidden' },
  'store-unavailable': { status: 503, issueType: 'transient', retryAfterSeconds: 30 },
  'broker-unavailable': { status: 503, issueType: 'transient', retryAfterSeconds: 30 },
  // A surplus of the moment, not an outage: the messages already admitted are being answered, so room comes back in seconds.
  overloaded: { status: 503, issueType: 'throttled', retryAfterSeconds: 5 },
  'store-locked': { status: 503, issueType: 'transient', retryAfterSeconds: 30 },
  'config-invalid': { status: 500, issueType: 'exception' },
  internal: { status: 500, issueType: 'exception' },
};
