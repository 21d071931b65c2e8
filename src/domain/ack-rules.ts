import type { OperationOutcome } from 'fhir/r4.js';
import { ITK_RESPONSE_SYSTEM, type Ack } from './ack-mapping.js';
import { resolveInBundle } from './bundle-references.js';
import { isMessageHeaderId, isOdsCode, type OdsCode } from './ids.js';
import { ODS_SYSTEM, type Bundle } from './letter-rules.js';
import type { ValidationIssue } from './validation-issue.js';

/** An acknowledgement (DESIGN §4) extracted from a valid R4 message Bundle: ids and codes only. */
export interface AckFacts extends Ack {
  /** The ack's own MessageHeader.id. */
  readonly messageHeaderId: string;
  /** `MessageHeader.response.identifier`: the MessageHeader.id of the letter acknowledged. */
  readonly respondsTo: string;
  /** The acknowledging practice as the ack claims it (`MessageHeader.sender`), or null. */
  readonly senderOds: OdsCode | null;
}

const HEADER = 'Bundle.entry[0].resource';

/** An ack is a message whose MessageHeader carries `response` (any event, DESIGN §4). */
export function isAckMessage(bundle: Bundle): boolean {
  const header = bundle.entry?.[0]?.resource;
  return bundle.type === 'message' && header?.resourceType === 'MessageHeader' && header.response !== undefined;
}

export function checkAck(bundle: Bundle): { ok: true; ack: AckFacts } | { ok: false; issues: ValidationIssue[] } {
  const header = bundle.entry?.[0]?.resource;
  if (bundle.type !== 'message' || header?.resourceType !== 'MessageHeader') return fail('business-rule', 'An acknowledgement is a message Bundle with a MessageHeader first', HEADER);
  if (header.id === undefined || !isMessageHeaderId(header.id)) return fail('required', 'MessageHeader.id is required', `${HEADER}.id`);
  const response = header.response;
  if (response === undefined) return fail('required', 'MessageHeader.response is required in an acknowledgement', `${HEADER}.response`);
  if (!isMessageHeaderId(response.identifier)) return fail('value', 'response.identifier must be the MessageHeader.id of the letter', `${HEADER}.response.identifier`);
  const itkCodes: string[] = [];
  if (response.details !== undefined) {
    const outcome = resolveInBundle(bundle.entry, response.details, 'Bundle.entry')?.resource;
    if (outcome?.resourceType !== 'OperationOutcome') return fail('not-found', 'response.details must reference an OperationOutcome in the Bundle', `${HEADER}.response.details`);
    itkCodes.push(...itkCodesOf(outcome));
  }
  const sender = header.sender;
  const senderRef = sender?.identifier?.system === ODS_SYSTEM ? sender.identifier.value : resolveOds(bundle, sender);
  return {
    ok: true,
    ack: {
      messageHeaderId: header.id,
      respondsTo: response.identifier,
      code: response.code,
      itkCodes,
      senderOds: senderRef !== undefined && isOdsCode(senderRef) ? senderRef : null,
    },
  };
}

function itkCodesOf(outcome: OperationOutcome): string[] {
  return outcome.issue.flatMap((issue) => (issue.details?.coding ?? []).filter((c) => c.system === ITK_RESPONSE_SYSTEM && c.code !== undefined).map((c) => c.code ?? ''));
}

function resolveOds(bundle: Bundle, reference: Parameters<typeof resolveInBundle>[1]): string | undefined {
  const target = resolveInBundle(bundle.entry, reference, 'Bundle.entry')?.resource;
  return target?.resourceType === 'Organization' ? target.identifier?.find((i) => i.system === ODS_SYSTEM)?.value : undefined;
}

function fail(code: ValidationIssue['code'], diagnostics: string, expression: string): { ok: false; issues: ValidationIssue[] } {
  return { ok: false, issues: [{ severity: 'error', code, diagnostics, expression: [expression] }] };
}
