import { expect } from 'chai';
import { Writable } from 'node:stream';
import type { ApplyDeliveryEvent } from '../../src/app/apply-delivery-event.js';
import { InvalidTransitionError, NotFoundError } from '../../src/app/errors.js';
import { ACTOR_MAX, REASON_MAX, manualAction, parseManualActionRequest, type ManualActionBody, type ParsedManualAction } from '../../src/app/manual-action.js';
import type { DeliveryEvent, TransitionResult } from '../../src/domain/delivery-events.js';
import type { TrackingId } from '../../src/domain/ids.js';
import { createLogger } from '../../src/platform/logger.js';
import { SENTINEL_NHS_NUMBER } from '../fixtures/nhs-numbers.js';

const ID = '3f2b8c4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f';
const json = (value: unknown): ManualActionBody => ({ ok: true, value });

function issuesOf(result: ParsedManualAction): { code: string; expression: readonly string[]; diagnostics: string }[] {
  if (result.ok) return expect.fail('expected the request to be refused');
  return result.issues.map(({ code, expression, diagnostics }) => ({ code, expression, diagnostics }));
}
/** `[expression, issue code]` of every issue, e.g. `['reason', 'required']`. */
function problems(body: unknown, id = ID): string[][] {
  return issuesOf(parseManualActionRequest(id, json(body))).map((i) => [i.expression.join() || '-', i.code]);
}

describe('manual action: request validation', () => {
  it('accepts a reason and an actor, trimmed', () => {
    const result = parseManualActionRequest(ID, json({ reason: '  sent on paper \n', actor: ' jsmith@trust ' }));
    expect(result).to.deep.equal({ ok: true, request: { trackingId: ID, reason: 'sent on paper', actor: 'jsmith@trust' } });
  });

  it('accepts any language and punctuation in a reason, up to the limit', () => {
    for (const reason of ['Envoyé par la poste — confirmé 📮', 'x', 'r'.repeat(REASON_MAX), 'GP said "file it"; done (ticket #123)']) {
      expect(parseManualActionRequest(ID, json({ reason, actor: 'a' })).ok, reason.slice(0, 20)).to.equal(true);
    }
    expect(parseManualActionRequest(ID, json({ reason: 'ok', actor: 'a'.repeat(ACTOR_MAX) })).ok).to.equal(true);
    for (const actor of ['jsmith', 'j.smith@nhs.net', 'ops_team-2', 'user+tag@trust.nhs.uk', '12345']) {
      expect(parseManualActionRequest(ID, json({ reason: 'ok', actor })).ok, actor).to.equal(true);
    }
  });

  it('lists every missing property as required, by name', () => {
    expect(problems({})).to.deep.equal([
      ['reason', 'required'],
      ['actor', 'required'],
    ]);
    const diagnostics = issuesOf(parseManualActionRequest(ID, json({}))).map((i) => i.diagnostics);
    expect(diagnostics[0]).to.match(/^reason is required/);
    expect(diagnostics[1]).to.match(/^actor is required/);
  });

  it('refuses a blank reason or actor as required', () => {
    expect(problems({ reason: ' \t\n ', actor: '   ' })).to.deep.equal([
      ['reason', 'required'],
      ['actor', 'required'],
    ]);
  });

  it('refuses a reason over 500 characters and an actor over 100', () => {
    expect(problems({ reason: 'r'.repeat(REASON_MAX + 1), actor: 'a'.repeat(ACTOR_MAX + 1) })).to.deep.equal([
      ['reason', 'too-long'],
      ['actor', 'too-long'],
    ]);
  });

  it('refuses control characters, separators, bidi overrides and lone surrogates inside a reason', () => {
    for (const bad of ['a\nb', 'a\tb', 'a\u0000b', 'a\u001bb', 'a\u0085b', 'a\u2028b', 'a\u2029b', 'a\u202eb', 'a\u2067b', 'a\ud800b', 'a\udc00b']) {
      expect(problems({ reason: bad, actor: 'jsmith' }), JSON.stringify(bad)).to.deep.equal([['reason', 'value']]);
    }
  });

  it('refuses actors that are not short identifiers', () => {
    for (const bad of ['j smith', '@trust', '.jsmith', 'j\nsmith', 'j\u0000smith', 'jsmith;drop', 'jsmíth', '<script>']) {
      expect(problems({ reason: 'ok', actor: bad }), JSON.stringify(bad)).to.deep.equal([['actor', 'value']]);
    }
  });

  it('refuses wrong types', () => {
    expect(problems({ reason: 42, actor: ['jsmith'] })).to.deep.equal([
      ['reason', 'structure'],
      ['actor', 'structure'],
    ]);
    expect(problems({ reason: null, actor: true })).to.deep.equal([
      ['reason', 'structure'],
      ['actor', 'structure'],
    ]);
    for (const body of [null, [], 'sent on paper', 7]) expect(problems(body), JSON.stringify(body)).to.deep.equal([['-', 'structure']]);
  });

  it('refuses unknown properties, naming only plain identifiers', () => {
    expect(problems({ reason: 'ok', actor: 'a', comment: 'x' })).to.deep.equal([['comment', 'structure']]);
    expect(problems({ reason: 'ok', actor: 'a', [`NHS ${SENTINEL_NHS_NUMBER}`]: 'x' })).to.deep.equal([['-', 'structure']]);
    expect(problems({ actor: 'a', note: 'x' })).to.deep.equal([
      ['reason', 'required'],
      ['note', 'structure'],
    ]);
  });

  it('refuses a malformed tracking id, listed with the body problems', () => {
    expect(problems({ reason: 'ok', actor: 'a' }, 'not-a-uuid')).to.deep.equal([['-', 'value']]);
    expect(problems({ actor: 'a' }, '../etc')).to.deep.equal([
      ['-', 'value'],
      ['reason', 'required'],
    ]);
    const unreadable = parseManualActionRequest('x', { ok: false, issue: { severity: 'error', code: 'structure', diagnostics: 'The body is not valid JSON', expression: [] } });
    expect(issuesOf(unreadable).map((i) => i.diagnostics)).to.deep.equal(['The tracking id in the path must be a UUID', 'The body is not valid JSON']);
  });

  it('never quotes the input in its diagnostics', () => {
    const sentinel = `Patient ${SENTINEL_NHS_NUMBER}`;
    const bodies = [
      { reason: `${sentinel}\n`.repeat(2), actor: sentinel },
      { reason: sentinel.repeat(60), actor: `${SENTINEL_NHS_NUMBER}`.repeat(20) },
      { reason: sentinel, actor: 'a', [sentinel]: sentinel },
      sentinel,
    ];
    for (const body of bodies) {
      const text = JSON.stringify(issuesOf(parseManualActionRequest(sentinel, json(body))));
      expect(text).not.to.include(SENTINEL_NHS_NUMBER);
    }
  });
});

describe('manual action: applying it', () => {
  const request = { trackingId: ID as TrackingId, reason: `sent on paper for ${SENTINEL_NHS_NUMBER}`, actor: 'jsmith@trust' };
  const changedTo = (state: 'retrying' | 'cancelled', publish: boolean): TransitionResult => ({
    kind: 'changed',
    state,
    attempts: 1,
    deadlineAt: new Date(0),
    nextDeadline: null,
    cause: 'cause',
    effects: publish ? [{ kind: 'publish', attempt: 2 }] : [],
  });

  function harness(answer: TransitionResult | undefined) {
    const applied: { trackingId: string; event: DeliveryEvent }[] = [];
    const lines: string[] = [];
    let nudges = 0;
    const apply: ApplyDeliveryEvent = (trackingId, event) => {
      applied.push({ trackingId, event });
      return Promise.resolve(answer);
    };
    const logger = createLogger({
      level: 'debug',
      stream: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString('utf8'));
          callback();
        },
      }),
    });
    const act = manualAction({ apply, logger, publishQueued: () => nudges++ });
    return { act, applied, lines, nudges: () => nudges };
  }

  it('applies the operator event with the reason and the actor, and logs the actor but not the reason', async () => {
    const h = harness(changedTo('cancelled', false));
    expect(await h.act('cancel', request)).to.equal('cancelled');
    expect(h.applied).to.deep.equal([{ trackingId: ID, event: { kind: 'cancel', reason: request.reason, actor: 'jsmith@trust' } }]);
    expect(h.nudges()).to.equal(0);
    const logged = h.lines.join('');
    expect(logged).to.include('jsmith@trust').and.include(ID);
    expect(logged).not.to.include(SENTINEL_NHS_NUMBER);
  });

  it('asks the relay to publish now when the change queued a publish', async () => {
    const h = harness(changedTo('retrying', true));
    expect(await h.act('retry', request)).to.equal('retrying');
    expect(h.nudges()).to.equal(1);
  });

  it('throws NotFoundError for an unknown letter', async () => {
    const h = harness(undefined);
    const error: unknown = await h.act('resolve', request).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(NotFoundError);
  });

  it('throws InvalidTransitionError with the state machine reason when the action is ignored', async () => {
    const h = harness({ kind: 'ignored', reason: 'cancel ignored: filed is final' });
    const error: unknown = await h.act('cancel', request).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(InvalidTransitionError);
    expect((error as Error).message).to.equal(`Cannot cancel letter ${ID}: cancel ignored: filed is final`);
    expect(h.nudges()).to.equal(0);
    expect(h.lines.join('')).to.include('manual action refused').and.not.include(SENTINEL_NHS_NUMBER);
  });
});
