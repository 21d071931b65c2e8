import { expect } from 'chai';
import { statusEvent } from '../../src/domain/status-event.js';

const LETTER = { trackingId: '0b7c4f7e-8d1c-4a7e-9f4e-3c2b1a0d9e8f', messageHeaderId: 'mh-1', destination: 'A81001' };

describe('status event (DESIGN §3)', () => {
  it('builds the body and the <state>.<ODS> routing key', () => {
    const at = new Date('2025-03-01T09:30:00.000+01:00');
    expect(statusEvent(LETTER, 'delivered', 'dispatched', at, 'infrastructure ack')).to.deep.equal({
      routingKey: 'delivered.A81001',
      body: {
        trackingId: LETTER.trackingId,
        messageHeaderId: 'mh-1',
        state: 'delivered',
        previousState: 'dispatched',
        at: '2025-03-01T08:30:00.000Z',
        reason: 'infrastructure ack',
      },
    });
  });

  it('marks acceptance with previousState null and keeps reason null when there is none', () => {
    const { routingKey, body } = statusEvent(LETTER, 'received', null, new Date('2025-03-01T08:00:00Z'), null);
    expect(routingKey).to.equal('received.A81001');
    expect(body.previousState).to.equal(null);
    expect(body.reason).to.equal(null);
  });

  it('carries exactly the contract fields, nothing clinical', () => {
    const { body } = statusEvent(LETTER, 'escalated', 'retrying', new Date(0), 'deadline');
    expect(Object.keys(body)).to.have.members(['trackingId', 'messageHeaderId', 'state', 'previousState', 'at', 'reason']);
    expect(JSON.parse(JSON.stringify(body))).to.deep.equal(body);
  });
});
