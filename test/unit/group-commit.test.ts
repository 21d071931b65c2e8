import { expect } from 'chai';
import { GroupCommit, type ItemResult } from '../../src/platform/group-commit.js';

/** A flush that records its batches and waits until released, so a test decides when each batch ends. */
function gatedFlush<T>(answer: (item: T) => ItemResult<string> = (item) => ({ value: `done ${String(item)}` })) {
  const batches: T[][] = [];
  const gates: (() => void)[] = [];
  const flush = async (items: readonly T[]): Promise<ItemResult<string>[]> => {
    batches.push([...items]);
    await new Promise<void>((resolve) => gates.push(resolve));
    return items.map(answer);
  };
  const releaseNext = async () => {
    for (let i = 0; i < 50 && gates.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    gates.shift()?.();
  };
  return { flush, batches, releaseNext };
}

describe('GroupCommit', () => {
  it('flushes a lone call at once, and the calls made meanwhile together in the next flush', async () => {
    const gated = gatedFlush<number>();
    const commit = new GroupCommit(gated.flush, { maxBatch: 10 });
    const first = commit.submit(1);
    const rest = [2, 3, 4].map((n) => commit.submit(n));
    expect(gated.batches).to.deep.equal([[1]]);
    expect(commit.waiting).to.equal(3);
    await gated.releaseNext();
    expect(await first).to.equal('done 1');
    await gated.releaseNext();
    expect(await Promise.all(rest)).to.deep.equal(['done 2', 'done 3', 'done 4']);
    expect(gated.batches).to.deep.equal([[1], [2, 3, 4]]);
  });

  it('puts at most maxBatch items in a flush, oldest first', async () => {
    const gated = gatedFlush<number>();
    const commit = new GroupCommit(gated.flush, { maxBatch: 2 });
    const all = [1, 2, 3, 4, 5].map((n) => commit.submit(n));
    for (let i = 0; i < 3; i++) await gated.releaseNext();
    await Promise.all(all);
    expect(gated.batches).to.deep.equal([[1], [2, 3], [4, 5]]);
  });

  it('never puts two items with one key in a flush at once, keeping their order', async () => {
    const gated = gatedFlush<string>();
    const commit = new GroupCommit(gated.flush, { maxBatch: 10, key: (item) => item.split(':')[0] ?? '' });
    const all = ['a:1', 'a:2', 'b:1', 'a:3', 'c:1'].map((item) => commit.submit(item));
    for (let i = 0; i < 3; i++) await gated.releaseNext();
    await Promise.all(all);
    expect(gated.batches).to.deep.equal([['a:1'], ['a:2', 'b:1', 'c:1'], ['a:3']]);
  });

  it('runs up to `concurrency` flushes at once', async () => {
    const gated = gatedFlush<number>();
    const commit = new GroupCommit(gated.flush, { maxBatch: 1, concurrency: 2 });
    const all = [1, 2, 3].map((n) => commit.submit(n));
    expect(gated.batches).to.deep.equal([[1], [2]]);
    for (let i = 0; i < 3; i++) await gated.releaseNext();
    await Promise.all(all);
    expect(gated.batches).to.deep.equal([[1], [2], [3]]);
  });

  it('settles each item with its own result or error, and fails a whole batch when the flush rejects', async () => {
    const perItem = new GroupCommit((items: readonly number[]) => Promise.resolve(items.map((n): ItemResult<number> => (n % 2 === 0 ? { value: n * 10 } : { error: new Error(`odd ${n}`) }))), { maxBatch: 10 });
    const settled = await Promise.allSettled([1, 2, 3].map((n) => perItem.submit(n)));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).to.deep.equal(['odd 1', 20, 'odd 3']);

    let calls = 0;
    let storeAway = true;
    const failing = new GroupCommit<number, number>((items) => {
      calls++;
      return storeAway ? Promise.reject(new Error('store away')) : Promise.resolve(items.map((n) => ({ value: n })));
    }, { maxBatch: 10 });
    const failed = await Promise.allSettled([1, 2, 3].map((n) => failing.submit(n)));
    expect(failed.map((s) => s.status)).to.deep.equal(['rejected', 'rejected', 'rejected']);
    expect(calls).to.equal(2);
    storeAway = false;
    expect(await failing.submit(7), 'it keeps working after a failed flush').to.equal(7);
  });

  it('fails a batch whose flush answers the wrong number of results, instead of leaving callers waiting', async () => {
    const commit = new GroupCommit<number, number>(() => Promise.resolve([]), { maxBatch: 10 });
    let failure: unknown;
    await commit.submit(1).catch((error: unknown) => (failure = error));
    expect(String(failure)).to.match(/0 results for 1 items/);
  });
});
