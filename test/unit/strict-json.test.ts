import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { MAX_JSON_DEPTH, parseStrictJson } from '../../src/adapters/fhir/strict-json.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';
import { SENTINEL_NHS_NUMBER } from '../fixtures/nhs-numbers.js';

function diagnostics(input: string | Uint8Array): string {
  const result = parseStrictJson(input);
  if (result.ok) throw new Error('expected a refusal');
  expect(result.issue).to.include({ severity: 'error', code: 'structure' });
  return result.issue.diagnostics;
}

/** A deterministic pseudo-random generator (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random JSON text of objects, arrays and awkward strings; with `duplicate`, one object repeats a key. */
function randomJson(next: () => number, duplicate: boolean): string {
  const keys = ['a', 'b', 'id', 'x:y', '{', '"q"', 'é', '\\', '[]', 'resourceType'];
  const strings = ['', ':', '{"a":1}', '\\"', '[[', 'x\ny', '\u2028'];
  let duplicated = false;
  const value = (depth: number): string => {
    const r = next();
    if (depth > 5 || r < 0.3) return JSON.stringify(strings[Math.floor(next() * strings.length)]);
    if (r < 0.4) return String(Math.floor(next() * 1000) / 10);
    if (r < 0.6) return `[${Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1)).join(',')}]`;
    const chosen = [...new Set(Array.from({ length: 1 + Math.floor(next() * 4) }, () => keys[Math.floor(next() * keys.length)] ?? 'a'))];
    if (duplicate && !duplicated && next() < 0.5) {
      chosen.push(chosen[0] ?? 'a');
      duplicated = true;
    }
    return `{${chosen.map((k) => `${JSON.stringify(k)} : ${value(depth + 1)}`).join(' ,')}}`;
  };
  const text = value(0);
  return duplicate && !duplicated ? `{"a":${text},"a":1}` : text;
}

describe('parseStrictJson', () => {
  it('parses ordinary JSON, strings with escapes, and drops a leading BOM from bytes or text', () => {
    expect(parseStrictJson('{"a":[1,{"b":"x\\"}y"}],"c":"\\\\","d":null}')).to.deep.equal({ ok: true, value: { a: [1, { b: 'x"}y' }], c: '\\', d: null } });
    expect(parseStrictJson(Buffer.from('\uFEFF{"a":1}'))).to.deep.equal({ ok: true, value: { a: 1 } });
    expect(parseStrictJson('\uFEFF{"a":1}')).to.deep.equal({ ok: true, value: { a: 1 } });
    expect(parseStrictJson(new Uint8Array(Buffer.from('"é ✓ 𝄞"')))).to.deep.equal({ ok: true, value: 'é ✓ 𝄞' });
  });

  it('allows the same key in different objects', () => {
    expect(parseStrictJson('{"a":{"id":1},"b":{"id":2},"c":[{"id":3},{"id":4}],"id":5}').ok).to.equal(true);
  });

  it('refuses duplicate keys and says where, by character offset', () => {
    const text = '{"type":"message","type":"document"}';
    expect(diagnostics(text)).to.equal(`Duplicate property name at character ${text.lastIndexOf('"type"')}`);
    expect(diagnostics('{"a":[{"x":1},{"x":1,"y":2,"x":3}]}')).to.equal('Duplicate property name at character 27');
  });

  it('refuses duplicate keys spelled differently with escapes', () => {
    expect(diagnostics('{"a":{"x":1,"\\u0078":2}}')).to.match(/^Duplicate property name/);
    expect(diagnostics('{"\\"":1,"\\u0022":2}')).to.match(/^Duplicate property name/);
  });

  it('is not fooled by quotes, colons and brackets inside strings', () => {
    expect(parseStrictJson('{"a":"b\\":","c":"b\\":","d":"[[[{{{","e\\\\":"\\\\"}').ok).to.equal(true);
    expect(parseStrictJson(`{"a":"${'['.repeat(MAX_JSON_DEPTH + 5)}"}`).ok).to.equal(true);
  });

  it('agrees with a reference check on random JSON with and without a duplicate key', () => {
    const next = random(20261125);
    for (let i = 0; i < 400; i++) {
      const duplicate = i % 2 === 1;
      const text = randomJson(next, duplicate);
      JSON.parse(text); // the generator writes valid JSON
      const result = parseStrictJson(text);
      expect(result.ok, text).to.equal(!duplicate);
      if (!result.ok) expect(result.issue.diagnostics, text).to.match(/^Duplicate property name at character \d+$/);
    }
  });

  it('refuses nesting deeper than the limit, but not at it', () => {
    expect(parseStrictJson(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`).ok).to.equal(true);
    expect(parseStrictJson(`${'{"a":'.repeat(MAX_JSON_DEPTH)}1${'}'.repeat(MAX_JSON_DEPTH)}`).ok).to.equal(true);
    expect(diagnostics(`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`)).to.equal(`JSON nesting deeper than ${MAX_JSON_DEPTH} levels (at character ${MAX_JSON_DEPTH})`);
  });

  it('refuses a 5 MB tower of brackets before building anything', () => {
    const started = performance.now();
    expect(diagnostics(`${'['.repeat(2_500_000)}${']'.repeat(2_500_000)}`)).to.match(/nesting deeper/);
    expect(diagnostics('['.repeat(5_000_000))).to.match(/nesting deeper/);
    expect(performance.now() - started).to.be.below(1000);
  });

  it('refuses prototype keys anywhere, and nothing gets polluted', () => {
    expect(diagnostics('{"__proto__":{"polluted":true}}')).to.equal('Forbidden property name at character 1');
    expect(diagnostics('{"a":[{"constructor":{"prototype":{"polluted":true}}}]}')).to.match(/^Forbidden property name/);
    expect(diagnostics('{"a":{"prototype":1}}')).to.match(/^Forbidden property name/);
    expect(diagnostics('{"\\u005f_proto__":{"polluted":true}}')).to.match(/^Forbidden property name/);
    expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
    expect(Object.prototype).not.to.have.property('polluted');
  });

  it('(what it guards against) JSON.parse makes "__proto__" an own property without touching any prototype', () => {
    const parsed = JSON.parse('{"__proto__":{"polluted":true}}') as object;
    expect(Object.keys(parsed)).to.deep.equal(['__proto__']);
    expect(Object.getPrototypeOf(parsed)).to.equal(Object.prototype);
    const merged = Object.assign({}, parsed) as Record<string, unknown>;
    expect(merged['polluted'], 'but Object.assign turns it into a prototype').to.equal(true);
  });

  it('refuses invalid UTF-8 of every kind', () => {
    const cases = [
      [0xc3, 0x28], // a lead byte without its continuation
      [0x80], // a lone continuation byte
      [0xc0, 0xaf], // an overlong encoding of "/"
      [0xed, 0xa0, 0x80], // a UTF-16 surrogate encoded as UTF-8
      [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
      [0xe2, 0x82], // truncated three-byte sequence
    ];
    for (const bytes of cases) {
      const body = Buffer.concat([Buffer.from('{"a":"'), Buffer.from(bytes), Buffer.from('"}')]);
      expect(diagnostics(body), bytes.join(' ')).to.equal('The body is not valid UTF-8');
    }
    expect(diagnostics(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"a":1}', 'utf16le')]))).to.equal('The body is not valid UTF-8');
  });

  it('refuses what JSON.parse refuses, naming at most an offset, never the input', () => {
    for (const text of ['', ' ', '{"nhs":"9990000115",', '{"nhs":9990000115,}', "{'a':1}", '{"a":1} x', '{"a":NaN}', '{"a":"x\u0001y"}', '{"a":"x\u0000y"}', '{"9990000115"}']) {
      const said = diagnostics(text);
      expect(said, text).to.match(/^The body is not valid JSON( \(at character \d+\))?$/);
      expect(said).not.to.include(SENTINEL_NHS_NUMBER);
    }
    expect(diagnostics('{"a":1,}')).to.equal('The body is not valid JSON (at character 7)');
  });

  it('checks a 5 MB letter quickly and still finds a duplicate key at its very end', () => {
    const letter = syntheticDocumentReferenceLetter();
    for (let i = 0; i < 30_000; i++) {
      letter.entry.push({ fullUrl: `urn:uuid:${randomUUID()}`, resource: { resourceType: 'Observation', status: 'final', code: { text: 'Heart rate' }, valueQuantity: { value: 60, unit: '/min' } } });
    }
    const body = Buffer.from(JSON.stringify(letter));
    expect(body.length).to.be.above(4_500_000);
    const started = performance.now();
    expect(parseStrictJson(body).ok).to.equal(true);
    const ms = performance.now() - started;
    expect(ms, 'linear, about 50 ms here; quadratic would take minutes').to.be.below(2000);
    const broken = Buffer.concat([body.subarray(0, body.length - 1), Buffer.from(',"type":"message"}')]);
    expect(diagnostics(broken)).to.equal(`Duplicate property name at character ${body.length}`);
  });
});
