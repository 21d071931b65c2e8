import type { Bundle, MessageHeader, OperationOutcome } from 'fhir/r4.js';
import { itkPolarity, ITK_RESPONSE_SYSTEM, type AckCode } from './ack-mapping.js';
import { ITK_EVENT_SYSTEM } from './letter-rules.js';
import { ODS_SYSTEM } from './organization-ods.js';

export interface AckMessageInput {
  /** `MessageHeader.id` of the letter being answered. */
  readonly respondsTo: string;
  readonly code: AckCode;
  /** ITK3 response codes for the OperationOutcome (none: no details). */
  readonly itkCodes: readonly string[];
  /** The answering practice's ODS code. */
  readonly practice: string;
  /** Ids for the ack's Bundle, MessageHeader and OperationOutcome (uuids), and its timestamp: the caller owns randomness and the clock. */
  readonly ids: { readonly bundle: string; readonly header: string; readonly outcome: string };
  readonly at: Date;
}

/**
 * The acknowledgement a practice system sends Courier (DESIGN §4): a FHIR
 * message Bundle with an ITK008M MessageHeader whose `response` names the
 * letter, and an OperationOutcome carrying the ITK3 codes. Pure.
 */
export function buildAckMessage(input: AckMessageInput): Bundle {
  const { ids, practice, itkCodes } = input;
  const outcomeUrl = `urn:uuid:${ids.outcome}`;
  const header: MessageHeader = {
    resourceType: 'MessageHeader',
    id: ids.header,
    eventCoding: { system: ITK_EVENT_SYSTEM, code: 'ITK008M' },
    sender: { identifier: { system: ODS_SYSTEM, value: practice } },
    source: { endpoint: `urn:nhs-uk:addressing:ods:${practice}` },
    response: { identifier: input.respondsTo, code: input.code, ...(itkCodes.length > 0 ? { details: { reference: outcomeUrl } } : {}) },
  };
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    id: ids.outcome,
    issue: itkCodes.map((code) => {
      const positive = itkPolarity(code) !== 'negative';
      return {
        severity: positive ? 'information' : 'error',
        code: positive ? 'informational' : 'processing',
        details: { coding: [{ system: ITK_RESPONSE_SYSTEM, code }] },
      };
    }),
  };
  return {
    resourceType: 'Bundle',
    id: ids.bundle,
    type: 'message',
    timestamp: input.at.toISOString(),
    entry: [{ fullUrl: `urn:uuid:${ids.header}`, resource: header }, ...(itkCodes.length > 0 ? [{ fullUrl: outcomeUrl, resource: outcome }] : [])],
  };
}
