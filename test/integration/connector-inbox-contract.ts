import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import type { ConnectorInbox, InboxStatus, LetterForSink } from '../../src/app/connector/ports.js';
import { observeSequence, type SequenceState } from '../../src/domain/sequence-gaps.js';

const T1 = new Date('2026-03-01T10:00:00.123Z');
const T2 = new Date('2026-03-01T10:05:00.456Z');
const T3 = new Date('2026-03-01T11:00:00.789Z');

/** A practice code of its own per test, so tests sharing one database never see each other's rows. */
function newPractice(): string {
  return `Y${randomBytes(4).toString('hex').toUpperCase()}`;
}

function letterFor(practice: string, overrides: Partial<LetterForSink> = {}): LetterForSink {
  return {
    practice,
    messageHeaderId: randomUUID(),
    trackingId: randomUUID(),
    sequence: 1,
    eventCode: 'ITK007D',
    body: Buffer.from('{"resourceType":"Bundle"}'),
    ...overrides,
  };
}

/** A state as plain data, missing numbers ascending with ISO instants: comparable with deep.equal whatever the Map's order. */
function plain(state: SequenceState | undefined): { highest: number; missing: [number, string][] } | undefined {
  if (state === undefined) return undefined;
  return { highest: state.highest, missing: [...state.missing].map(([n, at]): [number, string] => [n, at.toISOString()]).sort((a, b) => a[0] - b[0]) };
}

function state(highest: number, missing: [number, Date][] = []): SequenceState {
  return { highest, missing: new Map(missing) };
}

/**
 * The ConnectorInbox contract (app/connector/ports.ts), run against every
 * engine. `open` opens an inbox on the suite's own storage (a PGlite data
 * directory, a PostgreSQL schema), the same storage every time it is called,
 * so a test can close the inbox and open it again to check what survived.
 * Tests share that storage and keep apart by fresh ids and practice codes.
 */
export function connectorInboxContract(name: string, open: () => Promise<ConnectorInbox>): void {
  describe(`ConnectorInbox contract: ${name}`, function () {
    let current: ConnectorInbox | undefined;
    const inbox = (): ConnectorInbox => {
      if (current === undefined) throw new Error('the inbox is not open');
      return current;
    };
    const reopen = async (): Promise<void> => {
      const old = current;
      current = undefined;
      await old?.close();
      current = await open();
    };
    before(async () => {
      current = await open();
    });
    after(async () => {
      await current?.close();
      current = undefined;
    });

    describe('letters', function () {
      it('finds nothing for an id it never saw', async () => {
        expect(await inbox().find(randomUUID())).to.equal(undefined);
      });

      it('beginHandOver creates the entry handing-over with one hand-over, and counts every further one', async () => {
        const practice = newPractice();
        const letter = letterFor(practice, { trackingId: undefined, sequence: undefined, eventCode: undefined });
        const first = await inbox().beginHandOver(letter, T1);
        const expected = { messageHeaderId: letter.messageHeaderId, practice, status: 'handing-over', handOvers: 1, acks: [] };
        expect(first).to.deep.equal(expected);
        expect(await inbox().find(letter.messageHeaderId)).to.deep.equal(expected);

        const second = await inbox().beginHandOver(letter, T2);
        expect(second).to.deep.equal({ ...expected, handOvers: 2 });
        expect(await inbox().find(letter.messageHeaderId)).to.deep.equal({ ...expected, handOvers: 2 });
      });

      it('settle records the status and appends the acks in order, ITK codes and all, across settles', async () => {
        const practice = newPractice();
        const letter = letterFor(practice);
        await inbox().beginHandOver(letter, T1);

        await inbox().settle(letter.messageHeaderId, 'received', [{ code: 'ok', itkCodes: ['20013'] }], T2);
        expect(await inbox().find(letter.messageHeaderId)).to.deep.include({ status: 'received', handOvers: 1, acks: [{ code: 'ok', itkCodes: ['20013'] }] });

        await inbox().settle(
          letter.messageHeaderId,
          'rejected',
          [
            { code: 'fatal-error', itkCodes: ['30003', '30002'] },
            { code: 'transient-error', itkCodes: [] },
          ],
          T3,
        );
        expect(await inbox().find(letter.messageHeaderId)).to.deep.equal({
          messageHeaderId: letter.messageHeaderId,
          practice,
          status: 'rejected',
          handOvers: 1,
          acks: [
            { code: 'ok', itkCodes: ['20013'] },
            { code: 'fatal-error', itkCodes: ['30003', '30002'] },
            { code: 'transient-error', itkCodes: [] },
          ],
        });
      });

      it('settle takes every settled status, and an empty ack list changes only the status', async () => {
        const statuses: Exclude<InboxStatus, 'handing-over'>[] = ['received', 'filed', 'rejected', 'handed-back'];
        const letter = letterFor(newPractice());
        await inbox().beginHandOver(letter, T1);
        await inbox().settle(letter.messageHeaderId, 'received', [{ code: 'ok', itkCodes: ['20013'] }], T1);
        for (const status of statuses) {
          await inbox().settle(letter.messageHeaderId, status, [], T2);
          expect(await inbox().find(letter.messageHeaderId), status).to.deep.include({ status, acks: [{ code: 'ok', itkCodes: ['20013'] }] });
        }
      });

      it('a hand-over after a settle (a redelivery) moves the letter back to handing-over and keeps its acks', async () => {
        const letter = letterFor(newPractice());
        await inbox().beginHandOver(letter, T1);
        await inbox().settle(letter.messageHeaderId, 'handed-back', [{ code: 'transient-error', itkCodes: [] }], T2);
        const again = await inbox().beginHandOver(letter, T3);
        expect(again).to.deep.include({ status: 'handing-over', handOvers: 2, acks: [{ code: 'transient-error', itkCodes: [] }] });
      });

      it('settle of a letter it never saw throws and creates nothing', async () => {
        const id = randomUUID();
        const error: unknown = await inbox()
          .settle(id, 'received', [{ code: 'ok', itkCodes: ['20013'] }], T1)
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(error).to.be.instanceOf(Error);
        expect(await inbox().find(id)).to.equal(undefined);
      });

      it('keeps letters, hand-over counts and acks across a close and re-open', async () => {
        const letter = letterFor(newPractice());
        await inbox().beginHandOver(letter, T1);
        await inbox().beginHandOver(letter, T2);
        await inbox().settle(letter.messageHeaderId, 'filed', [{ code: 'ok', itkCodes: ['20013'] }, { code: 'ok', itkCodes: ['30001'] }], T3);
        await reopen();
        expect(await inbox().find(letter.messageHeaderId)).to.deep.include({
          status: 'filed',
          handOvers: 2,
          acks: [
            { code: 'ok', itkCodes: ['20013'] },
            { code: 'ok', itkCodes: ['30001'] },
          ],
        });
      });
    });

    describe('sequences and gaps', function () {
      it('has no state for a practice it never saved', async () => {
        expect((await inbox().loadSequences()).has(newPractice())).to.equal(false);
        expect([...(await inbox().reportedGaps(newPractice()))]).to.deep.equal([]);
      });

      it('keeps the highest number and the missing ones with their noticedAt, and reported marks, across a close and re-open', async () => {
        const gappy = newPractice();
        const gapless = newPractice();
        const withGaps = state(7, [
          [3, T1],
          [5, T2],
        ]);
        await inbox().saveSequence(gappy, undefined, withGaps);
        await inbox().saveSequence(gapless, undefined, state(2));
        await inbox().markGapReported(gappy, 5, T3);

        await reopen();
        const loaded = await inbox().loadSequences();
        expect(plain(loaded.get(gappy))).to.deep.equal(plain(withGaps));
        expect(plain(loaded.get(gapless))).to.deep.equal({ highest: 2, missing: [] });
        expect([...(await inbox().reportedGaps(gappy))]).to.deep.equal([5]);
      });

      it('writes only the difference: a filled number goes, a number still missing keeps its first noticedAt and its reported mark', async () => {
        const practice = newPractice();
        const s1 = observeSequence(observeSequence(undefined, 2, T1), 7, T1); // 3..6 missing since T1
        await inbox().saveSequence(practice, undefined, s1);
        await inbox().markGapReported(practice, 3, T2);
        await inbox().markGapReported(practice, 4, T2);

        const s2 = observeSequence(s1, 4, T2); // 4 arrives late
        await inbox().saveSequence(practice, s1, s2);
        expect(plain((await inbox().loadSequences()).get(practice))).to.deep.equal({
          highest: 7,
          missing: [
            [3, T1.toISOString()],
            [5, T1.toISOString()],
            [6, T1.toISOString()],
          ],
        });
        expect([...(await inbox().reportedGaps(practice))]).to.deep.equal([3]);

        const s3 = observeSequence(s2, 10, T3); // 8 and 9 now missing too
        await inbox().saveSequence(practice, s2, s3);
        expect(plain((await inbox().loadSequences()).get(practice))).to.deep.equal(plain(s3));
        expect([...(await inbox().reportedGaps(practice))], 'gap 3 was not rewritten').to.deep.equal([3]);

        // A caller handing a different noticedAt for a number it already had does not move it: only new numbers are written.
        const restamped = state(10, [...s3.missing].map(([n]): [number, Date] => [n, T3]));
        await inbox().saveSequence(practice, s3, restamped);
        expect(plain((await inbox().loadSequences()).get(practice))).to.deep.equal(plain(s3));
      });

      it('never lowers the highest number seen', async () => {
        const practice = newPractice();
        await inbox().saveSequence(practice, undefined, state(10));
        await inbox().saveSequence(practice, state(10), state(4));
        expect((await inbox().loadSequences()).get(practice)?.highest).to.equal(10);
        await inbox().saveSequence(practice, undefined, state(3));
        expect((await inbox().loadSequences()).get(practice)?.highest).to.equal(10);
        await inbox().saveSequence(practice, state(10), state(12));
        expect((await inbox().loadSequences()).get(practice)?.highest).to.equal(12);
      });

      it('reports gaps per practice; marking is idempotent and a number that is not missing is not marked', async () => {
        const practice = newPractice();
        const other = newPractice();
        const gaps = state(6, [
          [2, T1],
          [4, T1],
        ]);
        await inbox().saveSequence(practice, undefined, gaps);
        await inbox().saveSequence(other, undefined, gaps);
        expect([...(await inbox().reportedGaps(practice))]).to.deep.equal([]);

        await inbox().markGapReported(practice, 4, T2);
        await inbox().markGapReported(practice, 4, T3);
        expect([...(await inbox().reportedGaps(practice))]).to.deep.equal([4]);
        expect([...(await inbox().reportedGaps(other))], 'another practice with the same numbers').to.deep.equal([]);

        await inbox().markGapReported(practice, 5, T2); // arrived meanwhile, or never missing
        expect([...(await inbox().reportedGaps(practice))]).to.deep.equal([4]);
        expect(plain((await inbox().loadSequences()).get(practice)), 'marking adds no gap').to.deep.equal(plain(gaps));

        const filled = observeSequence(gaps, 4, T3);
        await inbox().saveSequence(practice, gaps, filled);
        expect([...(await inbox().reportedGaps(practice))], 'a filled gap is no longer reported').to.deep.equal([]);
      });
    });
  });
}
