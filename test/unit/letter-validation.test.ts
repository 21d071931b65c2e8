import { expect } from 'chai';
import { createFhirSchemaValidator, type FhirSchemaValidator } from '../../src/adapters/fhir/fhir-schema-validator.js';
import { parseStrictJson } from '../../src/adapters/fhir/strict-json.js';
import { checkLetter, type Bundle, type LetterDirectory } from '../../src/domain/letter-rules.js';
import type { OdsCode } from '../../src/domain/ids.js';
import { BAD_INPUT_CORPUS } from '../fixtures/bad-input-corpus.js';
import { officialDischargeLetter, officialDocumentReferenceLetter, syntheticDocumentReferenceLetter } from '../fixtures/letters.js';
import { SENTINEL_NHS_NUMBER } from '../fixtures/nhs-numbers.js';

const directory: LetterDirectory = {
  isKnownPractice: (ods: OdsCode) => ['A81001', 'A81002', 'A81004', 'B82005', 'Y00001'].includes(ods),
  supportedEvents: new Set(['ITK003D', 'ITK004D', 'ITK005D', 'ITK006D']),
};

describe('letter validation: HL7 R4 schema, then Courier profile rules', function () {
  this.timeout(60_000);
  let schema: FhirSchemaValidator;
  before(() => {
    schema = createFhirSchemaValidator();
  });

  it('accepts the official HL7 examples wrapped as letters and extracts their facts', () => {
    for (const letter of [officialDischargeLetter(), officialDocumentReferenceLetter(), syntheticDocumentReferenceLetter({ destination: 'B82005', event: 'ITK005D' })]) {
      expect(schema.validate(letter)).to.deep.equal([]);
      const result = checkLetter(letter as Bundle, directory);
      if (!result.ok) expect.fail(JSON.stringify(result.issues));
      expect(result.facts.messageHeaderId).to.equal(letter.entry[0].resource.id);
      expect(result.facts.sender).to.equal('RX1');
      expect(result.facts.bundleIdentifier).to.equal(`https://tools.ietf.org/html/rfc4122|${letter.identifier.value}`);
      expect(result.facts.contentHash).to.match(/^[0-9a-f]{64}$/);
    }
    const discharge = checkLetter(officialDocumentReferenceLetter() as Bundle, directory);
    expect(discharge.ok && discharge.facts.event).to.equal('ITK006D');
  });

  it('resolves a receiver given as a reference to an Organization entry', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry.push({ fullUrl: 'urn:uuid:5d3c1b9a-0000-4000-8000-000000000001', resource: { resourceType: 'Organization', identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81002' }] } });
    letter.entry[0].resource.destination[0].receiver = { reference: 'urn:uuid:5d3c1b9a-0000-4000-8000-000000000001' };
    const result = checkLetter(letter as Bundle, directory);
    expect(result.ok && result.facts.destination).to.equal('A81002');
  });

  it('accepts a subject NHS number given directly on the reference', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[1].resource.subject = { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000026' } };
    letter.entry.pop();
    expect(checkLetter(letter as Bundle, directory).ok).to.equal(true);
  });

  for (const testCase of BAD_INPUT_CORPUS.filter((c) => c.status === 400 || c.status === 422)) {
    if (testCase.contentEncoding !== undefined) continue;
    it(`refuses ${testCase.name} at the right layer (${testCase.status})`, () => {
      const json = parseStrictJson(testCase.body);
      const schemaIssues = json.ok ? schema.validate(json.value) : [json.issue];
      if (testCase.status === 400) {
        expect(schemaIssues.length).to.be.at.least(1);
        if (testCase.expression !== undefined) expect(schemaIssues[0]?.expression).to.deep.equal([testCase.expression]);
        return;
      }
      expect(schemaIssues, 'a profile case must be valid R4').to.deep.equal([]);
      const result = checkLetter((json.ok ? json.value : undefined) as Bundle, directory);
      if (result.ok) expect.fail('profile rule not enforced');
      expect(result.issues[0]?.expression).to.deep.equal([testCase.expression]);
      expect(JSON.stringify(result.issues)).not.to.include(SENTINEL_NHS_NUMBER);
    });
  }
});
