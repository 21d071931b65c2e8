import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/adapters/store/open-store.js';
import { StoreLockedError } from '../../src/app/errors.js';
import { newLetter } from './store-contract.js';

/** A pid that is certainly not running: a child that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid ?? 999_999;
}

describe('embedded store data directory (DESIGN §7)', function () {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'courier-datadir-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps letters across close and reopen', async () => {
    const letter = newLetter();
    const first = await openStore({ dataDir: dir });
    await first.accept(letter);
    await first.close();
    const second = await openStore({ dataDir: dir });
    try {
      expect((await second.get(letter.trackingId))?.sequence).to.equal(1);
    } finally {
      await second.close();
    }
  });

  it('refuses a second opener fast, naming the holder', async () => {
    const holder = await openStore({ dataDir: dir });
    try {
      const error = await openStore({ dataDir: dir }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(StoreLockedError);
      expect((error as Error).message).to.include(`process ${process.pid}`);
    } finally {
      await holder.close();
    }
    const after = await openStore({ dataDir: dir });
    await after.close();
  });

  it('takes over the stale lock of a dead process', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'courier.lock'), JSON.stringify({ pid: await deadPid(), hostname: hostname(), startedAt: new Date().toISOString() }));
    const store = await openStore({ dataDir: dir });
    await store.ping();
    await store.close();
    expect(existsSync(join(dir, 'courier.lock')), 'released on close').to.equal(false);
  });

  it('clears a half-made database left by a kill during first start', async () => {
    const debris = join(dir, 'pgdata.creating-12345');
    mkdirSync(join(debris, 'base'), { recursive: true });
    writeFileSync(join(debris, 'PG_VERSION'), 'garbage');
    const store = await openStore({ dataDir: dir });
    try {
      await store.ping();
      expect(existsSync(debris)).to.equal(false);
      expect(existsSync(join(dir, 'pgdata', 'PG_VERSION'))).to.equal(true);
    } finally {
      await store.close();
    }
  });
});
