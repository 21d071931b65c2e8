import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { extensionFor, isSafeFileStem, letterAttachment } from '../../src/domain/letter-attachment.js';
import { messageBundle, officialDischargeLetter, officialDocumentReferenceLetter, PDF_BYTES, syntheticDocumentReferenceLetter, type Letter } from '../fixtures/letters.js';

/** A message whose focus is a document Bundle holding `entries` after its Composition. */
function documentBundleLetter(entries: Letter[]): Letter {
  const url = `urn:uuid:${randomUUID()}`;
  const document = {
    resourceType: 'Bundle',
    type: 'document',
    entry: [{ fullUrl: `urn:uuid:${randomUUID()}`, resource: { resourceType: 'Composition', status: 'final', title: 'Synthetic letter' } }, ...entries],
  };
  return messageBundle(url, [{ fullUrl: url, resource: document }]);
}

describe('letterAttachment', () => {
  it('decodes the inline PDF of a DocumentReference in the message', () => {
    const found = letterAttachment(syntheticDocumentReferenceLetter());
    expect(found?.contentType).to.equal('application/pdf');
    expect(found?.extension).to.equal('pdf');
    expect(found?.data.equals(PDF_BYTES)).to.equal(true);
  });

  it('takes the first attachment that has data, passing over one given by url only', () => {
    const letter = syntheticDocumentReferenceLetter();
    const content = letter.entry[1].resource.content;
    content.unshift({ attachment: { contentType: 'text/html', url: 'https://example.org/letter.html' } });
    content.push({ attachment: { contentType: 'text/plain', data: Buffer.from('later').toString('base64') } });
    const found = letterAttachment(letter);
    expect(found?.extension).to.equal('pdf');
    expect(found?.data.equals(PDF_BYTES)).to.equal(true);
  });

  it('answers undefined when every attachment is by url only', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[1].resource.content = [{ attachment: { contentType: 'application/pdf', url: 'https://example.org/letter.pdf' } }];
    expect(letterAttachment(letter)).to.equal(undefined);
  });

  it('answers undefined for a document Bundle with no attachment (HL7 Bundle-father)', () => {
    expect(letterAttachment(officialDischargeLetter())).to.equal(undefined);
  });

  it('passes over data that is not canonical base64 rather than decoding it loosely', () => {
    const letter = syntheticDocumentReferenceLetter();
    letter.entry[1].resource.content[0].attachment.data = 'JVBE Rg==';
    expect(letterAttachment(letter)).to.equal(undefined);
  });

  it('finds a Binary inside a document Bundle, with its contentType', () => {
    const tiff = Buffer.from([0x49, 0x49, 0x2a, 0x00, 1, 2, 3]);
    const found = letterAttachment(documentBundleLetter([{ resource: { resourceType: 'Binary', contentType: 'image/tiff', data: tiff.toString('base64') } }]));
    expect(found).to.deep.include({ contentType: 'image/tiff', extension: 'tif' });
    expect(found?.data.equals(tiff)).to.equal(true);
  });

  it('finds a DocumentReference inside a document Bundle', () => {
    const text = Buffer.from('Dear Dr Example');
    const found = letterAttachment(
      documentBundleLetter([{ resource: { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: text.toString('base64') } }] } }]),
    );
    expect(found).to.deep.include({ contentType: 'text/plain; charset=utf-8', extension: 'txt' });
    expect(found?.data.equals(text)).to.equal(true);
  });

  it('passes over a Binary that does not say what it holds', () => {
    expect(letterAttachment(documentBundleLetter([{ resource: { resourceType: 'Binary', data: 'QUJD' } }]))).to.equal(undefined);
  });

  it('writes an attachment without contentType as application/octet-stream, .bin', () => {
    const letter = syntheticDocumentReferenceLetter();
    delete letter.entry[1].resource.content[0].attachment.contentType;
    expect(letterAttachment(letter)).to.deep.include({ contentType: 'application/octet-stream', extension: 'bin' });
  });

  it('gives .bin for a content type not in the table (HL7 DocumentReference-example, CDA)', () => {
    const found = letterAttachment(officialDocumentReferenceLetter());
    expect(found?.extension).to.equal('bin');
    expect(found?.data.toString('utf8')).to.equal('<ClinicalDocument xmlns="urn:hl7-org:v3"/>');
  });

  it('answers undefined for anything that is not a Bundle', () => {
    for (const value of [undefined, null, 42, 'Bundle', [], {}, { resourceType: 'Patient' }, { resourceType: 'Bundle', entry: 'x' }, { resourceType: 'Bundle', entry: [null, 1, { resource: [] }] }]) {
      expect(letterAttachment(value), JSON.stringify(value)).to.equal(undefined);
    }
  });
});

describe('extensionFor', () => {
  const table: [string, string][] = [
    ['application/pdf', 'pdf'],
    ['text/plain', 'txt'],
    ['text/html', 'html'],
    ['application/xml', 'xml'],
    ['text/xml', 'xml'],
    ['image/png', 'png'],
    ['image/jpeg', 'jpg'],
    ['image/tiff', 'tif'],
    ['application/rtf', 'rtf'],
    ['application/msword', 'doc'],
    ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'docx'],
    ['Application/PDF', 'pdf'],
    ['text/html; charset=utf-8', 'html'],
    ['application/hl7-v3+xml', 'bin'],
    ['application/octet-stream', 'bin'],
    ['', 'bin'],
    ['pdf', 'bin'],
  ];
  for (const [contentType, extension] of table) {
    it(`${JSON.stringify(contentType)} → ${extension}`, () => expect(extensionFor(contentType)).to.equal(extension));
  }
});

describe('isSafeFileStem', () => {
  it('accepts FHIR ids', () => {
    for (const id of [randomUUID(), 'a', 'A81001-letter.2', 'x'.repeat(64), 'a..b', 'con1']) {
      expect(isSafeFileStem(id), id).to.equal(true);
    }
  });

  it('refuses what is not a FHIR id, dot names and Windows device names', () => {
    for (const id of ['', '.', '..', '.hidden', 'x'.repeat(65), 'a/b', '..\\b', 'a b', 'a_b', 'é', 'a\nb', 'a\u0000b', 'CON', 'nul', 'Com1', 'LPT9']) {
      expect(isSafeFileStem(id), JSON.stringify(id)).to.equal(false);
    }
  });
});
