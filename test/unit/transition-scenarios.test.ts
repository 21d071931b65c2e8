import { expect } from 'chai';
import { transition } from '../../src/domain/transition.js';
import type { DeliveryEvent, LetterSnapshot } from '../../src/domain/delivery-events.js';
import { AFTER_DL, COLUMNS, DL, HOUR, MINUTE, NOW, POLICY, RANDOM, SECOND, T0, apply, at, changed, eventFor, run, snapshot, summarise } from '../support/delivery-fixtures.js';

const ESCALATE = ['emit-event', 'escalate', 'notify-sender:escalated'];

const accepted = (): LetterSnapshot => snapshot('received', 0, DL);

describe('transition: scenarios', () => {
  it('happy path: received → dispatched → delivered → filed, then later acks change nothing', () => {
    const { letter, results } = run(accepted(), [
      [{ kind: 'published', attempt: 1 }, at(T0, SECOND)],
      [{ kind: 'infrastructure-ack' }, at(T0, MINUTE)],
      [{ kind: 'business-ack' }, at(T0, HOUR)],
      [{ kind: 'infrastructure-ack' }, at(T0, 2 * HOUR)],
      [{ kind: 'business-ack' }, at(T0, 2 * HOUR)],
    ]);
    expect(results.map((r) => (r.kind === 'changed' ? r.state : r.kind))).to.deep.equal(['dispatched', 'delivered', 'filed', 'ignored', 'ignored']);
    expect(changed(results[0]!).nextDeadline).to.deep.equal(at(T0, SECOND + 10 * MINUTE));
    expect(changed(results[1]!).nextDeadline).to.deep.equal(DL);
    expect(letter).to.deep.equal({ ...accepted(), state: 'filed', attempts: 1, nextDeadline: null });
  });

  it('a dead-lettered letter is escalated with the broker reason as a code, never echoing anything else', () => {
    const dispatched = snapshot('dispatched', 1, DL);
    const cause = (brokerReason?: string) =>
      changed(transition(dispatched, { kind: 'dead-lettered', ...(brokerReason === undefined ? {} : { brokerReason }) }, NOW, POLICY, RANDOM)).cause;
    expect(cause('delivery_limit')).to.match(/delivery limit was reached/);
    expect(cause('expired')).to.equal('dead-lettered by the broker (expired)');
    expect(cause('Patient 9990000115 <script>')).to.equal('dead-lettered by the broker');
    expect(cause()).to.equal('dead-lettered by the broker');
  });

  it('a business ack before the infrastructure ack files the letter; the late infrastructure ack is ignored', () => {
    const { letter, results } = run(accepted(), [
      [{ kind: 'published', attempt: 1 }, at(T0, SECOND)],
      [{ kind: 'business-ack' }, at(T0, MINUTE)],
      [{ kind: 'infrastructure-ack' }, at(T0, 2 * MINUTE)],
    ]);
    expect(changed(results[1]!).state).to.equal('filed');
    expect(results[2]!.kind).to.equal('ignored');
    expect(letter.state).to.equal('filed');
  });

  it('after maxAttempts attempts without an infrastructure ack the letter is escalated', () => {
    let letter = accepted();
    let now = at(T0, SECOND);
    const published: number[] = [];
    const waits: number[] = [];
    for (let attempt = 1; ; attempt++) {
      letter = apply(letter, transition(letter, { kind: 'published', attempt }, now, POLICY, RANDOM));
      published.push(letter.attempts);
      now = letter.nextDeadline!;
      const timeout = transition(letter, { kind: 'ack-timeout' }, now, POLICY, RANDOM);
      letter = apply(letter, timeout);
      if (letter.state === 'escalated') break;
      waits.push(letter.nextDeadline!.getTime() - now.getTime());
      now = letter.nextDeadline!;
      const due = changed(transition(letter, { kind: 'retry-due' }, now, POLICY, RANDOM));
      expect(due.effects).to.deep.equal([{ kind: 'publish', attempt: attempt + 1 }]);
      letter = apply(letter, due);
    }
    expect(published).to.deep.equal([1, 2, 3, 4, 5]);
    expect(waits).to.deep.equal([45 * SECOND, 90 * SECOND, 180 * SECOND, 360 * SECOND]);
    expect(letter).to.include({ state: 'escalated', attempts: 5, nextDeadline: null });
  });

  it('the deadline beats a pending retry', () => {
    const retrying = snapshot('retrying', 2, at(DL, 30 * MINUTE));
    // The sweeper sees the filing deadline first.
    expect(changed(transition(retrying, { kind: 'deadline-passed' }, DL, POLICY, RANDOM)).state).to.equal('escalated');
    // A retry timer that fires at or after the deadline escalates instead of publishing.
    const due = changed(transition(snapshot('retrying', 2, DL), { kind: 'retry-due' }, DL, POLICY, RANDOM));
    expect(due.state).to.equal('escalated');
    expect(due.effects.map(summarise)).to.deep.equal(ESCALATE);
    // So does a failure handled after the deadline.
    const late = changed(transition(snapshot('dispatched', 1, DL), { kind: 'ack-timeout' }, at(DL, SECOND), POLICY, RANDOM));
    expect(late.state).to.equal('escalated');
    expect(late.cause).to.contain('filing deadline');
  });

  it('timers never run past the filing deadline', () => {
    const nearly = at(DL, -2 * MINUTE);
    const published = changed(transition(accepted(), { kind: 'published', attempt: 1 }, nearly, POLICY, RANDOM));
    expect(published.nextDeadline).to.deep.equal(DL);
    const timedOut = changed(transition(snapshot('dispatched', 3, nearly), { kind: 'ack-timeout' }, at(DL, -MINUTE), POLICY, RANDOM));
    expect(timedOut.state).to.equal('retrying');
    expect(timedOut.nextDeadline).to.deep.equal(DL); // backoff(3) = 180 s would end after the deadline
    const delivered = changed(transition(snapshot('dispatched', 1, DL), { kind: 'infrastructure-ack' }, NOW, POLICY, RANDOM));
    expect(delivered.nextDeadline).to.deep.equal(DL);
  });

  it('stale and early timers change nothing', () => {
    const dispatched = snapshot('dispatched', 1, at(NOW, MINUTE));
    expect(transition(dispatched, { kind: 'ack-timeout' }, NOW, POLICY, RANDOM).kind).to.equal('ignored');
    const retrying = snapshot('retrying', 1, at(NOW, MINUTE));
    expect(transition(retrying, { kind: 'retry-due' }, NOW, POLICY, RANDOM).kind).to.equal('ignored');
    expect(transition(retrying, { kind: 'deadline-passed' }, NOW, POLICY, RANDOM).kind).to.equal('ignored');
  });

  it('duplicate confirms and failures of attempts that are not pending change nothing', () => {
    const received = snapshot('received', 1, DL);
    expect(transition(received, { kind: 'published', attempt: 1 }, NOW, POLICY, RANDOM).kind).to.equal('ignored');
    const retrying = snapshot('retrying', 2, NOW);
    expect(transition(retrying, { kind: 'published', attempt: 2 }, NOW, POLICY, RANDOM).kind).to.equal('ignored');
    expect(transition(retrying, { kind: 'publish-failed', attempt: 2, failure: 'nacked' }, NOW, POLICY, RANDOM).kind).to.equal('ignored');
    expect(transition(retrying, { kind: 'publish-failed', attempt: 4, failure: 'unroutable' }, NOW, POLICY, RANDOM).kind).to.equal('ignored');
  });

  it('an operator retry of a letter escalated after its deadline gets a fresh filing window', () => {
    const escalated = snapshot('escalated', 5, null);
    const later = at(DL, 3 * HOUR);
    const { letter, results } = run(escalated, [
      [{ kind: 'retry', reason: 'practice fixed its endpoint', actor: 'jsmith@trust' }, later],
      [{ kind: 'published', attempt: 6 }, at(later, SECOND)],
    ]);
    expect(changed(results[0]!).deadlineAt).to.deep.equal(at(later, 24 * HOUR));
    expect(changed(results[0]!).effects).to.deep.include({ kind: 'publish', attempt: 6 });
    expect(letter).to.include({ state: 'dispatched', attempts: 6 });
    expect(letter.nextDeadline).to.deep.equal(at(later, SECOND + 10 * MINUTE));
    // Past maxAttempts, one more failed attempt goes straight back to a person.
    const timeout = changed(transition(letter, { kind: 'ack-timeout' }, letter.nextDeadline!, POLICY, RANDOM));
    expect(timeout.state).to.equal('escalated');
  });

  it('every operator retry gets the original filing window, not one grown by the waits before it', () => {
    const retry = { kind: 'retry', reason: 'endpoint fixed', actor: 'jsmith@trust' } as const;
    const first = at(DL, 3 * HOUR);
    const escalatedAgain = { ...snapshot('escalated', 5, null, at(first, 24 * HOUR)), filingWindowMs: 24 * HOUR };
    const second = at(first, 3 * 24 * HOUR);
    // Not 51 h (deadlineAt − acceptedAt after the first retry): the app must pass filingWindowMs for this.
    expect(changed(transition(escalatedAgain, retry, second, POLICY, RANDOM)).deadlineAt).to.deep.equal(at(second, 24 * HOUR));
  });

  it('an operator action records who did it and why, in the cause and the status event', () => {
    const dispatched = snapshot('dispatched', 1, DL);
    const cancel = changed(transition(dispatched, { kind: 'cancel', reason: 'sent on paper', actor: 'jsmith@trust' }, NOW, POLICY, RANDOM));
    expect(cancel.cause).to.equal('cancelled by a person (jsmith@trust): sent on paper');
    expect(cancel.effects).to.deep.equal([{ kind: 'emit-event', from: 'dispatched', to: 'cancelled', reason: cancel.cause }]);
    const resolve = changed(transition(dispatched, { kind: 'resolve', reason: 'confirmed by phone', actor: 'ops1' }, NOW, POLICY, RANDOM));
    expect(resolve.cause).to.equal('resolved by a person (ops1): confirmed by phone');
    const retry = changed(transition(snapshot('escalated', 1, null), { kind: 'retry', reason: 'endpoint fixed', actor: 'jsmith@trust' }, NOW, POLICY, RANDOM));
    expect(retry.cause).to.equal('retry requested by a person (jsmith@trust): endpoint fixed');
  });

  describe('a resend request from the practice connector', () => {
    const resend = { kind: 'resend-requested', reason: 'sequence 41 missing for 10 minutes', actor: 'connector-a81001' } as const;
    const CAUSE = 'resend requested by the practice (connector-a81001): sequence 41 missing for 10 minutes';

    it('publishes a dispatched letter again now, as the next attempt, with its ids and deadline unchanged', () => {
      const dispatched = snapshot('dispatched', 1, at(NOW, 5 * MINUTE));
      const result = changed(transition(dispatched, resend, NOW, POLICY, RANDOM));
      expect(result).to.deep.equal({
        kind: 'changed',
        state: 'retrying',
        attempts: 1,
        deadlineAt: DL,
        nextDeadline: at(NOW, 10 * MINUTE),
        cause: CAUSE,
        effects: [
          { kind: 'emit-event', from: 'dispatched', to: 'retrying', reason: CAUSE },
          { kind: 'publish', attempt: 2 },
        ],
      });
      // Exactly what a due retry-due would have done from retrying, but now and with the practice's cause.
      const due = changed(transition({ ...dispatched, state: 'retrying', nextDeadline: NOW }, { kind: 'retry-due' }, NOW, POLICY, RANDOM));
      expect({ ...due, cause: CAUSE, effects: result.effects }).to.deep.equal(result);
    });

    it('then follows the ordinary path: confirmed → dispatched with attempt 2; no confirm → retry-due publishes again', () => {
      const start = snapshot('dispatched', 1, at(NOW, 5 * MINUTE));
      const { letter } = run(start, [
        [resend, NOW],
        [{ kind: 'published', attempt: 2 }, at(NOW, SECOND)],
      ]);
      expect(letter).to.include({ state: 'dispatched', attempts: 2 });
      expect(letter.nextDeadline).to.deep.equal(at(NOW, SECOND + 10 * MINUTE));
      const unconfirmed = apply(start, transition(start, resend, NOW, POLICY, RANDOM));
      const again = changed(transition(unconfirmed, { kind: 'retry-due' }, unconfirmed.nextDeadline!, POLICY, RANDOM));
      expect(again.effects).to.deep.equal([{ kind: 'publish', attempt: 2 }]);
    });

    it('escalates a dispatched letter instead once the filing deadline is reached', () => {
      for (const now of [DL, AFTER_DL]) {
        const result = changed(transition(snapshot('dispatched', 2, DL), resend, now, POLICY, RANDOM));
        expect(result.state).to.equal('escalated');
        expect(result.cause).to.equal(`not filed by the filing deadline ${DL.toISOString()}`);
        expect(result.effects.map(summarise)).to.deep.equal(ESCALATE);
      }
    });

    it('buys one attempt past maxAttempts, after which the ack timeout escalates as usual', () => {
      const { letter } = run(snapshot('dispatched', POLICY.maxAttempts, at(NOW, MINUTE)), [
        [resend, NOW],
        [{ kind: 'published', attempt: POLICY.maxAttempts + 1 }, at(NOW, SECOND)],
      ]);
      expect(letter).to.include({ state: 'dispatched', attempts: POLICY.maxAttempts + 1 });
      expect(changed(transition(letter, { kind: 'ack-timeout' }, letter.nextDeadline!, POLICY, RANDOM)).state).to.equal('escalated');
    });

    it('changes nothing in any other state, and says why without echoing the request', () => {
      const reasons = Object.fromEntries(
        (['received', 'retrying', 'delivered', 'escalated', 'filed', 'rejected', 'cancelled', 'resolved'] as const).map((state) => {
          const result = transition(snapshot(state, 1, ['received', 'retrying', 'delivered'].includes(state) ? at(NOW, MINUTE) : null), resend, NOW, POLICY, RANDOM);
          return [state, result.kind === 'ignored' ? result.reason : `changed to ${result.state}`];
        }),
      );
      expect(reasons).to.deep.equal({
        received: 'resend-requested ignored: the letter is not yet published, it is on its way',
        retrying: 'resend-requested ignored: the next attempt is already scheduled',
        delivered: 'resend-requested ignored: the practice system already acknowledged receipt',
        escalated: 'resend-requested ignored: escalated, waiting for a person',
        filed: 'resend-requested ignored: filed is final',
        rejected: 'resend-requested ignored: rejected is final',
        cancelled: 'resend-requested ignored: cancelled is final',
        resolved: 'resend-requested ignored: resolved is final',
      });
    });
  });

  it('a nacked publish is not an attempt and is retried even past maxAttempts, until the deadline', () => {
    const retrying = snapshot('retrying', 5, NOW);
    const nacked = changed(transition(retrying, { kind: 'publish-failed', attempt: 6, failure: 'nacked' }, NOW, POLICY, RANDOM));
    expect(nacked).to.include({ state: 'retrying', attempts: 5 });
    expect(nacked.effects).to.deep.equal([]);
    const atDeadline = changed(transition(retrying, { kind: 'publish-failed', attempt: 6, failure: 'nacked' }, DL, POLICY, RANDOM));
    expect(atDeadline.state).to.equal('escalated');
  });

  it('an unknown event kind is ignored, not thrown', () => {
    const bogus = { kind: 'teleported' } as unknown as DeliveryEvent;
    expect(transition(snapshot('dispatched', 1, NOW), bogus, NOW, POLICY, RANDOM).kind).to.equal('ignored');
  });
});

describe('transition: invariants over random event sequences', () => {
  /** Deterministic generator so a failure can be replayed. */
  function lcg(seed: number) {
    let x = seed >>> 0;
    return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  }

  it('keeps nextDeadline, attempts and status events consistent', () => {
    const rand = lcg(42);
    for (let run = 0; run < 300; run++) {
      let letter = accepted();
      let now = T0;
      for (let step = 0; step < 40; step++) {
        now = at(now, Math.floor(rand() * 2 * HOUR));
        const column = COLUMNS[Math.floor(rand() * COLUMNS.length)]!;
        const { event } = eventFor(column, letter);
        const result = transition(letter, event, now, POLICY, rand());
        if (result.kind === 'changed') {
          const noDeadline = ['filed', 'rejected', 'cancelled', 'resolved', 'escalated'].includes(result.state);
          expect(result.nextDeadline === null, `${letter.state} + ${column}`).to.equal(noDeadline);
          if (result.nextDeadline !== null) expect(result.nextDeadline.getTime()).to.be.at.most(result.deadlineAt.getTime());
          expect(result.attempts).to.be.at.least(letter.attempts);
          const emits = result.effects.filter((e) => e.kind === 'emit-event');
          expect(emits).to.have.length(result.state === letter.state ? 0 : 1);
        }
        letter = apply(letter, result);
      }
    }
  });
});
