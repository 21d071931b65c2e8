import type { MessageHeader, OperationOutcome } from 'fhir/r4.js';
import { ITK_RESPONSE_SYSTEM, type Ack } from './ack-mapping.js';
import { resolveInBundle } from './bundle-references.js';
import { isMessageHeaderId, isOdsCode, type OdsCode } from './ids.js';
import type { Bundle } from './letter-rules.js';
import { odsOfReference } from './organization-ods.js';
import type { ValidationIssue } from './validation-issue.js';

/** An acknowledgement (DESIGN §4) extracted from a valid R4 message Bundle: ids and codes only. */
export interface AckFacts extends Ack {
  /** The ack's own MessageHeader.id. */
  readonly messageHeaderId: string;
  /** `MessageHeader.response.identifier`: the MessageHeader.id of the letter acknowledged. */
  readonly respondsTo: string;
  /**
   * The acknowledging practice as the ack claims it (`MessageHeader.sender`:
   * its ODS identifier, or the Organization entry it references), or null
   * when it names none, a malformed one, or two that disagree.
   */
  readonly senderOds: OdsCode | null;
}

export type AckCheck = { ok: true; ack: AckFacts } | { ok: false; issues: ValidationIssue[] };

const HEADER = 'Bundle.entry[0].resource';

/** An ack is a message whose MessageHeader carries `response`, whatever its event (DESIGN §4: ITK008M, or any with `response`). */
export function isAckMessage(bundle: Bundle): boolean {
  const header = bundle.entry?.[0]?.resource;
  return bundle.type === 'message' && header?.resourceType === 'MessageHeader' && header.response !== undefined;
}

/**
 * Extracts an acknowledgement from a schema-valid message Bundle. The event
 * code is not checked: `response` makes it an ack. `itkCodes` are the codes
 * of system ITK_RESPONSE_SYSTEM in `issue[].details.coding` of the
 * OperationOutcome that `response.details` references, in order.
 */
export function checkAck(bundle: Bundle): AckCheck {
  const header = bundle.entry?.[0]?.resource;
  if (bundle.type !== 'message') return fail('business-rule', 'An acknowledgement is a Bundle of type message', 'Bundle.type');
  if (header?.resourceType !== 'MessageHeader') return fail('business-rule', 'An acknowledgement starts with a MessageHeader entry', HEADER);
  if (header.id === undefined) return fail('required', 'MessageHeader.id is required', `${HEADER}.id`);
  if (!isMessageHeaderId(header.id)) return fail('value', 'MessageHeader.id is not a valid FHIR id', `${HEADER}.id`);
  const response = header.response;
  if (response === undefined) return fail('required', 'MessageHeader.response is required in an acknowledgement', `${HEADER}.response`);
  if (!isMessageHeaderId(response.identifier)) {
    return fail('value', 'response.identifier must be the MessageHeader.id of the letter acknowledged', `${HEADER}.response.identifier`);
  }
  let itkCodes: string[] = [];
  if (response.details !== undefined) {
    const outcome = resolveInBundle(bundle.entry, response.details, 'Bundle.entry')?.resource;
    const path = response.details.reference === undefined ? `${HEADER}.response.details` : `${HEADER}.response.details.reference`;
    if (outcome === undefined) return fail('not-found', 'response.details does not resolve to an entry in the Bundle', path);
    if (outcome.resourceType !== 'OperationOutcome') return fail('business-rule', 'response.details must reference an OperationOutcome', path);
    itkCodes = itkCodesOf(outcome);
  }
  return {
    ok: true,
    ack: { messageHeaderId: header.id, respondsTo: response.identifier, code: response.code, itkCodes, senderOds: senderOds(bundle, header) },
  };
}

/** The ITK3 response codes (system ITK_RESPONSE_SYSTEM) in an OperationOutcome's `issue[].details.coding`, in order. */
export function itkCodesOf(outcome: OperationOutcome): string[] {
  const codes: string[] = [];
  for (const issue of outcome.issue) {
    for (const coding of issue.details?.coding ?? []) {
      if (coding.system === ITK_RESPONSE_SYSTEM && coding.code !== undefined) codes.push(coding.code);
    }
  }
  return codes;
}

function senderOds(bundle: Bundle, header: MessageHeader): OdsCode | null {
  const { direct, onOrganization } = odsOfReference(bundle.entry, header.sender, `${HEADER}.sender`);
  if (direct !== undefined && onOrganization !== undefined && direct.value !== onOrganization.value) return null;
  const value = direct?.value ?? onOrganization?.value;
  return value !== undefined && isOdsCode(value) ? value : null;
}

function fail(code: ValidationIssue['code'], diagnostics: string, expression: string): AckCheck {
  return { ok: false, issues: [{ severity: 'error', code, diagnostics, expression: [expression] }] };
}
