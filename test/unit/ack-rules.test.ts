import { expect } from 'chai';
import { checkAck, isAckMessage, type AckCheck } from '../../src/domain/ack-rules.js';
import type { Bundle } from '../../src/domain/letter-rules.js';
import { ackMessage, ITK_RESPONSE_SYSTEM, ODS_SYSTEM, syntheticDocumentReferenceLetter, type Letter } from '../fixtures/letters.js';

const LETTER_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const H = 'Bundle.entry[0].resource';

function check(bundle: Letter): AckCheck {
  return checkAck(bundle as Bundle);
}
function refusedAt(bundle: Letter): { code: string | undefined; expression: readonly string[] | undefined } {
  const result = check(bundle);
  if (result.ok) expect.fail('accepted');
  return { code: result.issues[0]?.code, expression: result.issues[0]?.expression };
}

describe('acknowledgements (DESIGN §4)', () => {
  describe('isAckMessage', () => {
    it('is true for a message whose MessageHeader has a response, whatever the event', () => {
      expect(isAckMessage(ackMessage({ respondsTo: LETTER_ID, code: 'ok' }) as Bundle)).to.equal(true);
      expect(isAckMessage(ackMessage({ respondsTo: LETTER_ID, code: 'ok', event: 'ITK003D' }) as Bundle)).to.equal(true);
    });

    it('is false for a letter, and for a Bundle that is not a message', () => {
      expect(isAckMessage(syntheticDocumentReferenceLetter() as Bundle)).to.equal(false);
      expect(isAckMessage({ ...ackMessage({ respondsTo: LETTER_ID, code: 'ok' }), type: 'collection' } as Bundle)).to.equal(false);
      expect(isAckMessage({ resourceType: 'Bundle', type: 'message' })).to.equal(false);
    });
  });

  describe('checkAck', () => {
    it('extracts ids, the response code, the ITK codes in order and the sender ODS code', () => {
      const ack = ackMessage({ respondsTo: LETTER_ID, code: 'fatal-error', itkCodes: ['20013', '30002'], senderOds: 'A81002' });
      const result = check(ack);
      expect(result).to.deep.equal({
        ok: true,
        ack: { messageHeaderId: ack.entry[0].resource.id, respondsTo: LETTER_ID, code: 'fatal-error', itkCodes: ['20013', '30002'], senderOds: 'A81002' },
      });
    });

    it('gives no ITK codes without response.details', () => {
      const result = check(ackMessage({ respondsTo: LETTER_ID, code: 'ok' }));
      expect(result.ok && result.ack.itkCodes).to.deep.equal([]);
    });

    it('reads only codes of the ITK response code system, from every issue', () => {
      const ack = ackMessage({ respondsTo: LETTER_ID, code: 'ok', itkCodes: ['30001'] });
      const outcome = ack.entry[1].resource;
      outcome.issue[0].details.coding.unshift({ system: 'http://example.org/other', code: '99999' }, { system: ITK_RESPONSE_SYSTEM });
      outcome.issue.push({ severity: 'information', code: 'informational', details: { coding: [{ system: ITK_RESPONSE_SYSTEM, code: '20013' }] } });
      outcome.issue.push({ severity: 'information', code: 'informational', diagnostics: 'no details' });
      const result = check(ack);
      expect(result.ok && result.ack.itkCodes).to.deep.equal(['30001', '20013']);
    });

    it('takes the sender from an Organization entry the sender references', () => {
      const ack = ackMessage({ respondsTo: LETTER_ID, code: 'ok' });
      ack.entry.push({ fullUrl: 'urn:uuid:5d3c1b9a-0000-4000-8000-00000000000b', resource: { resourceType: 'Organization', identifier: [{ system: ODS_SYSTEM, value: 'B82005' }] } });
      ack.entry[0].resource.sender = { reference: 'urn:uuid:5d3c1b9a-0000-4000-8000-00000000000b' };
      const result = check(ack);
      expect(result.ok && result.ack.senderOds).to.equal('B82005');
    });

    it('gives senderOds null when the sender names no ODS code, a malformed one, or two that disagree', () => {
      const variants: ((ack: Letter) => void)[] = [
        (ack) => delete ack.entry[0].resource.sender,
        (ack) => (ack.entry[0].resource.sender = { display: 'A practice' }),
        (ack) => (ack.entry[0].resource.sender.identifier.value = 'a81001'),
        (ack) => (ack.entry[0].resource.sender.identifier.system = 'http://example.org/ods'),
        (ack) => {
          ack.entry.push({ fullUrl: 'urn:uuid:5d3c1b9a-0000-4000-8000-00000000000c', resource: { resourceType: 'Organization', identifier: [{ system: ODS_SYSTEM, value: 'B82005' }] } });
          ack.entry[0].resource.sender.reference = 'urn:uuid:5d3c1b9a-0000-4000-8000-00000000000c';
        },
      ];
      for (const vary of variants) {
        const ack = ackMessage({ respondsTo: LETTER_ID, code: 'ok' });
        vary(ack);
        const result = check(ack);
        expect(result.ok && result.ack.senderOds).to.equal(null);
      }
    });

    it('refuses what is not an acknowledgement, saying where', () => {
      const cases: [string, (ack: Letter) => void, string, string][] = [
        ['not a message', (ack) => (ack.type = 'collection'), 'business-rule', 'Bundle.type'],
        ['no MessageHeader first', (ack) => ack.entry.reverse(), 'business-rule', H],
        ['no MessageHeader.id', (ack) => delete ack.entry[0].resource.id, 'required', `${H}.id`],
        ['no response', (ack) => delete ack.entry[0].resource.response, 'required', `${H}.response`],
        ['response.identifier not an id', (ack) => (ack.entry[0].resource.response.identifier = 'not an id!'), 'value', `${H}.response.identifier`],
        ['details dangling', (ack) => ack.entry.splice(1, 1), 'not-found', `${H}.response.details.reference`],
        ['details not an OperationOutcome', (ack) => (ack.entry[1].resource = { resourceType: 'Patient' }), 'business-rule', `${H}.response.details.reference`],
        ['details by identifier only', (ack) => (ack.entry[0].resource.response.details = { identifier: { value: 'x' } }), 'not-found', `${H}.response.details`],
      ];
      for (const [name, mutate, code, expression] of cases) {
        const ack = ackMessage({ respondsTo: LETTER_ID, code: 'ok', itkCodes: ['20013'] });
        mutate(ack);
        expect(refusedAt(ack), name).to.deep.equal({ code, expression: [expression] });
      }
    });

    it('never repeats values from the ack in its issues', () => {
      const ack = ackMessage({ respondsTo: 'secret id 9990000115', code: 'ok' });
      const result = check(ack);
      expect(result.ok).to.equal(false);
      expect(JSON.stringify(result)).not.to.match(/secret|9990000115/);
    });
  });
});
