import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { MessageRecord } from '../../src/app/ports.js';
import { RecentLetters } from '../../src/app/recent-letters.js';
import type { OdsCode, TrackingId } from '../../src/domain/ids.js';
import type { MessageState } from '../../src/domain/message-state.js';

const T0 = new Date('2026-03-01T09:00:00.000Z');

function record(overrides: Partial<MessageRecord> = {}): MessageRecord {
  return {
    trackingId: randomUUID() as TrackingId,
    messageHeaderId: randomUUID(),
    bundleIdentifier: null,
    sender: 'RX1',
    event: 'ITK003D',
    destination: 'A81001' as OdsCode,
    state: 'received',
    version: 1,
    attempts: 0,
    sequence: 1,
    createdAt: T0,
    updatedAt: T0,
    nextDeadline: null,
    deadlineAt: T0,
    replyTo: null,
    ...overrides,
  };
}

describe('RecentLetters: snapshots of the letters this instance last read or changed', () => {
  it('finds a remembered letter by tracking id and by MessageHeader.id', () => {
    const recent = new RecentLetters();
    const letter = record();
    recent.remember(letter);
    expect(recent.get(letter.trackingId)).to.equal(letter);
    expect(recent.byMessageHeaderId(letter.messageHeaderId)).to.equal(letter);
    expect(recent.get(randomUUID() as TrackingId)).to.equal(undefined);
    expect(recent.byMessageHeaderId(randomUUID())).to.equal(undefined);
  });

  it('keeps the later version of a letter when an older snapshot comes after it', () => {
    const recent = new RecentLetters();
    const v2 = record({ version: 2, state: 'dispatched' });
    const v1 = { ...v2, version: 1, state: 'received' as MessageState };
    recent.remember(v2);
    recent.remember(v1);
    expect(recent.get(v2.trackingId)).to.equal(v2);
    const v3 = { ...v2, version: 3, state: 'delivered' as MessageState };
    recent.remember(v3);
    expect(recent.get(v2.trackingId)).to.equal(v3);
    expect(recent.size).to.equal(1);
  });

  it('lets a letter go once it is final: nothing more happens to it', () => {
    const recent = new RecentLetters();
    const letter = record({ state: 'delivered', version: 3 });
    recent.remember(letter);
    for (const state of ['filed', 'rejected', 'cancelled', 'resolved'] as const) {
      recent.remember(letter);
      recent.remember({ ...letter, state, version: 4 });
      expect(recent.get(letter.trackingId), state).to.equal(undefined);
      expect(recent.byMessageHeaderId(letter.messageHeaderId), state).to.equal(undefined);
    }
    const escalated = { ...letter, state: 'escalated' as MessageState, version: 4 };
    recent.remember(escalated);
    expect(recent.get(letter.trackingId), 'escalated waits for a person: not final').to.equal(escalated);
  });

  it('holds at most its capacity, letting the least recently remembered letter go first', () => {
    const recent = new RecentLetters(3);
    const [a, b, c, d] = [record(), record(), record(), record()];
    for (const r of [a, b, c]) recent.remember(r);
    recent.remember({ ...a, version: 2 }); // a is now the most recent
    recent.remember(d);
    expect(recent.size).to.equal(3);
    expect(recent.get(b.trackingId), 'b was the least recently remembered').to.equal(undefined);
    expect(recent.byMessageHeaderId(b.messageHeaderId)).to.equal(undefined);
    expect([a, c, d].map((r) => recent.get(r.trackingId)?.trackingId)).to.deep.equal([a, c, d].map((r) => r.trackingId));
  });

  it('forgets a letter on request and refuses a capacity below one', () => {
    const recent = new RecentLetters();
    const letter = record();
    recent.remember(letter);
    recent.forget(letter.trackingId);
    recent.forget(letter.trackingId);
    expect(recent.get(letter.trackingId)).to.equal(undefined);
    expect(recent.byMessageHeaderId(letter.messageHeaderId)).to.equal(undefined);
    expect(() => new RecentLetters(0)).to.throw(RangeError);
  });
});
