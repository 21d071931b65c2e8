import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createFhirSchemaValidator } from '../../src/adapters/fhir/fhir-schema-validator.js';
import { checkAck, isAckMessage } from '../../src/domain/ack-rules.js';
import { isHttpEndpoint, senderResponse } from '../../src/domain/sender-response.js';

describe('the response Courier sends a trust whose letter did not get through', () => {
  const schema = createFhirSchemaValidator();
  const build = (outcome: 'rejected' | 'escalated') =>
    senderResponse({
      responseId: randomUUID(),
      outcomeId: randomUUID(),
      respondsTo: 'c7a3e4f0-0000-4000-8000-000000000001',
      outcome,
      reason: outcome === 'rejected' ? 'fatal-error 30002' : 'the filing deadline passed',
      at: new Date('2026-03-01T10:00:00Z'),
      senderEndpoint: 'https://trust.example/fhir',
      courierEndpoint: 'urn:courier:test',
    });

  for (const outcome of ['rejected', 'escalated'] as const) {
    it(`is a valid R4 response message for ${outcome}, readable as an ack of the letter`, () => {
      const bundle = build(outcome);
      expect(schema.validate(bundle)).to.deep.equal([]);
      expect(isAckMessage(bundle)).to.equal(true);
      const ack = checkAck(bundle);
      expect(ack.ok && ack.ack.respondsTo).to.equal('c7a3e4f0-0000-4000-8000-000000000001');
      expect(ack.ok && ack.ack.code).to.equal('fatal-error');
      expect(JSON.stringify(bundle)).to.contain(outcome === 'rejected' ? 'Rejected by the receiving practice' : 'escalated to a person');
    });
  }

  it('posts only to http(s) endpoints', () => {
    expect(isHttpEndpoint('https://trust.example/fhir')).to.equal(true);
    expect(isHttpEndpoint('http://10.0.0.1:8080/x')).to.equal(true);
    expect(isHttpEndpoint('urn:nhs-uk:addressing:ods:RX1')).to.equal(false);
    expect(isHttpEndpoint('mllp://host:2575')).to.equal(false);
    expect(isHttpEndpoint('not a url')).to.equal(false);
    expect(isHttpEndpoint(undefined)).to.equal(false);
  });
});
