import { isHttpEndpoint } from './sender-response.js';
import type { Bundle as FhirBundle, DocumentReference, FhirResource, MessageHeader, Reference } from 'fhir/r4.js';
import { isCanonicalBase64 } from './base64.js';
import { resolveInBundle, type Located } from './bundle-references.js';
import { letterContentHash } from './canonical-json.js';
import { isMessageHeaderId, isOdsCode, type OdsCode } from './ids.js';
import type { LetterFacts } from './letter.js';
import { ODS_SYSTEM, odsOfReference, type LocatedOds } from './organization-ods.js';
import { checkSubjectNhsNumber, type EntryScopes } from './patient-identity.js';
import type { ValidationIssue } from './validation-issue.js';

export { ODS_SYSTEM } from './organization-ods.js';

/** A Bundle whose entries hold any concrete R4 resource, so narrowing on resourceType works. */
export type Bundle = FhirBundle<FhirResource>;

export const ITK_EVENT_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/ITK-MessageEvent-2';

export interface LetterDirectory {
  isKnownPractice(ods: OdsCode): boolean;
  readonly supportedEvents: ReadonlySet<string>;
}

export type LetterCheck = { ok: true; facts: LetterFacts } | { ok: false; issues: ValidationIssue[] };

const HEADER = 'Bundle.entry[0].resource';

/**
 * Courier's profile rules for a letter (DESIGN §2 step 4), on a Bundle that
 * already passed the HL7 R4 schema. The rules run in this order and the first
 * broken one answers, so a sender fixes one thing at a time in a known order:
 * Bundle.type, MessageHeader first, event, MessageHeader.id, focus, one
 * destination with a known practice ODS code, the patient's NHS number, the
 * attachment. Diagnostics name the rule, never a value from the letter.
 */
export function checkLetter(bundle: Bundle, directory: LetterDirectory): LetterCheck {
  if (bundle.type !== 'message') return fail('business-rule', 'Bundle.type must be message', 'Bundle.type');
  if (bundle.entry === undefined || bundle.entry.length === 0) return fail('required', 'A message Bundle starts with a MessageHeader entry', 'Bundle.entry');
  const header = bundle.entry[0]?.resource;
  if (header?.resourceType !== 'MessageHeader') return fail('business-rule', 'The first entry must be a MessageHeader', HEADER);
  const event = checkEvent(header, directory);
  if (typeof event !== 'string') return failWith(event);
  if (header.id === undefined) return fail('required', 'MessageHeader.id is required: it identifies the message', `${HEADER}.id`);
  if (!isMessageHeaderId(header.id)) return fail('value', 'MessageHeader.id is not a valid FHIR id', `${HEADER}.id`);
  const focus = checkFocus(bundle, header);
  if ('issue' in focus) return failWith(focus.issue);
  const destination = checkDestination(bundle, header, directory);
  if (typeof destination !== 'string') return failWith(destination);
  const documentIssue = checkDocument(bundle, focus.located);
  if (documentIssue !== undefined) return failWith(documentIssue);
  return {
    ok: true,
    facts: {
      messageHeaderId: header.id,
      bundleIdentifier: bundle.identifier?.value === undefined ? null : `${bundle.identifier.system ?? ''}|${bundle.identifier.value}`,
      sender: senderOf(bundle, header),
      event,
      destination,
      contentHash: letterContentHash(bundle),
      replyTo: isHttpEndpoint(header.source.endpoint) ? header.source.endpoint : null,
    },
  };
}

function checkEvent(header: MessageHeader, directory: LetterDirectory): string | ValidationIssue {
  const event = header.eventCoding;
  const path = `${HEADER}.eventCoding`;
  if (event === undefined) return issue('required', `MessageHeader.eventCoding is required, from ${ITK_EVENT_SYSTEM}`, path);
  if (event.system !== ITK_EVENT_SYSTEM) return issue('not-supported', `The event must come from the code system ${ITK_EVENT_SYSTEM}`, `${path}.system`);
  if (event.code === undefined || !directory.supportedEvents.has(event.code)) {
    return issue('not-supported', `The event code is not supported; supported: ${[...directory.supportedEvents].join(', ')}`, `${path}.code`);
  }
  return event.code;
}

/** MessageHeader.focus: every reference resolves inside the Bundle, and the first is the letter itself. */
function checkFocus(bundle: Bundle, header: MessageHeader): { located: Located } | { issue: ValidationIssue } {
  const focus = header.focus ?? [];
  if (focus.length === 0) return { issue: issue('required', 'MessageHeader.focus must reference the letter', `${HEADER}.focus`) };
  const resolved: Located[] = [];
  for (const [index, reference] of focus.entries()) {
    const located = resolveInBundle(bundle.entry, reference, 'Bundle.entry');
    if (located === undefined) {
      return { issue: issue('not-found', 'MessageHeader.focus does not resolve to an entry in the Bundle', referencePath(`${HEADER}.focus[${index}]`, reference)) };
    }
    resolved.push(located);
  }
  const letter = resolved[0];
  if (letter === undefined || !isDocument(letter.resource)) {
    return { issue: issue('business-rule', 'The focus must be a DocumentReference, a Composition or a document Bundle', `${HEADER}.focus[0].reference`) };
  }
  return { located: letter };
}

function isDocument(resource: FhirResource): boolean {
  if (resource.resourceType === 'DocumentReference' || resource.resourceType === 'Composition') return true;
  return resource.resourceType === 'Bundle' && resource.type === 'document';
}

/** Exactly one destination, whose receiver names (directly or via an Organization entry) a practice in the directory. */
function checkDestination(bundle: Bundle, header: MessageHeader, directory: LetterDirectory): OdsCode | ValidationIssue {
  const destinations = header.destination ?? [];
  if (destinations.length === 0) return issue('required', 'The letter needs one MessageHeader.destination', `${HEADER}.destination`);
  if (destinations.length > 1) return issue('business-rule', 'There must be exactly one destination', `${HEADER}.destination`);
  const path = `${HEADER}.destination[0].receiver`;
  const receiver = destinations[0]?.receiver;
  if (receiver === undefined) return issue('required', `The destination needs a receiver with an ODS code (${ODS_SYSTEM})`, path);
  const { direct, target, onOrganization } = odsOfReference(bundle.entry, receiver, path);
  if (target !== undefined && target.resource.resourceType !== 'Organization') return issue('business-rule', 'The receiver must be an Organization', `${path}.reference`);
  if (direct === undefined) {
    // Without its own ODS identifier the receiver must lead to one; with it, a reference outside the Bundle is fine.
    if (receiver.reference === undefined) return issue('required', `The receiver must carry an ODS code (${ODS_SYSTEM}), directly or on an Organization entry`, path);
    if (target === undefined) return issue('not-found', 'The receiver reference does not resolve to an entry in the Bundle', `${path}.reference`);
    if (onOrganization === undefined) return issue('required', `The receiver Organization has no ODS code identifier (${ODS_SYSTEM})`, `${path}.reference`);
  }
  const ods = direct ?? onOrganization;
  if (ods === undefined) return issue('required', `The receiver must carry an ODS code (${ODS_SYSTEM})`, path);
  const odsIssue = checkPracticeOds(ods, directory);
  if (odsIssue !== undefined) return odsIssue;
  if (direct !== undefined && onOrganization !== undefined && direct.value !== onOrganization.value) {
    return issue('business-rule', 'The receiver ODS code and that of the Organization it references disagree', direct.path);
  }
  return ods.value as OdsCode;
}

function checkPracticeOds(ods: LocatedOds, directory: LetterDirectory): ValidationIssue | undefined {
  if (!isOdsCode(ods.value)) {
    if (isOdsCode(ods.value.toUpperCase())) return issue('value', 'ODS codes are upper case: the receiver ODS code has lower-case letters', ods.path);
    return issue('value', 'The receiver ODS code is malformed: 3 to 10 upper-case letters and digits', ods.path);
  }
  if (!directory.isKnownPractice(ods.value)) return issue('business-rule', 'The destination practice is not in the practices directory', ods.path);
  return undefined;
}

/** The patient's NHS number on the document's subject, then the document content itself. */
function checkDocument(bundle: Bundle, focus: Located): ValidationIssue | undefined {
  const outer: EntryScopes = [{ entries: bundle.entry, path: 'Bundle.entry' }];
  const resource = focus.resource;
  if (resource.resourceType === 'DocumentReference') {
    return checkSubjectNhsNumber(resource.subject, `${focus.path}.subject`, outer) ?? checkAttachments(resource, focus.path);
  }
  if (resource.resourceType === 'Composition') return checkSubjectNhsNumber(resource.subject, `${focus.path}.subject`, outer);
  if (resource.resourceType !== 'Bundle') return issue('business-rule', 'The focus must be a DocumentReference, a Composition or a document Bundle', focus.path);
  return checkDocumentBundle(resource as Bundle, focus.path, outer);
}

/** A document Bundle starts with its Composition; its Patient may sit in the document or in the message. */
function checkDocumentBundle(document: Bundle, path: string, outer: EntryScopes): ValidationIssue | undefined {
  const composition = document.entry?.[0]?.resource;
  const compositionPath = `${path}.entry[0].resource`;
  if (composition?.resourceType !== 'Composition') return issue('business-rule', 'A document Bundle must start with a Composition', compositionPath);
  return checkSubjectNhsNumber(composition.subject, `${compositionPath}.subject`, [{ entries: document.entry, path: `${path}.entry` }, ...outer]);
}

/** DESIGN: the letter travels inline as base64 `data`; every `data` given must be canonical base64. */
function checkAttachments(document: DocumentReference, path: string): ValidationIssue | undefined {
  let withData = 0;
  for (const [index, content] of document.content.entries()) {
    const data = content.attachment.data;
    if (data === undefined) continue;
    withData++;
    if (!isCanonicalBase64(data)) {
      return issue('value', 'The attachment data is not valid base64 (standard alphabet, padded, no whitespace)', `${path}.content[${index}].attachment.data`);
    }
  }
  if (withData === 0) return issue('required', 'The DocumentReference must carry the letter inline as attachment data (base64)', `${path}.content`);
  return undefined;
}

/** The sender's ODS code when MessageHeader.sender gives one, else MessageHeader.source.endpoint. */
function senderOf(bundle: Bundle, header: MessageHeader): string {
  const { direct, onOrganization } = odsOfReference(bundle.entry, header.sender, `${HEADER}.sender`);
  const ods = direct?.value ?? onOrganization?.value;
  return ods !== undefined && ods !== '' ? ods : header.source.endpoint;
}

/** The `.reference` element when the Reference has one, else the Reference itself. */
function referencePath(path: string, reference: Reference): string {
  return reference.reference === undefined ? path : `${path}.reference`;
}

function issue(code: ValidationIssue['code'], diagnostics: string, expression: string): ValidationIssue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}

function fail(code: ValidationIssue['code'], diagnostics: string, expression: string): LetterCheck {
  return failWith(issue(code, diagnostics, expression));
}

function failWith(found: ValidationIssue): LetterCheck {
  return { ok: false, issues: [found] };
}
