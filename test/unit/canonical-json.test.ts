import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { canonicalJson, letterContentHash } from '../../src/domain/canonical-json.js';

describe('canonical JSON and the letter content hash', () => {
  it('sorts keys at every depth and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: [{ d: true, c: null }], e: 'x' })).to.equal('{"a":[{"c":null,"d":true}],"b":1,"e":"x"}');
    expect(canonicalJson(JSON.parse('{ "z" : [ 1 , 2 ] ,\n "y" : { } }'))).to.equal('{"y":{},"z":[1,2]}');
  });

  it('sorts by UTF-16 code units, as RFC 8785 does', () => {
    // RFC 8785 §3.2.3 example keys: "\u20ac" (€), "\r", "\ufb33", "1", "\ud83d\ude00" (😀), "\u0080", "\u00f6"
    const value = { '\u20ac': 'Euro', '\r': 'CR', '\ufb33': 'Hebrew', '1': 'One', '\ud83d\ude00': 'Smiley', '\u0080': 'Control', '\u00f6': 'Latin' };
    expect(Object.values(JSON.parse(canonicalJson(value)) as Record<string, string>)).to.deep.equal(['One', 'CR', 'Control', 'Latin', 'Euro', 'Smiley', 'Hebrew']);
    expect(canonicalJson(value).indexOf('Smiley')).to.be.below(canonicalJson(value).indexOf('Hebrew'));
  });

  it('writes numbers and strings the ECMAScript way', () => {
    expect(canonicalJson(JSON.parse('[1.0, 1e2, -0, 0.000001, 1e-7, 1e21, 123456789012345680000]'))).to.equal('[1,100,0,0.000001,1e-7,1e+21,123456789012345680000]');
    expect(canonicalJson(['\u2028', '"\\', '\u0001', '\ud800'])).to.equal('["\u2028","\\"\\\\","\\u0001","\\ud800"]');
  });

  it('leaves out undefined members and writes undefined array items as null, like JSON.stringify', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).to.equal('{"b":[null,1]}');
    // eslint-disable-next-line no-sparse-arrays -- a hole on purpose
    expect(canonicalJson([, 1])).to.equal(JSON.stringify([, 1]));
    expect(canonicalJson(undefined)).to.equal('null');
  });

  it('hashes the canonical text with SHA-256, without the top-level id, meta and timestamp', () => {
    const bundle = { resourceType: 'Bundle', id: 'a', meta: { lastUpdated: '2026-01-01' }, timestamp: '2026-01-01T00:00:00Z', type: 'message', entry: [{ x: 1 }] };
    const expected = createHash('sha256').update('{"entry":[{"x":1}],"resourceType":"Bundle","type":"message"}').digest('hex');
    expect(letterContentHash(bundle)).to.equal(expected);
    expect(expected, 'pinned: a stored hash must stay comparable across releases').to.equal('d32e827fdf8ffff3cc0703ac17987054b5aec2bbfeb22f87338b1618a9cb7466');
  });

  it('gives a FHIR-style resend (new Bundle.id, meta and timestamp, other key order and spacing) the same hash', () => {
    const original = JSON.parse('{"resourceType":"Bundle","id":"a","meta":{"lastUpdated":"2026-01-01"},"timestamp":"2026-01-01T00:00:00Z","type":"message","entry":[{"x":1,"y":"z"}]}') as unknown;
    const resent = JSON.parse('{ "entry": [ { "y": "z", "x": 1.0 } ], "type": "message", "resourceType": "Bundle", "id": "b", "timestamp": "2026-02-02T00:00:00Z" }') as unknown;
    expect(letterContentHash(resent)).to.equal(letterContentHash(original));
  });

  it('gives different content a different hash, including ids and timestamps inside entries', () => {
    const base = { type: 'message', entry: [{ resource: { id: 'r1', timestamp: 't1', meta: { versionId: '1' } } }] };
    const variants = [
      { type: 'message', entry: [{ resource: { id: 'r2', timestamp: 't1', meta: { versionId: '1' } } }] },
      { type: 'message', entry: [{ resource: { id: 'r1', timestamp: 't2', meta: { versionId: '1' } } }] },
      { type: 'message', entry: [{ resource: { id: 'r1', timestamp: 't1', meta: { versionId: '2' } } }] },
      { type: 'message', entry: [{ resource: { id: 'r1', timestamp: 't1', meta: { versionId: '1' } } }], identifier: { value: 'x' } },
    ];
    for (const variant of variants) expect(letterContentHash(variant)).not.to.equal(letterContentHash(base));
    expect(letterContentHash({ a: [1, 2] })).not.to.equal(letterContentHash({ a: [2, 1] }));
    expect(letterContentHash({ a: '1' })).not.to.equal(letterContentHash({ a: 1 }));
  });

  it('hashes a value that is not an object as it is', () => {
    expect(letterContentHash([1])).to.equal(createHash('sha256').update('[1]').digest('hex'));
    expect(letterContentHash('x')).to.match(/^[0-9a-f]{64}$/);
  });
});
