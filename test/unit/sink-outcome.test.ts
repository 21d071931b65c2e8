import { expect } from 'chai';
import { mapAck } from '../../src/domain/ack-mapping.js';
import { sinkDecision, type SinkResult } from '../../src/domain/sink-outcome.js';

const answered = (status: number, itkCodes: string[] = []): SinkResult => ({ kind: 'answered', status, itkCodes });

describe('practice connector: what an endpoint answer means (issue 5)', () => {
  it('2xx is received; with 30001 it is filed too; a negative code in a 2xx is a refusal', () => {
    expect(sinkDecision(answered(201), 1, 5)).to.deep.equal({ kind: 'acknowledge', acks: [{ code: 'ok', itkCodes: ['20013'] }] });
    expect(sinkDecision(answered(200, ['30001']), 1, 5)).to.deep.equal({
      kind: 'acknowledge',
      acks: [
        { code: 'ok', itkCodes: ['20013'] },
        { code: 'ok', itkCodes: ['30001'] },
      ],
    });
    expect(sinkDecision(answered(200, ['30002']), 1, 5)).to.deep.equal({ kind: 'acknowledge', acks: [{ code: 'fatal-error', itkCodes: ['30002'] }] });
  });

  it('a letter stored in a folder is received, not filed', () => {
    expect(sinkDecision({ kind: 'stored' }, 1, 5)).to.deep.equal({ kind: 'acknowledge', acks: [{ code: 'ok', itkCodes: ['20013'] }] });
  });

  it('4xx is final, carrying the ITK codes that say why; 408, 425 and 429 are "later"', () => {
    expect(sinkDecision(answered(422, ['30002', '99999']), 1, 5)).to.deep.equal({ kind: 'acknowledge', acks: [{ code: 'fatal-error', itkCodes: ['30002'] }] });
    expect(sinkDecision(answered(400), 1, 5)).to.deep.equal({ kind: 'acknowledge', acks: [{ code: 'fatal-error', itkCodes: [] }] });
    for (const status of [408, 425, 429]) expect(sinkDecision(answered(status), 1, 5), String(status)).to.deep.equal({ kind: 'retry' });
  });

  it('5xx and no answer are retried, then handed to Courier as transient-error at the limit', () => {
    expect(sinkDecision(answered(503), 1, 3)).to.deep.equal({ kind: 'retry' });
    expect(sinkDecision({ kind: 'no-answer' }, 2, 3)).to.deep.equal({ kind: 'retry' });
    expect(sinkDecision({ kind: 'no-answer' }, 3, 3)).to.deep.equal({ kind: 'acknowledge', acks: [{ code: 'transient-error', itkCodes: [] }] });
  });

  it('sends acks Courier maps to the intended states', () => {
    const kinds = (result: SinkResult) => {
      const decision = sinkDecision(result, 5, 5);
      return decision.kind === 'retry' ? ['retry'] : decision.acks.map((a) => { const m = mapAck(a); return m.kind === 'event' ? m.event.kind : m.kind; });
    };
    expect(kinds(answered(201))).to.deep.equal(['infrastructure-ack']);
    expect(kinds(answered(201, ['30001']))).to.deep.equal(['infrastructure-ack', 'business-ack']);
    expect(kinds(answered(422, ['30002']))).to.deep.equal(['rejected']);
    expect(kinds(answered(500))).to.deep.equal(['transient-error']);
  });
});
