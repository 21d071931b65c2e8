import type { Reference } from 'fhir/r4.js';
import { checkNhsNumber } from './nhs-number.js';
import { resolveInBundle, type BundleEntry, type Located } from './bundle-references.js';
import type { ValidationIssue } from './validation-issue.js';

export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

/** Entry lists searched for the Patient, innermost first, with their FHIRPath. */
export type EntryScopes = readonly { readonly entries: readonly BundleEntry[] | undefined; readonly path: string }[];

interface Candidate {
  readonly value: string;
  readonly path: string;
}

/**
 * DESIGN §2: the focus document's subject must carry a valid NHS number, as
 * its identifier or on the Patient entry its reference resolves to; every
 * NHS number given (on the subject, on the Patient, or several on the
 * Patient) must be valid and they must agree. A reference that does not
 * resolve inside the Bundle is an error only when the subject carries no NHS
 * number itself, since a reference may point outside the message. Issues
 * name the rule and the location, never the number.
 */
export function checkSubjectNhsNumber(subject: Reference | undefined, subjectPath: string, scopes: EntryScopes): ValidationIssue | undefined {
  if (subject === undefined) return issue('required', 'The document has no subject: the patient must be identified by NHS number', subjectPath);
  const candidates: Candidate[] = [];
  const direct = subject.identifier?.system === NHS_NUMBER_SYSTEM ? subject.identifier : undefined;
  if (direct !== undefined) candidates.push({ value: direct.value ?? '', path: `${subjectPath}.identifier.value` });
  if (subject.reference !== undefined) {
    const patient = firstResolved(subject, scopes);
    if (patient === undefined && direct === undefined) {
      return issue('not-found', 'The subject reference does not resolve to an entry in the Bundle', `${subjectPath}.reference`);
    }
    if (patient !== undefined) {
      if (patient.resource.resourceType !== 'Patient') return issue('business-rule', 'The subject must be a Patient', `${subjectPath}.reference`);
      (patient.resource.identifier ?? []).forEach((identifier, index) => {
        if (identifier.system === NHS_NUMBER_SYSTEM) candidates.push({ value: identifier.value ?? '', path: `${patient.path}.identifier[${index}].value` });
      });
    }
  }
  const first = candidates[0];
  if (first === undefined) {
    return issue('required', `No NHS number (system ${NHS_NUMBER_SYSTEM}) on the document subject or on the Patient it references`, subjectPath);
  }
  for (const candidate of candidates) {
    if (!/^\d{10}$/.test(candidate.value)) return issue('value', 'The NHS number must be 10 digits', candidate.path);
    if (checkNhsNumber(candidate.value) === undefined) return issue('value', 'The NHS number fails the Modulus 11 check', candidate.path);
  }
  const other = candidates.find((c) => c.value !== first.value);
  if (other !== undefined) {
    const where = direct === undefined ? other.path : first.path;
    return issue('business-rule', 'The NHS numbers given for the patient disagree', where);
  }
  return undefined;
}

function firstResolved(reference: Reference, scopes: EntryScopes): Located | undefined {
  for (const scope of scopes) {
    const found = resolveInBundle(scope.entries, reference, scope.path);
    if (found !== undefined) return found;
  }
  return undefined;
}

function issue(code: ValidationIssue['code'], diagnostics: string, expression: string): ValidationIssue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}
