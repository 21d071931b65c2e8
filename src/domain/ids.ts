/**
 * Branded identifiers. A plain string becomes one of these only through the
 * narrowing functions below (or a validator), so an ODS code can never be
 * passed where a tracking id is expected.
 */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Courier's own id for an accepted letter (a UUID). */
export type TrackingId = Brand<string, 'TrackingId'>;
/** NHS Organisation Data Service code of a GP practice, upper case. */
export type OdsCode = Brand<string, 'OdsCode'>;
/** A 10-digit NHS number that passed the Modulus 11 check. Never logged. */
export type NhsNumber = Brand<string, 'NhsNumber'>;
/** `MessageHeader.id` of a FHIR message: the sender's id, and the dedupe key. */
export type MessageHeaderId = Brand<string, 'MessageHeaderId'>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** ODS codes are 3–10 upper-case letters and digits (practices are usually 6, e.g. A81001). */
const ODS = /^[A-Z0-9]{3,10}$/;
/** FHIR `id` datatype. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export function isTrackingId(value: string): value is TrackingId {
  return UUID.test(value);
}

export function isOdsCode(value: string): value is OdsCode {
  return ODS.test(value);
}

export function isMessageHeaderId(value: string): value is MessageHeaderId {
  return FHIR_ID.test(value);
}
