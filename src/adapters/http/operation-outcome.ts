import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import type { IssueType, ValidationIssue } from '../../domain/validation-issue.js';

/** Builds the OperationOutcome every Courier answer carries (DESIGN §2). */
export function operationOutcome(issues: readonly ValidationIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues.map(toFhirIssue) };
}

/** A one-issue OperationOutcome, for answers that are not about a location in the input. */
export function singleIssueOutcome(
  severity: ValidationIssue['severity'],
  code: IssueType,
  diagnostics: string,
  expression: readonly string[] = [],
): OperationOutcome {
  return operationOutcome([{ severity, code, diagnostics, expression }]);
}

function toFhirIssue(issue: ValidationIssue): OperationOutcomeIssue {
  const out: OperationOutcomeIssue = { severity: issue.severity, code: issue.code, diagnostics: issue.diagnostics };
  if (issue.expression.length > 0) out.expression = [...issue.expression];
  return out;
}
