import type { Bundle as FhirBundle, DocumentReference, FhirResource, MessageHeader, Reference } from 'fhir/r4.js';
import { isMessageHeaderId, isOdsCode, type OdsCode } from './ids.js';
import type { LetterFacts } from './letter.js';
import { resolveInBundle, type Located } from './bundle-references.js';
import { checkSubjectNhsNumber } from './patient-identity.js';
import { letterContentHash } from './canonical-json.js';
import type { ValidationIssue } from './validation-issue.js';

/** A Bundle whose entries hold any concrete R4 resource, so narrowing on resourceType works. */
export type Bundle = FhirBundle<FhirResource>;

export const ITK_EVENT_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/ITK-MessageEvent-2';
export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';

export interface LetterDirectory {
  isKnownPractice(ods: OdsCode): boolean;
  readonly supportedEvents: ReadonlySet<string>;
}

export type LetterCheck = { ok: true; facts: LetterFacts } | { ok: false; issues: ValidationIssue[] };

const HEADER = 'Bundle.entry[0].resource';
/** Canonical base64 (RFC 4648 §4) with correct padding and nothing else. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Courier's profile rules for a letter (DESIGN §2 step 4), on a Bundle that
 * already passed the HL7 R4 schema. Rules run in a fixed order and the first
 * broken one answers, so a sender fixes one thing at a time in a known order.
 */
export function checkLetter(bundle: Bundle, directory: LetterDirectory): LetterCheck {
  if (bundle.type !== 'message') return fail('business-rule', 'Bundle.type must be message', 'Bundle.type');
  const header = bundle.entry?.[0]?.resource;
  if (header?.resourceType !== 'MessageHeader') return fail('business-rule', 'The first entry must be a MessageHeader', HEADER);
  if (header.id === undefined || !isMessageHeaderId(header.id)) return fail('required', 'MessageHeader.id is required: it identifies the message', `${HEADER}.id`);
  const event = header.eventCoding;
  if (event?.system !== ITK_EVENT_SYSTEM || event.code === undefined || !directory.supportedEvents.has(event.code)) {
    return fail('not-supported', `The event must be one of ${[...directory.supportedEvents].join(', ')} from ${ITK_EVENT_SYSTEM}`, `${HEADER}.eventCoding`);
  }
  const focus = checkFocus(bundle, header);
  if ('issue' in focus) return { ok: false, issues: [focus.issue] };
  const destination = checkDestination(bundle, header, directory);
  if (typeof destination !== 'string') return { ok: false, issues: [destination] };
  const documentIssue = checkDocument(bundle, focus.located);
  if (documentIssue !== undefined) return { ok: false, issues: [documentIssue] };
  return {
    ok: true,
    facts: {
      messageHeaderId: header.id,
      bundleIdentifier: bundle.identifier?.value === undefined ? null : `${bundle.identifier.system ?? ''}|${bundle.identifier.value}`,
      sender: senderOf(bundle, header),
      event: event.code,
      destination,
      contentHash: letterContentHash(bundle as unknown as Record<string, unknown>),
    },
  };
}

function checkFocus(bundle: Bundle, header: MessageHeader): { located: Located } | { issue: ValidationIssue } {
  const first = header.focus?.[0];
  if (first === undefined) return { issue: issue('required', 'MessageHeader.focus must reference the letter', `${HEADER}.focus`) };
  const located = resolveInBundle(bundle.entry, first, 'Bundle.entry');
  if (located === undefined) return { issue: issue('not-found', 'MessageHeader.focus does not resolve to an entry in the Bundle', `${HEADER}.focus[0]`) };
  if (!isDocument(located.resource)) {
    return { issue: issue('business-rule', 'The focus must be a DocumentReference, a Composition or a document Bundle', `${HEADER}.focus[0]`) };
  }
  return { located };
}

function isDocument(resource: FhirResource): boolean {
  if (resource.resourceType === 'DocumentReference' || resource.resourceType === 'Composition') return true;
  return resource.resourceType === 'Bundle' && resource.type === 'document';
}

function checkDestination(bundle: Bundle, header: MessageHeader, directory: LetterDirectory): OdsCode | ValidationIssue {
  if (header.destination?.length !== 1) return issue('business-rule', 'There must be exactly one destination', `${HEADER}.destination`);
  const path = `${HEADER}.destination[0].receiver`;
  const ods = odsOf(bundle, header.destination[0]?.receiver);
  if (ods === undefined) return issue('required', `The receiver must carry an ODS code (${ODS_SYSTEM}), directly or on an Organization entry`, path);
  if (!isOdsCode(ods)) return issue('value', 'The receiver ODS code is malformed: 3-10 upper-case letters and digits', path);
  if (!directory.isKnownPractice(ods)) return issue('business-rule', 'The destination practice is not in the practices directory', path);
  return ods;
}

/** The ODS code on a reference's identifier, or on the Organization entry it points to. */
function odsOf(bundle: Bundle, reference: Reference | undefined): string | undefined {
  if (reference?.identifier?.system === ODS_SYSTEM && reference.identifier.value !== undefined) return reference.identifier.value;
  const target = resolveInBundle(bundle.entry, reference, 'Bundle.entry')?.resource;
  if (target?.resourceType !== 'Organization') return undefined;
  return target.identifier?.find((i) => i.system === ODS_SYSTEM)?.value;
}

/** Subject with a valid NHS number, and the document content itself. */
function checkDocument(bundle: Bundle, focus: Located): ValidationIssue | undefined {
  const outer = { entries: bundle.entry, path: 'Bundle.entry' };
  const resource = focus.resource;
  if (resource.resourceType === 'DocumentReference') {
    return checkSubjectNhsNumber(resource.subject, `${focus.path}.subject`, [outer]) ?? checkAttachment(resource, focus.path);
  }
  if (resource.resourceType === 'Composition') return checkSubjectNhsNumber(resource.subject, `${focus.path}.subject`, [outer]);
  if (resource.resourceType !== 'Bundle') return issue('business-rule', 'Unsupported focus', focus.path);
  return checkDocumentBundle(resource as Bundle, focus.path, outer);
}

/** A document Bundle starts with its Composition; its Patient may sit in either Bundle. */
function checkDocumentBundle(document: Bundle, path: string, outer: { entries: Bundle['entry']; path: string }): ValidationIssue | undefined {
  const composition = document.entry?.[0]?.resource;
  const compositionPath = `${path}.entry[0].resource`;
  if (composition?.resourceType !== 'Composition') return issue('business-rule', 'A document Bundle must start with a Composition', compositionPath);
  const inner = { entries: document.entry, path: `${path}.entry` };
  return checkSubjectNhsNumber(composition.subject, `${compositionPath}.subject`, [inner, outer]);
}

function checkAttachment(document: DocumentReference, path: string): ValidationIssue | undefined {
  const index = document.content.findIndex((c) => c.attachment.data !== undefined);
  if (index < 0) return issue('required', 'The DocumentReference must carry the letter inline as attachment data', `${path}.content`);
  const data = document.content[index]?.attachment.data ?? '';
  if (data === '' || !BASE64.test(data)) return issue('value', 'The attachment data is not valid base64', `${path}.content[${index}].attachment.data`);
  return undefined;
}

function senderOf(bundle: Bundle, header: MessageHeader): string {
  return odsOf(bundle, header.sender) ?? header.source.endpoint;
}

function issue(code: ValidationIssue['code'], diagnostics: string, expression: string): ValidationIssue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}

function fail(code: ValidationIssue['code'], diagnostics: string, expression: string): LetterCheck {
  return { ok: false, issues: [issue(code, diagnostics, expression)] };
}
