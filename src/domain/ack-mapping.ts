import type { AckEvent } from './delivery-events.js';

/**
 * Turning a practice's acknowledgement into a delivery event (DESIGN §4).
 *
 * Facts about the ITK3 response codes (code system
 * `https://fhir.nhs.uk/STU3/CodeSystem/ITK-ResponseCodes-1`), from NHS
 * Digital's ITK3 Messaging Distribution specification ("ITK3 Response Codes")
 * and the UK Core copy of the code system (UKCore-ITKResponseCode):
 * - prefixes 1 and 2 are infrastructure-level codes, prefix 3 business-level;
 * - 20013 "Success" is the only positive infrastructure code: every other 1xxxx
 *   and 2xxxx code is an error (e.g. 20002 unrecognised recipient organisation,
 *   20007 duplicate message, 20009 payload validation failure);
 * - 30001 "Patient known here" and 30004 "Patient known here and recently
 *   deceased" are positive business responses; 30002 "Patient not known here"
 *   and 30003 "Patient no longer at this clinical setting" are negative;
 * - "All negative response codes are deemed to be fatal": no further response
 *   follows one, so waiting for another ack after a negative code is pointless.
 */
export const ITK_RESPONSE_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/ITK-ResponseCodes-1';

/** The response code of `MessageHeader.response.code`. */
export type AckCode = 'ok' | 'transient-error' | 'fatal-error';

/** An acknowledgement as the ack consumer extracted it: `itkCodes` are the codes from ITK_RESPONSE_SYSTEM only. */
export interface Ack {
  readonly code: AckCode;
  readonly itkCodes: readonly string[];
}

export type AckMapping =
  | { readonly kind: 'event'; readonly event: AckEvent }
  /** The ack cannot be trusted to mean anything: record it, change nothing. */
  | { readonly kind: 'unrecognised'; readonly reason: string };

const MAX_LISTED = 5;

export type Polarity = 'infrastructure-success' | 'business-success' | 'negative';

/** The known codes: [code, polarity, display]. Displays are the code system's, shortened. */
const KNOWN: readonly (readonly [string, Polarity, string])[] = [
  ['10001', 'negative', 'Handling Specification Error'],
  ['10002', 'negative', 'Infrastructure Level Response Value - Processing Error'],
  ['10003', 'negative', 'Business Level Response Value - Processing Error'],
  ['10004', 'negative', 'Message Definition Value - Processing Error'],
  ['10005', 'negative', 'Message Definition Version Value - Processing Error'],
  ['10006', 'negative', 'Priority Value - Processing Error'],
  ['10007', 'negative', 'Sender Reference Value - Processing Error'],
  ['10008', 'negative', 'Handling Specification Business Rule Error'],
  ['10009', 'negative', 'Unreadable message received'],
  ['10010', 'negative', 'Recipient Type - Processing Error'],
  ['20001', 'negative', 'Unrecognised Recipient Person'],
  ['20002', 'negative', 'Unrecognised Recipient Organisation'],
  ['20003', 'negative', 'Unrecognised Sender'],
  ['20004', 'negative', 'Non-Approved file type received as an attachment'],
  ['20005', 'negative', 'Unsupported file type received as an attachment'],
  ['20006', 'negative', 'ITK header validation failure'],
  ['20007', 'negative', 'Duplicate Message received'],
  ['20008', 'negative', 'Duplicate Document received'],
  ['20009', 'negative', 'Payload validation failure'],
  ['20010', 'negative', 'Unrecognised Payload Recipient Organisation'],
  ['20011', 'negative', 'Unrecognised Payload Recipient Person'],
  ['20012', 'negative', 'Unauthorised Sender'],
  ['20013', 'infrastructure-success', 'Success'],
  ['20014', 'negative', 'Unable to Process Replacement Document'],
  ['20015', 'negative', 'Message too large'],
  ['30001', 'business-success', 'Patient known here'],
  ['30002', 'negative', 'Patient not known here'],
  ['30003', 'negative', 'Patient no longer at this clinical setting'],
  ['30004', 'business-success', 'Patient known here and recently deceased'],
];

const ITK_CODES: ReadonlyMap<string, { readonly polarity: Polarity; readonly display: string }> = new Map(
  KNOWN.map(([code, polarity, display]) => [code, { polarity, display }]),
);

/**
 * Maps an acknowledgement to the event it means. `response.code` decides
 * first, the ITK codes refine an `ok`:
 *
 * | ack | result |
 * |---|---|
 * | `transient-error` (any codes) | `transient-error` — the sender of the ack chose "try again" |
 * | `fatal-error` (any codes, or none) | `rejected` — FHIR: "no point in re-sending without change" |
 * | `ok` + any negative ITK code | `rejected` — contradictory, but ITK says every negative code is fatal and final: no other ack will follow, and filing or waiting would hide the refusal |
 * | `ok` + an unknown code | `unrecognised` — an unknown code must not file (final) a letter; the timers and the deadline still guard it |
 * | `ok` + 30001 / 30004 (with or without 20013) | `business-ack` — filed implies delivered |
 * | `ok` + 20013 only | `infrastructure-ack` |
 * | `ok` without codes | `business-ack` (DESIGN §4) |
 */
export function mapAck(ack: Ack): AckMapping {
  const codes = [...new Set(ack.itkCodes.map((c) => c.trim()))];
  if (ack.code === 'transient-error') return event({ kind: 'transient-error', reason: describe('transient-error', codes) });
  if (ack.code === 'fatal-error') return event({ kind: 'rejected', reason: describe('fatal-error', codes) });
  const negative = codes.filter((c) => ITK_CODES.get(c)?.polarity === 'negative');
  if (negative.length > 0) return event({ kind: 'rejected', reason: describe('ok with negative ITK code', negative) });
  const unknown = codes.filter((c) => !ITK_CODES.has(c));
  if (unknown.length > 0) {
    return { kind: 'unrecognised', reason: `ok with unknown ITK response code ${listed(unknown.map(printable), ', ')}: not applied` };
  }
  if (codes.some((c) => ITK_CODES.get(c)?.polarity === 'business-success') || codes.length === 0) {
    return event({ kind: 'business-ack' });
  }
  return event({ kind: 'infrastructure-ack' });
}

/** Whether a known ITK response code says received, filed or refused; undefined for unknown codes. */
export function itkPolarity(code: string): Polarity | undefined {
  return ITK_CODES.get(code)?.polarity;
}

/** The code system's display for a code, if Courier knows it. */
export function itkCodeDisplay(code: string): string | undefined {
  return ITK_CODES.get(code)?.display;
}

function event(e: AckEvent): AckMapping {
  return { kind: 'event', event: e };
}

/** e.g. "fatal-error: 30002 Patient not known here". Codes only, never free text from the ack. */
function describe(prefix: string, codes: readonly string[]): string {
  if (codes.length === 0) return `${prefix} without an ITK response code`;
  return `${prefix}: ${listed(codes.map((c) => (ITK_CODES.has(c) ? `${c} ${ITK_CODES.get(c)?.display ?? ''}` : printable(c))), '; ')}`;
}

/** At most a few items, so a hostile ack cannot make a reason of any length. */
function listed(items: readonly string[], separator: string): string {
  const shown = items.slice(0, MAX_LISTED).join(separator);
  return items.length > MAX_LISTED ? `${shown}${separator}and ${items.length - MAX_LISTED} more` : shown;
}

/**
 * An unknown code from outside, for logs and events: ITK codes are five
 * digits, so anything else is not repeated (it could be any text, even an
 * NHS number put in the wrong field).
 */
function printable(code: string): string {
  return /^\d{5}$/.test(code) ? code : '(malformed code)';
}
