import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { FolderSink } from '../../src/adapters/sinks/folder-sink.js';
import { FolderWatcher } from '../../src/adapters/sinks/folder-watcher.js';
import type { FilingOutcome, LetterForSink } from '../../src/app/connector/ports.js';
import { createLogger, type Logger } from '../../src/platform/logger.js';
import { PDF_BYTES, SENTINEL_NHS_NUMBER, syntheticDocumentReferenceLetter, type Letter } from '../fixtures/letters.js';

const PRACTICE = 'A81001';

function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', stream }), lines };
}

/** The letter as the connector hands it over; the body is indented so that re-serialising it would show. */
function forSink(bundle: Letter, overrides: Partial<LetterForSink> = {}): LetterForSink {
  return {
    practice: PRACTICE,
    messageHeaderId: bundle.entry[0].resource.id,
    trackingId: randomUUID(),
    sequence: 1,
    eventCode: 'ITK003D',
    body: Buffer.from(JSON.stringify(bundle, null, 1)),
    ...overrides,
  };
}

/** Polls `check` until it holds; fails after `ms` (a deadline, not a timed assertion). */
async function eventually(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function recordInto(seen: FilingOutcome[]): (outcome: FilingOutcome) => Promise<void> {
  return (outcome) => {
    seen.push(outcome);
    return Promise.resolve();
  };
}

const runningAsRoot = process.getuid?.() === 0;

describe('FolderSink and FolderWatcher (real file system)', function () {
  let root: string;
  let inbox: string;
  let log: { logger: Logger; lines: string[] };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'courier-folder-'));
    inbox = join(root, 'inbox');
    log = captureLogger();
  });
  afterEach(() => {
    chmodSync(root, 0o700);
    if (readdirSync(root).includes('inbox')) chmodSync(inbox, 0o700);
    rmSync(root, { recursive: true, force: true });
  });

  describe('FolderSink', () => {
    it('creates the inbox with filed/ and rejected/', async () => {
      await FolderSink.open({ inboxDir: inbox, logger: log.logger });
      expect(readdirSync(inbox).sort()).to.deep.equal(['filed', 'rejected']);
      await FolderSink.open({ inboxDir: inbox, logger: log.logger }); // again: nothing to create
    });

    it('writes the Bundle bytes as delivered and the decoded attachment, leaving no temp files and no patient data in the logs', async () => {
      const sink = await FolderSink.open({ inboxDir: inbox, logger: log.logger });
      const letter = forSink(syntheticDocumentReferenceLetter({ nhsNumber: SENTINEL_NHS_NUMBER }));
      expect(await sink.handOver(letter)).to.deep.equal({ kind: 'stored' });
      const id = letter.messageHeaderId;
      expect(readdirSync(inbox).sort()).to.deep.equal([`${id}.attachment.pdf`, `${id}.bundle.json`, 'filed', 'rejected']);
      expect(readFileSync(join(inbox, `${id}.bundle.json`)).equals(letter.body)).to.equal(true);
      expect(readFileSync(join(inbox, `${id}.attachment.pdf`)).equals(PDF_BYTES)).to.equal(true);
      const logs = log.lines.join('');
      expect(logs).to.include(id);
      expect(logs).not.to.include(SENTINEL_NHS_NUMBER);
      expect(logs).not.to.include('%PDF');
    });

    it('writes only the Bundle when the letter has no inline document', async () => {
      const sink = await FolderSink.open({ inboxDir: inbox, logger: log.logger });
      const bundle = syntheticDocumentReferenceLetter();
      bundle.entry[1].resource.content = [{ attachment: { contentType: 'application/pdf', url: 'https://example.org/letter.pdf' } }];
      const letter = forSink(bundle);
      expect(await sink.handOver(letter)).to.deep.equal({ kind: 'stored' });
      expect(readdirSync(inbox).sort()).to.deep.equal([`${letter.messageHeaderId}.bundle.json`, 'filed', 'rejected']);
    });

    it('writes nothing on a second hand-over of the same MessageHeader.id', async () => {
      const sink = await FolderSink.open({ inboxDir: inbox, logger: log.logger });
      const letter = forSink(syntheticDocumentReferenceLetter());
      const id = letter.messageHeaderId;
      await sink.handOver(letter);
      const bundlePath = join(inbox, `${id}.bundle.json`);
      const attachmentPath = join(inbox, `${id}.attachment.pdf`);
      const longAgo = new Date('2001-01-01T00:00:00Z');
      utimesSync(bundlePath, longAgo, longAgo);
      writeFileSync(attachmentPath, 'changed by the practice system');

      expect(await sink.handOver(letter)).to.deep.equal({ kind: 'stored' });
      expect(statSync(bundlePath).mtime.toISOString()).to.equal(longAgo.toISOString());
      expect(readFileSync(attachmentPath, 'utf8')).to.equal('changed by the practice system');
      expect(readdirSync(inbox).sort()).to.deep.equal([`${id}.attachment.pdf`, `${id}.bundle.json`, 'filed', 'rejected']);
    });

    for (const moved of ['filed', 'rejected']) {
      it(`writes nothing again once the practice system has moved the letter to ${moved}/`, async () => {
        const sink = await FolderSink.open({ inboxDir: inbox, logger: log.logger });
        const letter = forSink(syntheticDocumentReferenceLetter());
        const id = letter.messageHeaderId;
        await sink.handOver(letter);
        for (const name of [`${id}.attachment.pdf`, `${id}.bundle.json`]) renameSync(join(inbox, name), join(inbox, moved, name));

        expect(await sink.handOver(letter)).to.deep.equal({ kind: 'stored' });
        expect(readdirSync(inbox).sort()).to.deep.equal(['filed', 'rejected']);
        expect(readdirSync(join(inbox, moved)).sort()).to.deep.equal([`${id}.attachment.pdf`, `${id}.bundle.json`]);
      });
    }

    it('keeps one copy when the same letter is handed over twice at once', async () => {
      const sink = await FolderSink.open({ inboxDir: inbox, logger: log.logger });
      const letter = forSink(syntheticDocumentReferenceLetter());
      const results = await Promise.all([sink.handOver(letter), sink.handOver(letter)]);
      expect(results).to.deep.equal([{ kind: 'stored' }, { kind: 'stored' }]);
      expect(log.lines.filter((l) => l.includes('already in the folder'))).to.have.length(1);
      expect(readdirSync(inbox).filter((n) => n.startsWith('.'))).to.deep.equal([]);
    });

    it('refuses (422) an id that cannot name a file, without logging it', async () => {
      const sink = await FolderSink.open({ inboxDir: inbox, logger: log.logger });
      for (const id of ['../escape', 'a/b', '..', '.hidden', '', 'x'.repeat(65), 'NUL']) {
        const letter = forSink(syntheticDocumentReferenceLetter(), { messageHeaderId: id });
        expect(await sink.handOver(letter), JSON.stringify(id)).to.deep.equal({ kind: 'answered', status: 422, itkCodes: [] });
      }
      expect(readdirSync(inbox).sort()).to.deep.equal(['filed', 'rejected']);
      expect(readdirSync(root)).to.deep.equal(['inbox']);
      expect(log.lines.join('')).not.to.include('escape');
    });

    it('refuses (422) a body that is not a JSON Bundle', async () => {
      const sink = await FolderSink.open({ inboxDir: inbox, logger: log.logger });
      for (const body of ['not json', '', '[]', 'null', '{"resourceType":"Patient"}', '{"resourceType":"Bundle","resourceType":"Bundle"}', '\u00ff']) {
        const letter = forSink(syntheticDocumentReferenceLetter(), { body: Buffer.from(body, 'latin1') });
        expect(await sink.handOver(letter), JSON.stringify(body)).to.deep.equal({ kind: 'answered', status: 422, itkCodes: [] });
      }
      expect(readdirSync(inbox).sort()).to.deep.equal(['filed', 'rejected']);
    });

    it('answers no-answer when the inbox is not writable, logging only the error code', async function () {
      if (runningAsRoot) this.skip(); // root ignores permissions
      const sink = await FolderSink.open({ inboxDir: inbox, logger: log.logger });
      chmodSync(inbox, 0o500);
      const letter = forSink(syntheticDocumentReferenceLetter({ nhsNumber: SENTINEL_NHS_NUMBER }));
      expect(await sink.handOver(letter)).to.deep.equal({ kind: 'no-answer' });
      chmodSync(inbox, 0o700);
      expect(readdirSync(inbox).sort()).to.deep.equal(['filed', 'rejected']);
      const warning = log.lines.map((l) => JSON.parse(l)).find((l) => l.level === 'warn');
      expect(warning).to.include({ errorCode: 'EACCES', messageHeaderId: letter.messageHeaderId });
      expect(log.lines.join('')).not.to.include(SENTINEL_NHS_NUMBER).and.not.to.include(inbox);

      expect(await sink.handOver(letter), 'stored once the folder is writable again').to.deep.equal({ kind: 'stored' });
    });

    it('answers no-answer when a write fails half-way, and removes its temp file', async () => {
      const sink = await FolderSink.open({ inboxDir: inbox, logger: log.logger });
      const letter = forSink(syntheticDocumentReferenceLetter());
      const id = letter.messageHeaderId;
      // A directory where the attachment must go: the temp file is written, then the rename fails (EISDIR), even for root.
      mkdirSync(join(inbox, `${id}.attachment.pdf`, 'occupied'), { recursive: true });
      expect(await sink.handOver(letter)).to.deep.equal({ kind: 'no-answer' });
      expect(readdirSync(inbox).sort(), 'no temp file, no Bundle').to.deep.equal([`${id}.attachment.pdf`, 'filed', 'rejected']);
      const warning = log.lines.map((l) => JSON.parse(l)).find((l) => l.level === 'warn');
      expect(warning?.errorCode).to.be.oneOf(['EISDIR', 'ENOTEMPTY', 'EEXIST']);

      rmSync(join(inbox, `${id}.attachment.pdf`), { recursive: true });
      expect(await sink.handOver(letter)).to.deep.equal({ kind: 'stored' });
      expect(readFileSync(join(inbox, `${id}.attachment.pdf`)).equals(PDF_BYTES)).to.equal(true);
    });
  });

  describe('FolderWatcher', () => {
    let watcher: FolderWatcher | undefined;
    afterEach(async () => {
      await watcher?.stop();
      watcher = undefined;
    });

    function watch(onOutcome: (outcome: FilingOutcome) => Promise<void>): FolderWatcher {
      watcher = new FolderWatcher({ practice: PRACTICE, inboxDir: inbox, pollIntervalMs: 20, logger: log.logger });
      watcher.start(onOutcome);
      return watcher;
    }

    function put(dir: string, name: string): void {
      mkdirSync(join(inbox, dir), { recursive: true });
      writeFileSync(join(inbox, dir, name), '{}');
    }

    it('reports letters the practice system moved to filed/ and rejected/ once each', async () => {
      const sink = await FolderSink.open({ inboxDir: inbox, logger: log.logger });
      const filed = forSink(syntheticDocumentReferenceLetter());
      const rejected = forSink(syntheticDocumentReferenceLetter());
      for (const [letter, dir] of [[filed, 'filed'], [rejected, 'rejected']] as const) {
        await sink.handOver(letter);
        for (const name of readdirSync(inbox).filter((n) => n.startsWith(letter.messageHeaderId))) renameSync(join(inbox, name), join(inbox, dir, name));
      }
      const seen: FilingOutcome[] = [];
      watch(recordInto(seen));
      await eventually('both outcomes', () => seen.length >= 2);
      // A later file proves at least one more full scan happened without repeats.
      put('filed', 'marker.bundle.json');
      await eventually('the marker', () => seen.some((o) => o.messageHeaderId === 'marker'));
      await watcher?.stop();
      expect(seen).to.deep.equal([
        { practice: PRACTICE, messageHeaderId: filed.messageHeaderId, outcome: 'filed' },
        { practice: PRACTICE, messageHeaderId: rejected.messageHeaderId, outcome: 'rejected' },
        { practice: PRACTICE, messageHeaderId: 'marker', outcome: 'filed' },
      ]);
    });

    it('ignores temp files, dot-files and unrelated files, and counts an attachment alone as the letter', async () => {
      for (const name of ['.a1.bundle.json.0a1b2c.tmp', 'a2.bundle.json.tmp', '.DS_Store', 'notes.txt', 'a3.json', '.hidden.bundle.json', 'a4.attachment.', 'only.attachment.pdf']) put('filed', name);
      put('rejected', 'Thumbs.db');
      const seen: FilingOutcome[] = [];
      watch(recordInto(seen));
      put('rejected', 'marker.bundle.json');
      await eventually('the marker', () => seen.some((o) => o.messageHeaderId === 'marker'));
      await watcher?.stop();
      expect(seen.map((o) => `${o.outcome}:${o.messageHeaderId}`)).to.deep.equal(['filed:only', 'rejected:marker']);
    });

    it('reports an id found in both folders as both, filed first', async () => {
      put('filed', 'both.bundle.json');
      put('rejected', 'both.bundle.json');
      const seen: FilingOutcome[] = [];
      watch(recordInto(seen));
      await eventually('both outcomes', () => seen.length >= 2);
      expect(seen.map((o) => o.outcome)).to.deep.equal(['filed', 'rejected']);
    });

    it('reports again an outcome whose onOutcome failed, and then no more', async () => {
      put('filed', 'flaky.bundle.json');
      let attempts = 0;
      const taken: string[] = [];
      watch((outcome) => {
        if (outcome.messageHeaderId === 'flaky' && ++attempts === 1) return Promise.reject(new Error('courier is away'));
        taken.push(outcome.messageHeaderId);
        return Promise.resolve();
      });
      await eventually('the retry', () => taken.includes('flaky'));
      put('filed', 'marker.bundle.json');
      await eventually('the marker', () => taken.includes('marker'));
      await watcher?.stop();
      expect(attempts).to.equal(2);
      expect(taken).to.deep.equal(['flaky', 'marker']);
      expect(log.lines.filter((l) => l.includes('will report it again'))).to.have.length(1);
    });

    it('logs a missing folder once, keeps polling, and picks it up when it appears', async () => {
      mkdirSync(inbox);
      const seen: FilingOutcome[] = [];
      watch(recordInto(seen));
      await eventually('both folders reported missing', () => log.lines.filter((l) => l.includes('ENOENT')).length >= 2);
      put('filed', 'marker.bundle.json');
      await eventually('the marker', () => seen.length === 1);
      await watcher?.stop(); // the scan that found the marker read rejected/ again
      const lines = log.lines.map((l) => JSON.parse(l));
      expect(lines.filter((l) => l.message === 'cannot read the filed folder; will keep trying')).to.have.length(1);
      expect(lines.filter((l) => l.message === 'cannot read the rejected folder; will keep trying')).to.have.length(1);
      expect(lines.filter((l) => l.message === 'the filed folder can be read again')).to.have.length(1);
    });

    it('stop() waits for the running scan and is idempotent', async () => {
      put('filed', 'slow.bundle.json');
      let release: () => void = () => undefined;
      const blocked = new Promise<void>((resolve) => (release = resolve));
      let called = false;
      watch(async () => {
        called = true;
        await blocked;
      });
      await eventually('the outcome to be offered', () => called);
      let stopped = false;
      const stopping = watcher!.stop().then(() => (stopped = true));
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(stopped, 'still waiting for onOutcome').to.equal(false);
      release();
      await stopping;
      expect(stopped).to.equal(true);
      await watcher!.stop();
    });
  });
});
