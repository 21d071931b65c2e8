import type { Identifier, Reference } from 'fhir/r4.js';
import { checkNhsNumber } from './nhs-number.js';
import { resolveInBundle, type BundleEntry } from './bundle-references.js';
import type { ValidationIssue } from './validation-issue.js';

export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

/**
 * DESIGN §2: the focus document's subject must carry a valid NHS number, as an
 * identifier on the reference or on the Patient entry it points to; if both
 * are given they must agree. The number itself is never put into an issue.
 *
 * `scopes` are the entry lists searched for the Patient, innermost first (a
 * document Bundle's own entries, then the message's).
 */
export function checkSubjectNhsNumber(
  subject: Reference | undefined,
  subjectPath: string,
  scopes: readonly { entries: readonly BundleEntry[] | undefined; path: string }[],
): ValidationIssue | undefined {
  if (subject === undefined) return issue('required', 'The document has no subject: an NHS number is required', subjectPath);
  const direct = subject.identifier?.system === NHS_NUMBER_SYSTEM ? subject.identifier : undefined;
  let onPatient: { identifier: Identifier; path: string } | undefined;
  if (subject.reference !== undefined) {
    const patient = scopes.map((s) => resolveInBundle(s.entries, subject, s.path)).find((p) => p !== undefined);
    if (patient === undefined) return issue('not-found', 'The subject reference does not resolve to an entry in the Bundle', `${subjectPath}.reference`);
    if (patient.resource.resourceType !== 'Patient') return issue('business-rule', 'The subject must be a Patient', `${subjectPath}.reference`);
    const index = (patient.resource.identifier ?? []).findIndex((i) => i.system === NHS_NUMBER_SYSTEM);
    const identifier = patient.resource.identifier?.[index];
    if (identifier !== undefined) onPatient = { identifier, path: `${patient.path}.identifier[${index}]` };
  }
  if (direct === undefined && onPatient === undefined) {
    return issue('required', 'No NHS number (system https://fhir.nhs.uk/Id/nhs-number) on the document subject', subjectPath);
  }
  for (const candidate of [
    ...(direct === undefined ? [] : [{ identifier: direct, path: `${subjectPath}.identifier` }]),
    ...(onPatient === undefined ? [] : [onPatient]),
  ]) {
    const value = candidate.identifier.value ?? '';
    if (!/^\d{10}$/.test(value)) return issue('value', 'The NHS number must be 10 digits', `${candidate.path}.value`);
    if (checkNhsNumber(value) === undefined) return issue('value', 'The NHS number fails the Modulus 11 check', `${candidate.path}.value`);
  }
  if (direct !== undefined && onPatient !== undefined && direct.value !== onPatient.identifier.value) {
    return issue('business-rule', 'The NHS number on the subject and on the Patient entry disagree', `${subjectPath}.identifier.value`);
  }
  return undefined;
}

function issue(code: ValidationIssue['code'], diagnostics: string, expression: string): ValidationIssue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}
