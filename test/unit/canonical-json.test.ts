import { expect } from 'chai';
import { canonicalJson, letterContentHash } from '../../src/domain/canonical-json.js';

describe('canonical JSON and the letter content hash', () => {
  it('sorts keys at every depth and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: [{ d: true, c: null }], e: 'x' })).to.equal('{"a":[{"c":null,"d":true}],"b":1,"e":"x"}');
  });

  it('gives a resend with a new Bundle.id, meta and timestamp the same hash', () => {
    const original = { resourceType: 'Bundle', id: 'a', meta: { lastUpdated: '2026-01-01' }, timestamp: '2026-01-01T00:00:00Z', type: 'message', entry: [{ x: 1 }] };
    const resent = { entry: [{ x: 1 }], type: 'message', resourceType: 'Bundle', id: 'b', timestamp: '2026-02-02T00:00:00Z' };
    expect(letterContentHash(resent)).to.equal(letterContentHash(original));
    expect(letterContentHash(original)).to.match(/^[0-9a-f]{64}$/);
  });

  it('gives different content a different hash', () => {
    expect(letterContentHash({ type: 'message', entry: [{ x: 1 }] })).not.to.equal(letterContentHash({ type: 'message', entry: [{ x: 2 }] }));
    expect(letterContentHash({ a: [1, 2] })).not.to.equal(letterContentHash({ a: [2, 1] }));
  });
});
