import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ValidationIssue } from '../../domain/validation-issue.js';

const require = createRequire(import.meta.url);
const SCHEMA_PATH = fileURLToPath(new URL('../../../profiles/fhir.r4.schema.json', import.meta.url));
const SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0';
/** Enough to fix a message; a broken generator could otherwise return thousands. */
const MAX_ISSUES = 20;
/** Property names Courier will repeat back: FHIR element names only. */
const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface FhirSchemaValidator {
  /** Issues that make `value` not a valid FHIR R4 Bundle; empty when it is one. */
  validate(value: unknown): ValidationIssue[];
}

/**
 * Compiles the HL7 R4 JSON schema (profiles/fhir.r4.schema.json, draft-06,
 * with a discriminator on resourceType) once. Compiling takes about a second,
 * so do it at start-up, not per request; it is compiled once per process.
 */
export function createFhirSchemaValidator(): FhirSchemaValidator {
  compiled ??= compileValidator();
  return compiled;
}

/** Shared by every Courier in the process: the compiled validator is stateless. */
let compiled: FhirSchemaValidator | undefined;

function compileValidator(): FhirSchemaValidator {
  const ajv = new Ajv({ strict: false, strictTypes: false, discriminator: true, allErrors: false, validateFormats: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
  ajv.addSchema(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object);
  const validateBundle: ValidateFunction = ajv.compile({ $ref: `${SCHEMA_ID}#/definitions/Bundle` });
  return {
    validate(value) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return [issue('structure', 'The body must be a JSON object: a FHIR Bundle', 'Bundle')];
      }
      if ((value as Record<string, unknown>)['resourceType'] !== 'Bundle') {
        return [issue('structure', 'resourceType must be Bundle', 'Bundle.resourceType')];
      }
      if (validateBundle(value)) return [];
      return (validateBundle.errors ?? []).slice(0, MAX_ISSUES).map(toIssue);
    },
  };
}

function toIssue(error: ErrorObject): ValidationIssue {
  const path = fhirPath(error.instancePath);
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = paramText(error, 'additionalProperty');
      if (!SAFE_NAME.test(name)) return issue('structure', 'Unknown element: not part of FHIR R4 here', path);
      return issue('structure', `Unknown element '${name}': not part of FHIR R4 here`, `${path}.${name}`);
    }
    case 'required': {
      const missing = paramText(error, 'missingProperty');
      return issue('required', `Missing required element '${SAFE_NAME.test(missing) ? missing : '?'}'`, path);
    }
    case 'type':
      return issue('structure', `Wrong JSON type: must be ${String((error.params as { type?: unknown }).type)}`, path);
    case 'enum':
      return issue('value', 'Value is not one of the codes FHIR R4 allows here', path);
    case 'const':
      return issue('value', 'Value is not the one FHIR R4 requires here', path);
    case 'pattern':
      return issue('value', 'Value does not have the format of its FHIR datatype', path);
    case 'discriminator':
      return issue('structure', 'resourceType is missing or not a FHIR R4 resource type', `${path}.resourceType`);
    case 'minItems':
      return issue('required', 'Array must not be empty', path);
    default:
      return issue('structure', `Not valid FHIR R4 (${error.keyword})`, path);
  }
}

/** A string parameter of an ajv error, or '' when absent. */
function paramText(error: ErrorObject, name: string): string {
  const value = (error.params as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

/** `/entry/0/resource/destination/0` → `Bundle.entry[0].resource.destination[0]`. */
export function fhirPath(instancePath: string): string {
  let out = 'Bundle';
  for (const part of instancePath.split('/').slice(1)) {
    const segment = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(segment)) out += `[${segment}]`;
    else out += SAFE_NAME.test(segment) ? `.${segment}` : '.?';
  }
  return out;
}

function issue(code: ValidationIssue['code'], diagnostics: string, expression: string): ValidationIssue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}
