import { expect } from 'chai';
import { topologyNames } from '../../src/domain/topology-names.js';
import { isOdsCode } from '../../src/domain/ids.js';

function ods(value: string) {
  if (!isOdsCode(value)) throw new Error(`bad test ODS code ${value}`);
  return value;
}

describe('topology names (DESIGN §3)', () => {
  it('builds every name from the default prefix', () => {
    const names = topologyNames('courier');
    expect({
      outbound: names.outbound,
      practice: names.practiceQueue(ods('A81001')),
      deadLetterExchange: names.deadLetterExchange,
      deadLetterQueue: names.deadLetterQueue,
      inboundExchange: names.inboundExchange,
      inboundQueue: names.inboundQueue,
      events: names.events,
    }).to.deep.equal({
      outbound: 'courier.outbound',
      practice: 'courier.gp.A81001',
      deadLetterExchange: 'courier.dead-letter',
      deadLetterQueue: 'courier.dead-letter',
      inboundExchange: 'courier.inbound',
      inboundQueue: 'courier.inbound',
      events: 'courier.events',
    });
  });

  it('uses the configured prefix everywhere, so test namespaces never collide', () => {
    const names = topologyNames('t-1a2b');
    const all = [names.outbound, names.practiceQueue(ods('Y12345')), names.deadLetterExchange, names.deadLetterQueue, names.inboundExchange, names.inboundQueue, names.events];
    for (const name of all) expect(name.startsWith('t-1a2b.')).to.equal(true);
    expect(names.practiceQueue(ods('Y12345'))).to.equal('t-1a2b.gp.Y12345');
  });
});
