import { expect } from 'chai';
import { MAX_JSON_DEPTH, parseStrictJson } from '../../src/adapters/fhir/strict-json.js';

function diagnostics(input: string | Uint8Array): string {
  const result = parseStrictJson(input);
  if (result.ok) throw new Error('expected a refusal');
  return result.issue.diagnostics;
}

describe('parseStrictJson', () => {
  it('parses ordinary JSON, strings with escapes and a leading BOM', () => {
    expect(parseStrictJson('{"a":[1,{"b":"x\\"}y"}],"c":"\\\\"}')).to.deep.equal({ ok: true, value: { a: [1, { b: 'x"}y' }], c: '\\' } });
    expect(parseStrictJson(Buffer.from('\uFEFF{"a":1}'))).to.deep.equal({ ok: true, value: { a: 1 } });
  });

  it('allows the same key in different objects', () => {
    expect(parseStrictJson('{"a":{"id":1},"b":{"id":2},"c":[{"id":3},{"id":4}]}').ok).to.equal(true);
  });

  it('refuses duplicate keys, also when spelled with escapes', () => {
    expect(diagnostics('{"type":"message","type":"document"}')).to.match(/Duplicate property name/);
    expect(diagnostics('{"a":{"x":1,"\\u0078":2}}')).to.match(/Duplicate property name/);
  });

  it('does not mistake string values containing quotes or colons for keys', () => {
    expect(parseStrictJson('{"a":"b\\":","c":"b\\":"}').ok).to.equal(true);
  });

  it('refuses nesting deeper than the limit but not at it', () => {
    expect(parseStrictJson(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`).ok).to.equal(true);
    expect(diagnostics(`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`)).to.match(/nesting deeper/);
  });

  it('refuses prototype keys', () => {
    expect(diagnostics('{"__proto__":{"polluted":true}}')).to.match(/Forbidden property/);
    expect(diagnostics('{"a":{"constructor":1}}')).to.match(/Forbidden property/);
    expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
  });

  it('refuses invalid UTF-8 and invalid JSON without quoting the input', () => {
    expect(diagnostics(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]))).to.equal('The body is not valid UTF-8');
    const text = diagnostics('{"nhs":"9990000018",');
    expect(text).to.equal('The body is not valid JSON');
    expect(diagnostics('{"a":"x\u0001y"}')).to.equal('The body is not valid JSON');
  });
});
