import { expect } from 'chai';
import { itkCodeDisplay, mapAck, type Ack, type AckMapping } from '../../src/domain/ack-mapping.js';

/** Shorthand for the expected outcome: the event kind, or 'unrecognised'. */
function kindOf(mapping: AckMapping): string {
  return mapping.kind === 'event' ? mapping.event.kind : mapping.kind;
}

describe('ack mapping (DESIGN §4, ITK3 response codes)', () => {
  const table: readonly (readonly [Ack['code'], readonly string[], string])[] = [
    ['ok', ['20013'], 'infrastructure-ack'],
    ['ok', ['30001'], 'business-ack'],
    ['ok', ['30004'], 'business-ack'],
    ['ok', ['20013', '30001'], 'business-ack'],
    ['ok', [], 'business-ack'],
    ['ok', ['30002'], 'rejected'],
    ['ok', ['30003'], 'rejected'],
    ['ok', ['20013', '30002'], 'rejected'],
    ['ok', ['20007'], 'rejected'],
    ['ok', ['10001'], 'rejected'],
    ['ok', ['99999'], 'unrecognised'],
    ['ok', ['20013', 'XYZ'], 'unrecognised'],
    ['fatal-error', ['30002'], 'rejected'],
    ['fatal-error', ['20009'], 'rejected'],
    ['fatal-error', [], 'rejected'],
    ['fatal-error', ['20013'], 'rejected'],
    ['fatal-error', ['99999'], 'rejected'],
    ['transient-error', [], 'transient-error'],
    ['transient-error', ['10009'], 'transient-error'],
    ['transient-error', ['20013'], 'transient-error'],
  ];
  for (const [code, itkCodes, expected] of table) {
    it(`${code} + [${itkCodes.join(', ')}] → ${expected}`, () => {
      expect(kindOf(mapAck({ code, itkCodes }))).to.equal(expected);
    });
  }

  it('names the codes in a rejection reason', () => {
    expect(mapAck({ code: 'fatal-error', itkCodes: ['30002'] })).to.deep.equal({
      kind: 'event',
      event: { kind: 'rejected', reason: 'fatal-error: 30002 Patient not known here' },
    });
    expect(mapAck({ code: 'ok', itkCodes: ['20013', '30003'] })).to.deep.equal({
      kind: 'event',
      event: { kind: 'rejected', reason: 'ok with negative ITK code: 30003 Patient no longer at this clinical setting' },
    });
    expect(mapAck({ code: 'fatal-error', itkCodes: [] })).to.deep.equal({
      kind: 'event',
      event: { kind: 'rejected', reason: 'fatal-error without an ITK response code' },
    });
  });

  it('never copies arbitrary text from the ack into a reason', () => {
    for (const junk of ['<script>alert(1)</script>', '9434765919', 'x'.repeat(10_000)]) {
      const mapping = mapAck({ code: 'ok', itkCodes: [junk] });
      expect(mapping).to.deep.equal({ kind: 'unrecognised', reason: 'ok with unknown ITK response code (malformed code): not applied' });
    }
    expect(mapAck({ code: 'ok', itkCodes: ['39999'] })).to.deep.equal({
      kind: 'unrecognised',
      reason: 'ok with unknown ITK response code 39999: not applied',
    });
    expect(mapAck({ code: 'transient-error', itkCodes: ['9434765919'] })).to.deep.equal({
      kind: 'event',
      event: { kind: 'transient-error', reason: 'transient-error: (malformed code)' },
    });
  });

  it('ignores repeated and padded codes', () => {
    expect(kindOf(mapAck({ code: 'ok', itkCodes: [' 20013', '20013 '] }))).to.equal('infrastructure-ack');
  });

  it('knows the code system displays', () => {
    expect(itkCodeDisplay('20013')).to.equal('Success');
    expect(itkCodeDisplay('30001')).to.equal('Patient known here');
    expect(itkCodeDisplay('12345')).to.equal(undefined);
  });
});

describe('ack mapping: reason length', () => {
  it('lists at most five codes', () => {
    const codes = Array.from({ length: 50 }, (_, i) => String(40000 + i));
    const mapping = mapAck({ code: 'fatal-error', itkCodes: codes });
    expect(mapping).to.deep.equal({ kind: 'event', event: { kind: 'rejected', reason: 'fatal-error: 40000; 40001; 40002; 40003; 40004; and 45 more' } });
  });
});
