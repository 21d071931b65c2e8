import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { PublishesInFlight } from '../../src/app/publishes-in-flight.js';
import type { TrackingId } from '../../src/domain/ids.js';

function deferred(): { promise: Promise<string>; resolve: (v: string) => void; reject: (e: Error) => void } {
  let resolve: (v: string) => void = () => undefined;
  let reject: (e: Error) => void = () => undefined;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves true when `p` settles before a few turns of the event loop, false otherwise. */
async function settlesSoon(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('PublishesInFlight: acks wait for their letter\'s publish to settle', () => {
  const id = () => randomUUID() as TrackingId;

  it('answers at once for a letter not being published', async () => {
    expect(await settlesSoon(new PublishesInFlight().settled(id()))).to.equal(true);
  });

  it('holds a waiter until the publish settles, whether it succeeded or failed, then forgets the letter', async () => {
    const inFlight = new PublishesInFlight();
    for (const outcome of ['resolve', 'reject'] as const) {
      const letter = id();
      const publish = deferred();
      const tracked = inFlight.track(letter, publish.promise);
      tracked.catch(() => undefined);
      const waiter = inFlight.settled(letter);
      expect(await settlesSoon(waiter), `${outcome}: still publishing`).to.equal(false);
      expect(inFlight.has(letter), `${outcome}: in flight`).to.equal(true);
      if (outcome === 'resolve') publish.resolve('confirmed');
      else publish.reject(new Error('store down'));
      expect(await settlesSoon(waiter), `${outcome}: settled`).to.equal(true);
      expect(inFlight.size, outcome).to.equal(0);
      expect(inFlight.has(letter), `${outcome}: let go`).to.equal(false);
    }
  });

  it('hands back the tracked promise itself, outcome and all', async () => {
    const inFlight = new PublishesInFlight();
    expect(await inFlight.track(id(), Promise.resolve('taken'))).to.equal('taken');
    const failure = new Error('nope');
    expect(await inFlight.track(id(), Promise.reject(failure)).catch((e: unknown) => e)).to.equal(failure);
  });

  it('keeps a letter published again in flight when its earlier publish settles', async () => {
    const inFlight = new PublishesInFlight();
    const letter = id();
    const [first, second] = [deferred(), deferred()];
    void inFlight.track(letter, first.promise);
    void inFlight.track(letter, second.promise);
    first.resolve('confirmed');
    await settlesSoon(first.promise);
    expect(inFlight.size).to.equal(1);
    expect(await settlesSoon(inFlight.settled(letter))).to.equal(false);
    second.resolve('confirmed');
    expect(await settlesSoon(inFlight.settled(letter))).to.equal(true);
  });

  it('stops waiting after its longest wait even if a publish never settles', async () => {
    const inFlight = new PublishesInFlight(10);
    const letter = id();
    void inFlight.track(letter, new Promise<never>(() => undefined));
    await inFlight.settled(letter); // would hang the test (and fail it by timeout) without the bound
    expect(inFlight.size, 'still in flight: only the waiter gave up').to.equal(1);
  });
});
