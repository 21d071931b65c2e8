import type { ValidationIssue } from '../domain/validation-issue.js';

/**
 * The closed catalogue of Courier's errors. Callers decide from the class or
 * `code`, never from message text. Messages are written by Courier and hold
 * ids and codes only, never input values or clinical content.
 * The HTTP adapter maps each code to a status in one table (adapters/http/error-status.ts).
 */
export type ErrorCode =
  | 'unsupported-media-type'
  | 'payload-too-large'
  | 'malformed-request'
  | 'profile-violation'
  | 'duplicate-conflict'
  | 'not-found'
  | 'invalid-transition'
  | 'unauthenticated'
  | 'forbidden'
  | 'store-unavailable'
  | 'broker-unavailable'
  | 'store-locked'
  | 'overloaded'
  | 'config-invalid'
  | 'internal';

export class CourierError extends Error {
  readonly code: ErrorCode;
  /** Issues for the OperationOutcome; when empty the message becomes the single issue. */
  readonly issues: readonly ValidationIssue[];

  constructor(code: ErrorCode, message: string, options: { issues?: readonly ValidationIssue[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.issues = options.issues ?? [];
  }
}

/** 415: the Content-Type is missing or not FHIR JSON. */
export class UnsupportedMediaTypeError extends CourierError {
  constructor(message: string) {
    super('unsupported-media-type', message);
  }
}

/** 413: the (decompressed) body is larger than `http.maxBodyBytes`. */
export class PayloadTooLargeError extends CourierError {
  constructor(limitBytes: number) {
    super('payload-too-large', `Request body exceeds the limit of ${limitBytes} bytes`);
  }
}

/** 400: not JSON, duplicate keys, or not a valid FHIR R4 Bundle by the HL7 schema. */
export class MalformedRequestError extends CourierError {
  constructor(message: string, issues: readonly ValidationIssue[] = [], cause?: unknown) {
    super('malformed-request', message, { issues, cause });
  }
}

/** 422: a valid FHIR Bundle that breaks Courier's profile or business rules. */
export class ProfileViolationError extends CourierError {
  constructor(issues: readonly ValidationIssue[]) {
    super('profile-violation', 'The message breaks Courier profile rules', { issues });
  }
}

/** 409: the same MessageHeader.id (or sender + Bundle.identifier) with different content. */
export class DuplicateConflictError extends CourierError {
  constructor(readonly trackingId: string) {
    super('duplicate-conflict', `A different message with this identity is already held as ${trackingId}`);
  }
}

export class NotFoundError extends CourierError {
  constructor(what: string) {
    super('not-found', `${what} not found`);
  }
}

/** 409 on operator actions that the current state does not allow. */
export class InvalidTransitionError extends CourierError {
  constructor(message: string) {
    super('invalid-transition', message);
  }
}

/** 503: the store did not answer; nothing was accepted. */
export class StoreUnavailableError extends CourierError {
  constructor(cause?: unknown) {
    super('store-unavailable', 'The message store is unavailable; nothing was accepted, please resend', { cause });
  }
}

/** 503: the broker is down; Courier refuses custody until it is back. */
export class BrokerUnavailableError extends CourierError {
  constructor(cause?: unknown) {
    super('broker-unavailable', 'The message broker is unavailable; nothing was accepted, please resend', { cause });
  }
}

/** 503: Courier holds as many incoming messages as it takes at once; nothing was accepted. */
export class OverloadedError extends CourierError {
  constructor() {
    super('overloaded', 'Courier is taking in as many messages as it can at once; nothing was accepted, please resend shortly');
  }
}

/** Start-up: another live process holds the embedded store's data directory. */
export class StoreLockedError extends CourierError {
  constructor(message: string) {
    super('store-locked', message);
  }
}

/** Start-up: configuration failed validation; the message lists every problem with its key path. */
export class ConfigInvalidError extends CourierError {
  constructor(readonly problems: readonly string[]) {
    super('config-invalid', `Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}
