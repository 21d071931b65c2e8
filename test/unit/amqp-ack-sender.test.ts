import { expect } from 'chai';
import { amqpAckSender } from '../../src/adapters/amqp/inbound-consumers.js';
import type { OdsCode } from '../../src/domain/ids.js';

describe('who sent an ack on courier.inbound (DESIGN §4)', () => {
  const practices = [
    { ods: 'A81001' as OdsCode, name: 'Own user', brokerUser: 'gp-a81001' },
    { ods: 'A81002' as OdsCode, name: 'Routing key only' },
  ];

  it('takes the routing key for a practice without a broker user, whatever user_id says', () => {
    expect(amqpAckSender('A81002', undefined, practices)).to.deep.equal({ ods: 'A81002' });
    expect(amqpAckSender('A81002', 'gp-a81001', practices)).to.deep.equal({ ods: 'A81002' });
  });

  it('needs the configured user_id for a practice with a broker user', () => {
    expect(amqpAckSender('A81001', 'gp-a81001', practices)).to.deep.equal({ ods: 'A81001' });
    expect(amqpAckSender('A81001', undefined, practices).refusal).to.match(/no broker user_id/);
    expect(amqpAckSender('A81001', 'gp-a81002', practices).refusal).to.match(/not this practice's user/);
    expect(amqpAckSender('A81001', 'GP-A81001', practices).refusal, 'user names are exact').to.match(/not this practice's user/);
  });

  it('refuses a routing key that is no directory practice', () => {
    expect(amqpAckSender('Z99999', undefined, practices)).to.deep.equal({ ods: null, refusal: 'the routing key is not a known practice' });
    expect(amqpAckSender('', 'gp-a81001', practices).ods).to.equal(null);
  });
});
