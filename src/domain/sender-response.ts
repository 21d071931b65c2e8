import type { MessageHeader, OperationOutcome } from 'fhir/r4.js';
import { ITK_EVENT_SYSTEM, type Bundle } from './letter-rules.js';

/** What Courier tells a sending trust about a letter that did not get through. */
export interface SenderResponseInput {
  /** New ids for the response's MessageHeader and OperationOutcome (the caller makes them: this module has no randomness). */
  readonly responseId: string;
  readonly outcomeId: string;
  /** The letter's MessageHeader.id. */
  readonly respondsTo: string;
  readonly outcome: 'rejected' | 'escalated';
  /** Courier-written cause or the practice's ITK codes: never clinical content. */
  readonly reason: string;
  readonly at: Date;
  /** The sender's `MessageHeader.source.endpoint` (an http(s) URL). */
  readonly senderEndpoint: string;
  /** Identifies this Courier as the response's source. */
  readonly courierEndpoint: string;
}

/**
 * A FHIR R4 response message (DESIGN §4's ack shape, ITK008M) telling the
 * sender its letter was rejected by the practice or escalated to a person:
 * `response.code` is `fatal-error` either way, because the sender must not
 * resend automatically (Courier still holds the letter and a person owns
 * it); the OperationOutcome says which, and why.
 */
export function senderResponse(input: SenderResponseInput): Bundle {
  const outcomeUrl = `urn:uuid:${input.outcomeId}`;
  const header: MessageHeader = {
    resourceType: 'MessageHeader',
    id: input.responseId,
    eventCoding: { system: ITK_EVENT_SYSTEM, code: 'ITK008M', display: 'ITK Response' },
    destination: [{ endpoint: input.senderEndpoint }],
    source: { name: 'Courier', endpoint: input.courierEndpoint },
    response: { identifier: input.respondsTo, code: 'fatal-error', details: { reference: outcomeUrl } },
  };
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    id: input.outcomeId,
    issue: [
      {
        severity: 'error',
        code: input.outcome === 'rejected' ? 'processing' : 'incomplete',
        details: { text: input.outcome === 'rejected' ? `Rejected by the receiving practice: ${input.reason}` : `Not filed in time; escalated to a person: ${input.reason}` },
      },
    ],
  };
  return {
    resourceType: 'Bundle',
    id: input.responseId,
    type: 'message',
    timestamp: input.at.toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${input.responseId}`, resource: header },
      { fullUrl: outcomeUrl, resource: outcome },
    ],
  };
}

/** Whether a `MessageHeader.source.endpoint` is somewhere Courier can POST a response. */
export function isHttpEndpoint(endpoint: string | undefined): endpoint is string {
  if (endpoint === undefined) return false;
  try {
    const url = new URL(endpoint);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
