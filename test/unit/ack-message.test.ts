import { expect } from 'chai';
import { createFhirSchemaValidator, type FhirSchemaValidator } from '../../src/adapters/fhir/fhir-schema-validator.js';
import { buildAckMessage, type AckMessageInput } from '../../src/domain/ack-message.js';
import { ITK_RESPONSE_SYSTEM, mapAck, type AckCode } from '../../src/domain/ack-mapping.js';
import { checkAck, isAckMessage } from '../../src/domain/ack-rules.js';
import type { Bundle } from '../../src/domain/letter-rules.js';
import { itkCodesOfAnswer } from '../../src/domain/sink-outcome.js';

const LETTER_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const IDS = { bundle: '5b0e4c7a-6a8e-4c61-9e1c-000000000001', header: '5b0e4c7a-6a8e-4c61-9e1c-000000000002', outcome: '5b0e4c7a-6a8e-4c61-9e1c-000000000003' };
const AT = new Date('2026-03-01T10:00:00.123Z');

function ack(code: AckCode, itkCodes: readonly string[]): Bundle {
  const input: AckMessageInput = { respondsTo: LETTER_ID, code, itkCodes, practice: 'A81001', ids: IDS, at: AT };
  return buildAckMessage(input) as Bundle;
}

function itk(...codes: string[]) {
  return { coding: codes.map((code) => ({ system: ITK_RESPONSE_SYSTEM, code })) };
}

describe('the ack message a practice connector sends (buildAckMessage)', function () {
  this.timeout(60_000); // compiling the R4 schema takes a second or two
  let schema: FhirSchemaValidator;
  before(() => {
    schema = createFhirSchemaValidator();
  });

  const cases: [AckCode, string[], string][] = [
    ['ok', ['20013'], 'infrastructure-ack'],
    ['ok', ['30001'], 'business-ack'],
    ['ok', ['20013', '30001'], 'business-ack'],
    ['fatal-error', ['30002'], 'rejected'],
    ['transient-error', [], 'transient-error'],
  ];
  for (const [code, itkCodes, kind] of cases) {
    it(`${code} ${itkCodes.join('+') || 'without codes'}: Courier's own checks read it back and map it to ${kind}`, () => {
      const bundle = ack(code, itkCodes);
      expect(schema.validate(bundle), 'valid against the HL7 R4 schema').to.deep.equal([]);
      expect(isAckMessage(bundle)).to.equal(true);
      const checked = checkAck(bundle);
      expect(checked).to.deep.equal({ ok: true, ack: { messageHeaderId: IDS.header, respondsTo: LETTER_ID, code, itkCodes, senderOds: 'A81001' } });
      if (!checked.ok) return;
      const mapping = mapAck(checked.ack);
      expect(mapping.kind).to.equal('event');
      expect(mapping.kind === 'event' && mapping.event.kind).to.equal(kind);
    });
  }

  it('is an ITK008M message stamped with the given ids and time, the OperationOutcome only when there are codes', () => {
    const withCodes = ack('fatal-error', ['30002']);
    expect(withCodes).to.include({ resourceType: 'Bundle', id: IDS.bundle, type: 'message', timestamp: '2026-03-01T10:00:00.123Z' });
    expect(withCodes.entry?.map((e) => [e.fullUrl, e.resource?.resourceType])).to.deep.equal([
      [`urn:uuid:${IDS.header}`, 'MessageHeader'],
      [`urn:uuid:${IDS.outcome}`, 'OperationOutcome'],
    ]);
    const header = withCodes.entry?.[0]?.resource;
    expect(header?.resourceType === 'MessageHeader' && header.eventCoding).to.deep.include({ code: 'ITK008M' });
    const outcome = withCodes.entry?.[1]?.resource;
    expect(outcome?.resourceType === 'OperationOutcome' && outcome.issue.map((i) => i.severity)).to.deep.equal(['error']);

    const without = ack('transient-error', []);
    expect(without.entry).to.have.length(1);
    const bare = without.entry?.[0]?.resource;
    expect(bare?.resourceType === 'MessageHeader' && bare.response).to.deep.equal({ identifier: LETTER_ID, code: 'transient-error' });
  });

  it('is pure: the same input gives the same message', () => {
    expect(JSON.stringify(ack('ok', ['20013']))).to.equal(JSON.stringify(ack('ok', ['20013'])));
  });
});

describe('ITK codes in a FHIR endpoint answer (itkCodesOfAnswer)', () => {
  it('reads an OperationOutcome, in order, ignoring other code systems', () => {
    const answer = {
      resourceType: 'OperationOutcome',
      issue: [
        { severity: 'information', code: 'informational', details: { coding: [{ system: 'http://example.org/other', code: '99999' }, ...itk('20013').coding] } },
        { severity: 'information', code: 'informational', details: itk('30001') },
      ],
    };
    expect(itkCodesOfAnswer(answer)).to.deep.equal(['20013', '30001']);
  });

  it('reads every OperationOutcome entry of a response-message Bundle', () => {
    const answer = {
      resourceType: 'Bundle',
      type: 'message',
      entry: [
        { fullUrl: 'urn:uuid:1', resource: { resourceType: 'MessageHeader', response: { identifier: LETTER_ID, code: 'ok' } } },
        { fullUrl: 'urn:uuid:2', resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: itk('20013') }] } },
        { fullUrl: 'urn:uuid:3', resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', details: itk('30002', '30003') }] } },
      ],
    };
    expect(itkCodesOfAnswer(answer)).to.deep.equal(['20013', '30002', '30003']);
  });

  it("reads the connector's own ack message", () => {
    expect(itkCodesOfAnswer(ack('ok', ['20013', '30001']))).to.deep.equal(['20013', '30001']);
  });

  it('answers [] for junk without throwing', () => {
    const junk: unknown[] = [
      null,
      undefined,
      'OperationOutcome',
      42,
      true,
      [],
      [{ resourceType: 'OperationOutcome', issue: [{ details: itk('20013') }] }],
      {},
      { resourceType: 'Patient', issue: [{ details: itk('20013') }] },
      { resourceType: 'OperationOutcome' },
      { resourceType: 'OperationOutcome', issue: 'broken' },
      { resourceType: 'OperationOutcome', issue: [null, 'x', 7, {}, { details: null }, { details: 'x' }, { details: { coding: 'x' } }, { details: { coding: [null, 'x', {}] } }] },
      { resourceType: 'OperationOutcome', issue: [{ details: { coding: [{ system: ITK_RESPONSE_SYSTEM, code: 20013 }, { system: ITK_RESPONSE_SYSTEM }, { code: '20013' }] } }] },
      { resourceType: 'OperationOutcome', issue: [{ details: { coding: [{ system: 'https://fhir.nhs.uk/other', code: '20013' }, { system: null, code: '30001' }] } }] },
      { resourceType: 'Bundle' },
      { resourceType: 'Bundle', entry: 'x' },
      { resourceType: 'Bundle', entry: [null, 'x', {}, { resource: null }, { resource: 'x' }, { resource: { resourceType: 'Patient' } }, { resource: { resourceType: 'OperationOutcome' } }] },
      { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Communication', issue: [{ details: itk('20013') }] } }] },
      { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'OperationOutcome', issue: [{ details: itk('20013') }] } }] } }] },
    ];
    for (const answer of junk) {
      expect(itkCodesOfAnswer(answer), JSON.stringify(answer) ?? String(answer)).to.deep.equal([]);
    }
  });

  it('keeps the good codes among junk', () => {
    const answer = { resourceType: 'OperationOutcome', issue: [null, { details: { coding: [7, { system: ITK_RESPONSE_SYSTEM, code: 1 }, ...itk('30002').coding] } }, 'x'] };
    expect(itkCodesOfAnswer(answer)).to.deep.equal(['30002']);
  });
});
