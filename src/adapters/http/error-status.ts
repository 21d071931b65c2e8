import type { ErrorCode } from '../../app/errors.js';
import type { IssueType } from '../../domain/validation-issue.js';

/**
 * The one table from Courier error codes to HTTP statuses and FHIR issue
 * types. Only the HTTP adapter knows about statuses.
 */
export const ERROR_STATUS: Readonly<Record<ErrorCode, { status: number; issueType: IssueType }>> = {
  'unsupported-media-type': { status: 415, issueType: 'not-supported' },
  'payload-too-large': { status: 413, issueType: 'too-long' },
  'malformed-request': { status: 400, issueType: 'structure' },
  'profile-violation': { status: 422, issueType: 'business-rule' },
  'duplicate-conflict': { status: 409, issueType: 'duplicate' },
  'not-found': { status: 404, issueType: 'not-found' },
  'invalid-transition': { status: 409, issueType: 'business-rule' },
  unauthenticated: { status: 401, issueType: 'login' },
  forbidden: { status: 403, issueType: 'forbidden' },
  'store-unavailable': { status: 503, issueType: 'transient' },
  'broker-unavailable': { status: 503, issueType: 'transient' },
  'store-locked': { status: 503, issueType: 'transient' },
  'config-invalid': { status: 500, issueType: 'exception' },
  internal: { status: 500, issueType: 'exception' },
};
