/**
 * End-to-end delivery benchmark (`npx tsx bench/delivery.ts`, also part of
 * `npm run bench`). Not a test: numbers to compare between commits.
 *
 * A whole Courier in this process (test/support/courier-harness.ts) on a
 * fresh AMQP prefix, with a simulated practice system acking every letter
 * (20013, then 30001) for each practice in the default directory. `SENDERS`
 * concurrent senders POST `BENCH_LETTERS` letters of about 8 KiB, spread over
 * the practices; the run ends when every letter is `filed`. Reported:
 *  - end to end: letters / (last `filed` − first POST);
 *  - ingest: 202 answers per second over the sending phase, and POST latency;
 *  - time to filed: from each letter's 202 (seen here) to its `filed` history
 *    entry, p50 / p99 / max, and the median of each step on the way.
 *
 * Runs on PGlite (temporary data directory) and on PostgreSQL (a database of
 * its own on COURIER_TEST_DATABASE_URL's server, dropped afterwards).
 * Environment: BENCH_LETTERS (default 5000), BENCH_SENDERS (8),
 * BENCH_ENGINES (`pglite,postgres`), BENCH_RUNS (runs per engine, default 1).
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { HistoryEntry, MessageStore } from '../src/app/ports.js';
import type { TrackingId } from '../src/domain/ids.js';
import { syntheticDocumentReferenceLetter, type Letter } from '../test/fixtures/letters.js';
import { startTestCourier, stateCounts } from '../test/support/courier-harness.js';
import { createOwnDatabase, type OwnDatabase } from '../test/support/postgres.js';
import { PracticeSimulator } from '../test/support/practice-simulator.js';
import { captureLogger, RabbitProbe, TEST_AMQP_URL } from '../test/support/rabbit.js';

export type Engine = 'pglite' | 'postgres';

export interface DeliveryBenchOptions {
  readonly engine: Engine;
  readonly letters: number;
  readonly senders: number;
  /** Target size of each letter's JSON, in bytes. */
  readonly letterBytes?: number;
  /** Give up waiting for `filed` after this long. */
  readonly timeoutMs?: number;
}

export interface DeliveryBenchResult {
  readonly engine: Engine;
  readonly letters: number;
  readonly letterBytes: number;
  readonly endToEndPerSecond: number;
  readonly endToEndSeconds: number;
  readonly ingestPerSecond: number;
  readonly postMs: Percentiles;
  readonly toFiledMs: Percentiles;
  /** Medians of each step of a letter's way (ms): 202 → dispatched → delivered → filed. */
  readonly stepMedianMs: { readonly toDispatched: number; readonly toDelivered: number; readonly toFiled: number };
  /** Letters whose practice ack was applied before the relay recorded the publish (no `dispatched` entry); not in the step medians. */
  readonly overtaken: number;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** The practices of config/practices.json, which the harness loads by default. */
const PRACTICES = ['A81001', 'A81002', 'A81004', 'B82005', 'Y00001'];

/**
 * A synthetic DocumentReference letter whose JSON is `targetBytes` long (to
 * within 3 bytes): the attachment `data` is padded with random bytes, kept
 * valid base64 (a whole number of 4-character groups).
 */
export function paddedLetter(destination: string, targetBytes: number): Buffer {
  const letter: Letter = syntheticDocumentReferenceLetter({ destination });
  const attachment = letter.entry[1].resource.content[0].attachment as { data: string };
  attachment.data = '';
  const base = Buffer.byteLength(JSON.stringify(letter));
  const groups = Math.max(1, Math.floor((targetBytes - base) / 4));
  attachment.data = randomBytes(groups * 3).toString('base64');
  return Buffer.from(JSON.stringify(letter));
}

export async function deliveryBenchmark(options: DeliveryBenchOptions): Promise<DeliveryBenchResult> {
  const letterBytes = options.letterBytes ?? 8 * 1024;
  const database = options.engine === 'postgres' ? await createDatabase() : undefined;
  try {
    const courier = await startTestCourier({ ...(database === undefined ? {} : { databaseUrl: database.url }), overrides: [{ practices: PRACTICES.map((ods) => ({ ods, name: ods })) }] });
    try {
      const practice = await PracticeSimulator.start({ url: TEST_AMQP_URL, prefix: courier.prefix, practices: PRACTICES, logger: captureLogger().logger });
      try {
        const bodies = Array.from({ length: options.letters }, (_, i) => paddedLetter(PRACTICES[i % PRACTICES.length] ?? 'A81001', letterBytes));
        const sent = await send(courier.baseUrl, bodies, options.senders);
        await waitUntilSettled(courier.courier.store, options.letters, options.timeoutMs ?? 600_000);
        return await summarise(options, letterBytes, bodies, sent, courier.courier.store);
      } finally {
        await practice.stop();
      }
    } finally {
      await courier.stop().finally(() => deleteQueues(courier.prefix));
    }
  } finally {
    await database?.drop();
  }
}

interface Sent {
  readonly firstPostAt: number;
  readonly lastAnswerAt: number;
  /** Per letter: wall-clock ms when its 202 arrived. */
  readonly acceptedAt: Map<TrackingId, number>;
  readonly postMs: number[];
}

/** `senders` workers POST the bodies in order, each taking the next unsent one. */
async function send(baseUrl: string, bodies: readonly Buffer[], senders: number): Promise<Sent> {
  const acceptedAt = new Map<TrackingId, number>();
  const postMs: number[] = [];
  let next = 0;
  const firstPostAt = Date.now();
  const worker = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const body = bodies[i];
      if (body === undefined) break;
      const started = performance.now();
      const res = await fetch(`${baseUrl}/fhir/$process-message`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body });
      await res.arrayBuffer();
      const answeredAt = Date.now();
      postMs.push(performance.now() - started);
      const location = res.headers.get('location');
      if (res.status !== 202 || location === null) throw new Error(`letter ${i}: status ${res.status}`);
      acceptedAt.set(location.slice(location.lastIndexOf('/') + 1) as TrackingId, answeredAt);
    }
  };
  await Promise.all(Array.from({ length: senders }, worker));
  return { firstPostAt, lastAnswerAt: Date.now(), acceptedAt, postMs };
}

/** Polls the cheap open-letter gauge query until nothing is open and the outbox is empty. */
async function waitUntilSettled(store: MessageStore, letters: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await store.deliveryStats();
    if (stats.open.length === 0 && stats.outbox.dispatch === 0 && stats.outbox.event === 0) break;
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(stats.open.map((o) => [o.destination, o.state, o.count]))}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const counts = await stateCounts(store);
  if (counts.get('filed') !== letters || counts.size !== 1) throw new Error(`not all filed: ${JSON.stringify([...counts])}`);
}

async function summarise(options: DeliveryBenchOptions, letterBytes: number, bodies: readonly Buffer[], sent: Sent, store: MessageStore): Promise<DeliveryBenchResult> {
  const toFiled: number[] = [];
  const steps = { toDispatched: [] as number[], toDelivered: [] as number[], toFiled: [] as number[] };
  let lastFiled = 0;
  let overtaken = 0;
  for (const [trackingId, acceptedAt] of sent.acceptedAt) {
    const history = await store.history(trackingId);
    const at = (state: string) => history.find((h: HistoryEntry) => h.to === state)?.at.getTime();
    const filed = at('filed');
    if (filed === undefined) throw new Error(`letter ${trackingId} has no filed entry`);
    lastFiled = Math.max(lastFiled, filed);
    toFiled.push(filed - acceptedAt);
    // An ack can overtake the relay's own `published` commit (received → delivered): legal, counted apart.
    const dispatched = at('dispatched');
    const delivered = at('delivered');
    if (dispatched === undefined || delivered === undefined) {
      overtaken++;
      continue;
    }
    steps.toDispatched.push(dispatched - acceptedAt);
    steps.toDelivered.push(delivered - dispatched);
    steps.toFiled.push(filed - delivered);
  }
  const endToEndSeconds = (lastFiled - sent.firstPostAt) / 1000;
  const averageBytes = bodies.reduce((sum, b) => sum + b.length, 0) / bodies.length;
  return {
    engine: options.engine,
    letters: options.letters,
    letterBytes: Math.round(averageBytes || letterBytes),
    endToEndPerSecond: options.letters / endToEndSeconds,
    endToEndSeconds,
    ingestPerSecond: options.letters / ((sent.lastAnswerAt - sent.firstPostAt) / 1000),
    postMs: percentiles(sent.postMs),
    toFiledMs: percentiles(toFiled),
    stepMedianMs: { toDispatched: percentiles(steps.toDispatched).p50, toDelivered: percentiles(steps.toDelivered).p50, toFiled: percentiles(steps.toFiled).p50 },
    overtaken,
  };
}

function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}

/** The harness's stop() deletes them too; again here so a failing stop cannot leave them on the shared broker. */
async function deleteQueues(prefix: string): Promise<void> {
  const probe = await RabbitProbe.open(TEST_AMQP_URL);
  try {
    await probe.cleanup(prefix, PRACTICES);
  } finally {
    await probe.close();
  }
}

/** A database of the benchmark's own on the test server; `drop` removes it (and any connection left to it). */
export function createDatabase(): Promise<OwnDatabase> {
  return createOwnDatabase('courier_bench');
}

export function formatResult(r: DeliveryBenchResult): string {
  const ms = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${n.toFixed(0)} ms`);
  return [
    `delivery (${r.engine}, ${r.letters} letters of ${r.letterBytes} bytes, acked 20013 + 30001 by a simulated practice):`,
    `  end to end ${r.endToEndPerSecond.toFixed(0)} letters/s (${r.endToEndSeconds.toFixed(1)} s, first POST to last filed)`,
    `  ingest ${r.ingestPerSecond.toFixed(0)} letters/s (202s), POST p50 ${r.postMs.p50.toFixed(1)} ms, p99 ${r.postMs.p99.toFixed(1)} ms`,
    `  202 → filed p50 ${ms(r.toFiledMs.p50)}, p99 ${ms(r.toFiledMs.p99)}, max ${ms(r.toFiledMs.max)}`,
    `  step medians: 202 → dispatched ${ms(r.stepMedianMs.toDispatched)}, → delivered ${ms(r.stepMedianMs.toDelivered)}, → filed ${ms(r.stepMedianMs.toFiled)}${r.overtaken > 0 ? ` (${r.overtaken} letters acked before their publish was recorded)` : ''}`,
  ].join('\n');
}

/** Options from the environment (see the comment at the top). */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): { engines: Engine[]; letters: number; senders: number; runs: number } {
  const positive = (name: string, fallback: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
    return value;
  };
  const engines = (env['BENCH_ENGINES'] ?? 'pglite,postgres').split(',').map((e) => e.trim());
  for (const engine of engines) if (engine !== 'pglite' && engine !== 'postgres') throw new Error(`BENCH_ENGINES: unknown engine ${engine}`);
  return { engines: engines as Engine[], letters: positive('BENCH_LETTERS', 5000), senders: positive('BENCH_SENDERS', 8), runs: positive('BENCH_RUNS', 1) };
}

export async function runDeliveryBenchmarks(): Promise<void> {
  const { engines, letters, senders, runs } = optionsFromEnv();
  for (const engine of engines) {
    for (let run = 0; run < runs; run++) console.log(formatResult(await deliveryBenchmark({ engine, letters, senders })));
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await runDeliveryBenchmarks();
