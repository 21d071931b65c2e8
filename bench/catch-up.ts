/**
 * Catch-up after downtime (`npx tsx bench/catch-up.ts`): how long a Courier
 * that was stopped while every letter's filing deadline passed takes, once
 * started, to escalate them all (issue: "a Courier stopped for a day
 * escalates every overdue letter within a minute of starting"). Not a test.
 * BENCH_LETTERS (default 5000) letters to a practice that never answers,
 * deadlines of 2 s; the first run sweeps only at start-up, so none is
 * escalated before the stop. Embedded store (PGlite) in a temp directory.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCourier } from '../src/courier.js';
import { loadConfig } from '../src/platform/config.js';
import { createLogger } from '../src/platform/logger.js';
import { syntheticDocumentReferenceLetter } from '../test/fixtures/letters.js';
import { CONFIG_DIR, deleteBrokerEntities, postMessage, stateCounts } from '../test/support/courier-harness.js';
import { randomPrefix } from '../test/support/rabbit.js';

const total = Number(process.env['BENCH_LETTERS'] ?? 5000);
const senders = 8;
const dir = await mkdtemp(join(tmpdir(), 'courier-catch-up-'));
const prefix = randomPrefix();
const logger = createLogger({ level: 'error', silent: true });
const start = async (sweepInterval: string) => {
  const file = join(dir, `config-${sweepInterval}.json`);
  const timers = { delivery: { infrastructureAckTimeout: 'PT1H', sweepInterval }, deadlines: { ITK003D: 'PT2S' }, practices: [{ ods: 'A81001', name: 'Closed' }] };
  await writeFile(file, JSON.stringify(timers));
  return startCourier(loadConfig({ configDir: CONFIG_DIR, env: { COURIER_HTTP_PORT: '0', COURIER_AMQP_PREFIX: prefix, COURIER_DATA_DIR: join(dir, 'store'), COURIER_CONFIG: file } }), logger);
};

try {
  const first = await start('PT1H');
  let next = 0;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (next < total) {
        next++;
        const res = await postMessage(`http://127.0.0.1:${first.port}`, syntheticDocumentReferenceLetter());
        if (res.status !== 202) throw new Error(`POST answered ${res.status}`);
      }
    }),
  );
  await first.stop();
  await new Promise((resolve) => setTimeout(resolve, 2_500)); // every deadline passes while Courier is down
  const started = performance.now();
  const second = await start('PT1S');
  const ready = performance.now();
  for (;;) {
    if ((await stateCounts(second.store)).get('escalated') === total) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`catch-up (pglite): ${total} overdue letters escalated ${seconds.toFixed(1)} s after start (start-up ${((ready - started) / 1000).toFixed(1)} s), ${(total / seconds).toFixed(0)} letters/s`);
  await second.stop();
} finally {
  await rm(dir, { recursive: true, force: true });
  await deleteBrokerEntities(prefix, { practices: ['A81001'] });
}
