import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreLockedError } from '../../src/app/errors.js';
import { LOCK_FILE } from '../../src/adapters/store/data-dir-lock.js';
import { openStore } from '../../src/adapters/store/open-store.js';
import { newLetter } from './store-contract.js';

const HOLDER = fileURLToPath(new URL('./data-dir-holder.ts', import.meta.url));

describe('embedded store data directory (DESIGN §7)', function () {
  let root: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'courier-data-'));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('creates pgdata atomically, keeps letters across close and reopen, and releases the lock on close', async () => {
    const letter = newLetter();
    const first = await openStore({ dataDir: root });
    try {
      expect(readdirSync(root).sort()).to.deep.equal([LOCK_FILE, 'pgdata']);
      expect(JSON.parse(readFileSync(join(root, LOCK_FILE), 'utf8'))).to.include({ pid: process.pid, hostname: hostname() });
      expect((await first.accept(letter)).kind).to.equal('accepted');
    } finally {
      await first.close();
    }
    expect(existsSync(join(root, LOCK_FILE)), 'lock released').to.equal(false);

    const second = await openStore({ dataDir: root });
    try {
      expect(await second.get(letter.trackingId)).to.include({ state: 'received', sequence: 1 });
      expect(Buffer.from((await second.body(letter.trackingId)) ?? []).equals(Buffer.from(letter.body))).to.equal(true);
      expect(await second.history(letter.trackingId)).to.have.length(1);
      expect(await second.outboxRows(letter.trackingId)).to.have.length(2);
    } finally {
      await second.close();
    }
  });

  it('makes a second opener in another process fail fast, naming the holder', async () => {
    const holder = startHolder(root);
    await readyLine(holder);
    // Fails rather than waits: the answer is StoreLockedError, not a timeout (no timed assertion: speed is for benchmarks).
    const error: unknown = await openStore({ dataDir: root }).then(
      (store) => store.close(),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(StoreLockedError);
    expect((error as Error).message).to.include(`process ${holder.pid}`).and.include(hostname());

    holder.kill('SIGTERM');
    expect(await exited(holder)).to.equal(0);
    expect(existsSync(join(root, LOCK_FILE)), 'the holder released the lock').to.equal(false);
    const store = await openStore({ dataDir: root });
    await store.close();
  });

  it('refuses a second open of one directory within this process too', async () => {
    const store = await openStore({ dataDir: root });
    try {
      const error: unknown = await openStore({ dataDir: root }).then(
        (s) => s.close(),
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(StoreLockedError);
      expect((error as Error).message).to.include(`process ${process.pid}`);
    } finally {
      await store.close();
    }
  });

  it('takes over the stale lock of a process that is gone', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    expect(deadPid).to.be.a('number');
    writeLock({ pid: deadPid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z' });
    const store = await openStore({ dataDir: root });
    try {
      expect(JSON.parse(readFileSync(join(root, LOCK_FILE), 'utf8'))).to.include({ pid: process.pid });
      expect(readdirSync(root).filter((n) => n.includes('stale'))).to.deep.equal([]);
    } finally {
      await store.close();
    }
  });

  it('takes over a lock naming this pid that this process does not hold (a restarted container is pid 1 again)', async () => {
    writeLock({ pid: process.pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z' });
    const store = await openStore({ dataDir: root });
    await store.close();
  });

  it('respects a lock held on another host, which it cannot check', async () => {
    writeLock({ pid: 4242, hostname: 'elsewhere.example', startedAt: '2026-01-01T00:00:00.000Z' });
    const error: unknown = await openStore({ dataDir: root }).then(
      (s) => s.close(),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(StoreLockedError);
    expect((error as Error).message).to.include('process 4242 on elsewhere.example');
  });

  it('treats a fresh unreadable lock as being written, and an old one as debris', async () => {
    writeFileSync(join(root, LOCK_FILE), '');
    const error: unknown = await openStore({ dataDir: root }).then(
      (s) => s.close(),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(StoreLockedError);
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(root, LOCK_FILE), anHourAgo, anHourAgo);
    const store = await openStore({ dataDir: root });
    await store.close();
  });

  it('removes a half-made creation directory left by a kill and starts (simulated)', async () => {
    mkdirSync(join(root, 'pgdata.creating-123', 'base'), { recursive: true });
    writeFileSync(join(root, 'pgdata.creating-123', 'PG_VERSION'), 'garbage');
    writeFileSync(join(root, 'pgdata.creating-123', 'base', 'junk'), Buffer.from([0, 1, 2, 255]));
    const store = await openStore({ dataDir: root });
    try {
      expect(readdirSync(root).sort()).to.deep.equal([LOCK_FILE, 'pgdata']);
      expect((await store.accept(newLetter())).kind).to.equal('accepted');
    } finally {
      await store.close();
    }
  });

  it('starts after a real SIGKILL during first-time creation', async () => {
    const holder = startHolder(root);
    const creating = join(root, `pgdata.creating-${holder.pid}`);
    await waitFor(() => existsSync(creating), 20_000);
    holder.kill('SIGKILL');
    await exited(holder);
    expect(existsSync(join(root, 'pgdata')), 'killed before the rename').to.equal(false);
    const store = await openStore({ dataDir: root });
    try {
      expect(readdirSync(root).sort()).to.deep.equal([LOCK_FILE, 'pgdata']);
      expect((await store.accept(newLetter())).kind).to.equal('accepted');
    } finally {
      await store.close();
    }
  });

  it('refuses a pgdata directory that is not a database rather than touching it', async () => {
    mkdirSync(join(root, 'pgdata'));
    writeFileSync(join(root, 'pgdata', 'notes.txt'), 'not a database');
    const error: unknown = await openStore({ dataDir: root }).then(
      (s) => s.close(),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(Error).with.property('message').that.includes('not a database directory');
    expect(existsSync(join(root, LOCK_FILE)), 'the lock is released on failure').to.equal(false);
  });

  function startHolder(dataDir: string): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    return child;
  }

  function writeLock(holder: { pid: number | undefined; hostname: string; startedAt: string }): void {
    writeFileSync(join(root, LOCK_FILE), JSON.stringify(holder));
  }
});

function readyLine(child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('holder did not become ready in time')), timeoutMs);
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`holder exited early with ${code}`));
    });
  });
}

/** The child's exit code, or the signal that ended it (so a failure says which). */
function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
