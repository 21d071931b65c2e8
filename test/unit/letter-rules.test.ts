import { expect } from 'chai';
import { parseStrictJson } from '../../src/adapters/fhir/strict-json.js';
import { letterContentHash } from '../../src/domain/canonical-json.js';
import type { OdsCode } from '../../src/domain/ids.js';
import { checkLetter, type Bundle, type LetterCheck, type LetterDirectory } from '../../src/domain/letter-rules.js';
import { BAD_INPUT_CORPUS } from '../fixtures/bad-input-corpus.js';
import { NHS_SYSTEM, ODS_SYSTEM, officialDischargeLetter, officialDocumentReferenceLetter, syntheticDocumentReferenceLetter, type Letter } from '../fixtures/letters.js';
import { SENTINEL_NHS_NUMBER, VALID_NHS_NUMBERS } from '../fixtures/nhs-numbers.js';

const PRACTICES = ['A81001', 'A81002', 'B82005'];
const asked: string[] = [];
const directory: LetterDirectory = {
  isKnownPractice: (ods: OdsCode) => {
    asked.push(ods);
    return PRACTICES.includes(ods);
  },
  supportedEvents: new Set(['ITK003D', 'ITK004D', 'ITK005D', 'ITK006D']),
};
const ISSUE_CODES = ['business-rule', 'required', 'value', 'not-supported', 'not-found'];

function check(letter: Letter): LetterCheck {
  return checkLetter(letter as Bundle, directory);
}
function passes(letter: Letter): Extract<LetterCheck, { ok: true }>['facts'] {
  const result = check(letter);
  if (!result.ok) expect.fail(`refused: ${JSON.stringify(result.issues)}`);
  return result.facts;
}
function refusedAt(letter: Letter): readonly string[] | undefined {
  const result = check(letter);
  if (result.ok) expect.fail('accepted');
  return result.issues[0]?.expression;
}

describe('checkLetter: Courier profile rules (DESIGN §2 step 4)', () => {
  it('accepts the official HL7 discharge summary document wrapped as a letter', () => {
    const letter = officialDischargeLetter();
    expect(passes(letter)).to.deep.equal({
      messageHeaderId: letter.entry[0].resource.id,
      bundleIdentifier: `https://tools.ietf.org/html/rfc4122|${letter.identifier.value}`,
      sender: 'RX1',
      event: 'ITK003D',
      destination: 'A81001',
      contentHash: letterContentHash(letter),
      replyTo: null,
    });
  });

  it('keeps the sender endpoint as the reply address only when it is an http(s) URL', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[0].resource.source.endpoint = 'https://trust.example/fhir/$process-message';
    expect(passes(letter).replyTo).to.equal('https://trust.example/fhir/$process-message');
    letter.entry[0].resource.source.endpoint = 'urn:nhs-uk:addressing:ods:RX1';
    expect(passes(letter).replyTo).to.equal(null);
  });

  it('accepts the official HL7 DocumentReference example wrapped as a clinic letter', () => {
    const facts = passes(officialDocumentReferenceLetter({ destination: 'B82005' }));
    expect(facts).to.include({ event: 'ITK006D', destination: 'B82005', sender: 'RX1' });
  });

  it('accepts the synthetic letter and extracts its facts', () => {
    const letter = syntheticDocumentReferenceLetter({ destination: 'A81002', event: 'ITK005D', messageHeaderId: 'msg-0001' });
    asked.length = 0;
    expect(passes(letter)).to.include({ messageHeaderId: 'msg-0001', event: 'ITK005D', destination: 'A81002', sender: 'RX1' });
    expect(asked).to.deep.equal(['A81002']);
  });

  it('hashes the content so a resend with a new Bundle.id and timestamp matches, and a changed letter does not', () => {
    const letter = syntheticDocumentReferenceLetter();
    const first = passes(letter).contentHash;
    expect(passes({ ...letter, id: 'resend', timestamp: '2026-12-01T00:00:00Z', meta: { versionId: '2' } }).contentHash).to.equal(first);
    letter.entry[1].resource.description = 'Another letter';
    expect(passes(letter).contentHash).not.to.equal(first);
  });

  describe('facts', () => {
    it('takes the sender from MessageHeader.sender: its ODS identifier, else the Organization it references', () => {
      const letter = syntheticDocumentReferenceLetter();
      expect(passes(letter).sender, 'by reference to an Organization entry').to.equal('RX1');
      letter.entry[0].resource.sender = { identifier: { system: ODS_SYSTEM, value: 'RX2' } };
      expect(passes(letter).sender, 'by identifier').to.equal('RX2');
    });

    it('falls back to MessageHeader.source.endpoint when the sender names no ODS code', () => {
      const letter = syntheticDocumentReferenceLetter();
      delete letter.entry[0].resource.sender;
      expect(passes(letter).sender).to.equal('urn:nhs-uk:addressing:ods:RX1');
      letter.entry[0].resource.sender = { display: 'A trust' };
      expect(passes(letter).sender).to.equal('urn:nhs-uk:addressing:ods:RX1');
    });

    it('gives bundleIdentifier as system|value, |value without a system, or null', () => {
      const letter = syntheticDocumentReferenceLetter();
      letter.identifier = { value: 'abc' };
      expect(passes(letter).bundleIdentifier).to.equal('|abc');
      delete letter.identifier;
      expect(passes(letter).bundleIdentifier).to.equal(null);
    });
  });

  describe('references', () => {
    it('resolves a relative Type/id reference by the entry resource type and id', () => {
      const letter = syntheticDocumentReferenceLetter();
      letter.entry[1].resource.id = 'doc-1';
      letter.entry[2].resource.id = 'pat-1';
      letter.entry[0].resource.focus = [{ reference: 'DocumentReference/doc-1' }];
      letter.entry[1].resource.subject = { reference: 'Patient/pat-1' };
      passes(letter);
      letter.entry[1].resource.subject = { reference: 'Patient/pat-2' };
      expect(refusedAt(letter)).to.deep.equal(['Bundle.entry[1].resource.subject.reference']);
    });

    it('resolves a relative reference by the end of an absolute fullUrl', () => {
      const letter = syntheticDocumentReferenceLetter();
      letter.entry[1].fullUrl = 'https://trust.example.org/fhir/DocumentReference/abc';
      letter.entry[0].resource.focus = [{ reference: 'DocumentReference/abc' }];
      passes(letter);
      letter.entry[0].resource.focus = [{ reference: 'Composition/abc' }];
      expect(refusedAt(letter)).to.deep.equal(['Bundle.entry[0].resource.focus[0].reference']);
    });

    it('accepts a receiver given only as a reference to an Organization entry with an ODS code', () => {
      const letter = syntheticDocumentReferenceLetter();
      letter.entry.push({ fullUrl: 'urn:uuid:5d3c1b9a-0000-4000-8000-000000000001', resource: { resourceType: 'Organization', identifier: [{ system: ODS_SYSTEM, value: 'A81002' }] } });
      letter.entry[0].resource.destination[0].receiver = { reference: 'urn:uuid:5d3c1b9a-0000-4000-8000-000000000001' };
      expect(passes(letter).destination).to.equal('A81002');
      letter.entry[0].resource.destination[0].receiver.identifier = { system: ODS_SYSTEM, value: 'A81002' };
      expect(passes(letter).destination, 'both, agreeing').to.equal('A81002');
    });

    it('accepts a receiver ODS identifier whose reference points outside the Bundle', () => {
      const letter = syntheticDocumentReferenceLetter();
      letter.entry[0].resource.destination[0].receiver.reference = 'https://directory.example.org/Organization/A81001';
      expect(passes(letter).destination).to.equal('A81001');
    });
  });

  describe('the patient', () => {
    it('accepts an NHS number given only on the subject, without a Patient entry', () => {
      const letter = syntheticDocumentReferenceLetter();
      letter.entry[1].resource.subject = { identifier: { system: NHS_SYSTEM, value: VALID_NHS_NUMBERS[1] } };
      letter.entry.splice(2, 1);
      passes(letter);
    });

    it('accepts the subject identifier and the Patient entry when they agree, or the reference points outside', () => {
      const letter = syntheticDocumentReferenceLetter({ nhsNumber: VALID_NHS_NUMBERS[3] });
      letter.entry[1].resource.subject.identifier = { system: NHS_SYSTEM, value: VALID_NHS_NUMBERS[3] };
      passes(letter);
      letter.entry[1].resource.subject.reference = 'https://pds.example.org/Patient/1';
      passes(letter);
    });

    it('ignores identifiers of other systems next to the NHS number', () => {
      const letter = syntheticDocumentReferenceLetter();
      letter.entry[2].resource.identifier.unshift({ system: 'http://trust.example.org/mrn', value: 'MRN-1' });
      letter.entry[1].resource.subject.identifier = { system: 'http://trust.example.org/mrn', value: 'MRN-1' };
      passes(letter);
    });

    it('finds the Patient of a document Bundle in the document or in the message', () => {
      const letter = officialDischargeLetter();
      const document = letter.entry[1].resource;
      const [patientEntry] = document.entry.splice(2, 1);
      letter.entry.push(patientEntry);
      passes(letter);
      delete patientEntry.resource.identifier;
      expect(refusedAt(letter)).to.deep.equal(['Bundle.entry[1].resource.entry[0].resource.subject']);
    });

    it('accepts a Composition as the focus, its Patient in the message', () => {
      const letter = syntheticDocumentReferenceLetter();
      letter.entry[1].resource = {
        resourceType: 'Composition',
        status: 'final',
        type: { coding: [{ system: 'http://snomed.info/sct', code: '373942005' }] },
        subject: letter.entry[1].resource.subject,
        date: '2026-11-25T09:00:00Z',
        author: [{ display: 'Dr Synthetic' }],
        title: 'Discharge summary',
      };
      passes(letter);
    });
  });

  describe('attachments', () => {
    it('accepts a 3.7 MB PDF quickly', () => {
      const letter = syntheticDocumentReferenceLetter();
      letter.entry[1].resource.content[0].attachment.data = Buffer.alloc(3_700_000, 0x25).toString('base64');
      const started = performance.now();
      passes(letter);
      expect(performance.now() - started).to.be.below(500);
    });

    it('accepts a url-only content next to one with inline data', () => {
      const letter = syntheticDocumentReferenceLetter();
      letter.entry[1].resource.content.unshift({ attachment: { contentType: 'text/html', url: 'https://trust.example.org/letter.html' } });
      passes(letter);
    });
  });

  it('runs the rules in order: the first broken one answers', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[1].resource.content[0].attachment.data = '!';
    delete letter.entry[2].resource.identifier;
    letter.entry[0].resource.destination[0].receiver.identifier.value = 'Z99999';
    letter.entry[0].resource.focus = [{ reference: 'urn:uuid:00000000-0000-4000-8000-000000000000' }];
    delete letter.entry[0].resource.id;
    letter.entry[0].resource.eventCoding.code = 'ITK099X';
    const expected = [
      'Bundle.entry[0].resource.eventCoding.code',
      'Bundle.entry[0].resource.id',
      'Bundle.entry[0].resource.focus[0].reference',
      'Bundle.entry[0].resource.destination[0].receiver.identifier.value',
      'Bundle.entry[1].resource.subject',
      'Bundle.entry[1].resource.content[0].attachment.data',
    ];
    const fixes = [
      () => (letter.entry[0].resource.eventCoding.code = 'ITK003D'),
      () => (letter.entry[0].resource.id = 'restored'),
      () => (letter.entry[0].resource.focus = [{ reference: letter.entry[1].fullUrl }]),
      () => (letter.entry[0].resource.destination[0].receiver.identifier.value = 'A81001'),
      () => (letter.entry[2].resource.identifier = [{ system: NHS_SYSTEM, value: VALID_NHS_NUMBERS[0] }]),
      () => (letter.entry[1].resource.content[0].attachment.data = 'JVBERg=='),
    ];
    for (const [i, expression] of expected.entries()) {
      expect(refusedAt(letter)).to.deep.equal([expression]);
      fixes[i]?.();
    }
    passes(letter);
  });

  it('refuses lower-case ODS codes with an issue that says so', () => {
    const letter = syntheticDocumentReferenceLetter({ destination: 'a81001' });
    const result = check(letter);
    expect(result.ok === false && result.issues[0]?.diagnostics).to.match(/upper case/);
  });

  for (const testCase of BAD_INPUT_CORPUS.filter((c) => c.status === 422)) {
    it(`refuses corpus case "${testCase.name}" at ${testCase.expression ?? '?'}`, () => {
      const json = parseStrictJson(testCase.body);
      if (!json.ok) expect.fail(json.issue.diagnostics);
      const result = check(json.value);
      if (result.ok) expect.fail('accepted');
      expect(result.issues).to.have.length(1);
      const [issue] = result.issues;
      expect(issue?.expression).to.deep.equal([testCase.expression]);
      expect(issue?.severity).to.equal('error');
      expect(ISSUE_CODES).to.include(issue?.code);
      expect(JSON.stringify(result.issues)).not.to.match(new RegExp(`${SENTINEL_NHS_NUMBER}|999000001|Z99999|a81001|A81-001|nowhere|not base64|QR==`));
    });
  }
});
