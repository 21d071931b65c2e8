import { expect } from 'chai';
import type { ManualActionBody } from '../../src/app/manual-action.js';
import { RESEND_ACTOR_MAX, RESEND_REASON_MAX, parseResendRequest, type ParsedResendRequest } from '../../src/app/resend-request.js';
import { SENTINEL_NHS_NUMBER } from '../fixtures/nhs-numbers.js';

const json = (value: unknown): ManualActionBody => ({ ok: true, value });
const VALID = { sequence: 41, reason: 'sequence 41 missing for 10 minutes', actor: 'connector-a81001' };

function issuesOf(result: ParsedResendRequest): { code: string; expression: readonly string[]; diagnostics: string }[] {
  if (result.ok) return expect.fail('expected the request to be refused');
  return result.issues.map(({ code, expression, diagnostics }) => ({ code, expression, diagnostics }));
}
/** `[expression, issue code]` of every issue, e.g. `['sequence', 'required']`. */
function problems(body: unknown): string[][] {
  return issuesOf(parseResendRequest(json(body))).map((i) => [i.expression.join() || '-', i.code]);
}

describe('resend request: body validation', () => {
  it('accepts a sequence number, a reason and an actor, trimmed', () => {
    expect(parseResendRequest(json({ sequence: 41, reason: '  sequence 41 missing \n', actor: ' GP connector (A81001) v1.2 ' }))).to.deep.equal({
      ok: true,
      request: { sequence: 41, reason: 'sequence 41 missing', actor: 'GP connector (A81001) v1.2' },
    });
  });

  it('accepts the limits: sequence 1 and the largest safe integer, a 500-character reason, a 200-character actor', () => {
    for (const sequence of [1, 2, Number.MAX_SAFE_INTEGER]) expect(parseResendRequest(json({ ...VALID, sequence })).ok, String(sequence)).to.equal(true);
    expect(parseResendRequest(json({ ...VALID, reason: 'r'.repeat(RESEND_REASON_MAX), actor: 'a'.repeat(RESEND_ACTOR_MAX) })).ok).to.equal(true);
  });

  it('lists every missing property as required, by name', () => {
    expect(problems({})).to.deep.equal([
      ['sequence', 'required'],
      ['reason', 'required'],
      ['actor', 'required'],
    ]);
    expect(issuesOf(parseResendRequest(json({}))).map((i) => i.diagnostics)).to.deep.equal([
      'sequence is required: the x-courier-sequence number that is missing',
      'reason is required: why the letter is asked for again (e.g. sequence 41 missing for 10 minutes)',
      'actor is required: who asks (e.g. the connector name)',
    ]);
  });

  it('refuses a sequence that is not a whole number of 1 or more', () => {
    for (const sequence of [0, -1, 1.5, 2 ** 53, 1e300]) expect(problems({ ...VALID, sequence }), String(sequence)).to.deep.equal([['sequence', 'value']]);
    for (const sequence of ['41', null, true, [41], { n: 41 }]) expect(problems({ ...VALID, sequence }), JSON.stringify(sequence)).to.deep.equal([['sequence', 'structure']]);
  });

  it('refuses a blank, too long or control-character reason or actor', () => {
    expect(problems({ ...VALID, reason: ' \t ', actor: '' })).to.deep.equal([
      ['reason', 'required'],
      ['actor', 'required'],
    ]);
    expect(problems({ ...VALID, reason: 'r'.repeat(RESEND_REASON_MAX + 1), actor: 'a'.repeat(RESEND_ACTOR_MAX + 1) })).to.deep.equal([
      ['reason', 'too-long'],
      ['actor', 'too-long'],
    ]);
    for (const bad of ['a\nb', 'a\u0000b', 'a\u2028b', 'a\u202eb', 'a\ud800b']) {
      expect(problems({ ...VALID, reason: bad, actor: bad }), JSON.stringify(bad)).to.deep.equal([
        ['reason', 'value'],
        ['actor', 'value'],
      ]);
    }
  });

  it('refuses unknown properties and bodies that are not objects', () => {
    expect(problems({ ...VALID, trackingId: 'x' })).to.deep.equal([['trackingId', 'structure']]);
    for (const body of [null, [], 41, 'resend']) expect(problems(body), JSON.stringify(body)).to.deep.equal([['-', 'structure']]);
  });

  it('passes on the one problem of a body that could not be read', () => {
    const issue = { severity: 'error', code: 'structure', diagnostics: 'The body is not valid JSON', expression: [] } as const;
    expect(parseResendRequest({ ok: false, issue })).to.deep.equal({ ok: false, issues: [issue] });
  });

  it('never quotes the input in its diagnostics', () => {
    const sentinel = `Patient ${SENTINEL_NHS_NUMBER}`;
    for (const body of [
      { sequence: sentinel, reason: `${sentinel}\n`, actor: sentinel.repeat(30) },
      { ...VALID, [sentinel]: sentinel },
      { sequence: Number(SENTINEL_NHS_NUMBER) + 0.5, reason: sentinel.repeat(40), actor: `${sentinel}\u0000` },
      sentinel,
    ]) {
      expect(JSON.stringify(issuesOf(parseResendRequest(json(body))))).not.to.include(SENTINEL_NHS_NUMBER);
    }
  });
});
