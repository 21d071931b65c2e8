/**
 * One problem found in an input, ready to become an OperationOutcome issue.
 * `diagnostics` is written by Courier and never contains input values (no
 * NHS numbers, names or free text from the letter); `expression` is a
 * FHIRPath-style location such as `Bundle.entry[0].resource.destination[0]`.
 */
export interface ValidationIssue {
  readonly severity: 'fatal' | 'error' | 'warning' | 'information';
  /** FHIR IssueType code: structure, invalid, required, value, not-supported, business-rule, duplicate, conflict, too-long, processing, not-found, exception, security, login, forbidden, transient, throttled, informational. */
  readonly code: IssueType;
  readonly diagnostics: string;
  readonly expression: readonly string[];
}

export type IssueType =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'invariant'
  | 'security'
  | 'login'
  | 'forbidden'
  | 'not-supported'
  | 'duplicate'
  | 'not-found'
  | 'too-long'
  | 'business-rule'
  | 'conflict'
  | 'transient'
  | 'throttled'
  | 'exception'
  | 'processing'
  | 'informational';
