/**
 * Backlog benchmark (part of `npm run bench`; issue 7's measuring harness).
 * Not a test: numbers to compare between commits. In one run:
 *  1. raw broker baseline: plain amqplib, N letter-sized persistent messages
 *     published with confirms (a window of WINDOW in flight) into a quorum
 *     queue while a second connection consumes and acks them; msgs/s from the
 *     first publish to the last message consumed — the most the broker moves
 *     one way here;
 *  2. the protocol floor (bench/protocol-floor.ts): plain amqplib doing per
 *     letter exactly the broker work DESIGN §3–§4 require (the letter, two
 *     acks, four confirmed status events) with Courier's window and prefetch
 *     and no Courier — the most any implementation of the contract gets
 *     here; Courier's letters/s ÷ the floor's is the share it keeps;
 *  3. per store (PGlite in a temp dir; PostgreSQL in a database of its own,
 *     dropped after), Courier as a child process (`npm start`'s way) with the
 *     default practice directory and a simulated practice system (in this
 *     process) answering 20013 then 30001: BENCH_SENDERS closed-loop clients
 *     POST N letters, measured until every letter is `filed` (polling each
 *     practice's reconciliation API every POLL_MS once the practices have them all);
 *  4. per store, an open loop on a fresh Courier: BENCH_RATE letters/s for
 *     BENCH_SECONDS, each sent at its scheduled time whether or not earlier
 *     ones were answered, latency counted from that time (no coordinated
 *     omission); a request unanswered OPEN_LOOP_TIMEOUT_MS after its time fails.
 *  5. the protocol floor again, paced at Courier's letters/s on PostgreSQL
 *     for PACED_FLOOR_SECONDS, for RabbitMQ's CPU per letter at Courier's
 *     rate (a trickle costs the broker several times more per message than
 *     full speed, so Courier's RabbitMQ figure is compared with this one).
 * Environment: BENCH_LETTERS (N, default 53000), BENCH_SENDERS (8),
 * BENCH_ENGINES (`pglite,postgres`), BENCH_RATE (500), BENCH_SECONDS (60),
 * BENCH_SKIP (any of `raw,floor,backlog,openloop`), BENCH_COURIER_NODE_ARGS
 * (node options for the Courier child only, space-separated, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it), BENCH_DEBUG (print
 * Courier's outbox depth and open letters when the last 202 came: which
 * stage lags). Every queue, database, temp
 * dir and child process it makes is removed again, also when a run fails.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type ConsumeMessage } from 'amqplib';
import pg from 'pg';
import { createLogger } from '../src/platform/logger.js';
import { deleteBrokerEntities } from '../test/support/courier-harness.js';
import { spawnCourier } from '../test/support/courier-process.js';
import { TEST_DATABASE_URL } from '../test/support/postgres.js';
import { PracticeSimulator } from '../test/support/practice-simulator.js';
import { randomPrefix, TEST_AMQP_URL } from '../test/support/rabbit.js';
import { createDatabase, paddedLetter, type Engine } from './delivery.js';
import { protocolFloor } from './protocol-floor.js';
import { markdownTable, percentiles, writeResults, type BacklogResult, type BenchReport, type FloorResult, type OpenLoopResult, type ProcessFigures, type RawResult } from './results.js';

/** The practices of config/practices.json, the directory the child Courier loads by default. */
const PRACTICES = ['A81001', 'A81002', 'A81004', 'B82005', 'Y00001'];
const LETTER_BYTES = 8 * 1024;
const WINDOW = 2000;
const POLL_MS = 100;
const HISTORY_SAMPLE = 5000;
/** Letters sent and filed through each fresh Courier before it is measured (JIT, pools, first queue pages). */
const WARM_UP = 200;
const OPEN_LOOP_TIMEOUT_MS = 30_000;
/** How long the floor paced at Courier's rate runs (at most N letters): long enough for a steady CPU figure. */
const PACED_FLOOR_SECONDS = 30;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const quiet = createLogger({ level: 'error', silent: true });

type Phase = 'raw' | 'floor' | 'backlog' | 'openloop';
export interface BacklogOptions {
  readonly letters: number;
  readonly senders: number;
  readonly engines: readonly Engine[];
  readonly rate: number;
  readonly seconds: number;
  readonly skip: ReadonlySet<Phase>;
}

export function backlogOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): BacklogOptions {
  const positive = (name: string, fallback: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
    return value;
  };
  const list = (name: string, fallback: string, allowed: readonly string[]) => {
    const items = (env[name] ?? fallback).split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const item of items) if (!allowed.includes(item)) throw new Error(`${name}: unknown ${item} (one of ${allowed.join(', ')})`);
    return items;
  };
  return {
    letters: positive('BENCH_LETTERS', 53_000),
    senders: positive('BENCH_SENDERS', 8),
    engines: list('BENCH_ENGINES', 'pglite,postgres', ['pglite', 'postgres']) as Engine[],
    rate: positive('BENCH_RATE', 500),
    seconds: positive('BENCH_SECONDS', 60),
    skip: new Set(list('BENCH_SKIP', '', ['raw', 'floor', 'backlog', 'openloop']) as Phase[]),
  };
}

/** Plain amqplib on a quorum queue of its own (deleted after): confirmed publishing and acked consuming at once. */
export async function rawBaseline(messages: number, body: Buffer): Promise<RawResult> {
  const queue = `${randomPrefix()}.raw`;
  const [producer, consumer] = [await connect(TEST_AMQP_URL), await connect(TEST_AMQP_URL)];
  for (const c of [producer, consumer]) c.on('error', () => undefined); // failures surface through the calls below
  try {
    const setup = await producer.createChannel();
    await setup.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const sub = await consumer.createChannel();
    await sub.prefetch(WINDOW);
    let consumed = 0;
    const allConsumed = new Promise<number>((resolve) => {
      void sub.consume(queue, (m: ConsumeMessage | null) => {
        if (m === null) return;
        sub.ack(m);
        if (++consumed === messages) resolve(performance.now());
      });
    });
    const pub = await producer.createConfirmChannel();
    let inFlight = 0;
    let nacked = 0;
    let freed: (() => void) | undefined;
    const start = performance.now();
    for (let i = 0; i < messages; i++) {
      while (inFlight >= WINDOW) await new Promise<void>((resolve) => (freed = resolve));
      inFlight++;
      const written = pub.sendToQueue(queue, body, { persistent: true, contentType: 'application/fhir+json' }, (err: unknown) => {
        if (err !== null && err !== undefined) nacked++;
        inFlight--;
        freed?.();
        freed = undefined;
      });
      if (!written) await new Promise((resolve) => pub.once('drain', resolve));
    }
    await pub.waitForConfirms();
    if (nacked > 0) throw new Error(`raw baseline: ${nacked} publishes nacked`);
    const end = await Promise.race([allConsumed, sleep(120_000 + messages * 10, Number.NaN, { ref: false })]);
    if (Number.isNaN(end)) throw new Error(`raw baseline: only ${consumed} of ${messages} consumed`);
    const seconds = (end - start) / 1000;
    await setup.deleteQueue(queue);
    return { messages, messageBytes: body.length, window: WINDOW, seconds, perSecond: messages / seconds };
  } finally {
    const cleaner = await producer.createChannel().catch(() => undefined);
    await cleaner?.deleteQueue(queue).catch(() => undefined); // already gone after a clean run
    await Promise.allSettled([producer.close(), consumer.close()]);
  }
}

interface RunningCourier {
  readonly baseUrl: string;
  /** Letters already filed before the run (the warm-up). */
  readonly warmedUp: number;
  /** Distinct letters the simulated practices have received so far (in this process: free to ask). */
  received(): number;
  /** Reads Courier's CPU and peak RSS from /proc over a span that starts now. */
  meter(): () => ProcessFigures;
  /** Rejects if the child exits before the run is over. */
  readonly died: Promise<never>;
}

/** Courier as a child process on `engine` with a simulated practice system; everything it made is removed after `fn`. */
async function withCourier<T>(engine: Engine, fn: (courier: RunningCourier) => Promise<T>): Promise<T> {
  const prefix = randomPrefix();
  const dataDir = await mkdtemp(join(tmpdir(), 'courier-backlog-'));
  let database: Awaited<ReturnType<typeof createDatabase>> | undefined;
  let child: Awaited<ReturnType<typeof spawnCourier>> | undefined;
  let practice: PracticeSimulator | undefined;
  try {
    if (engine === 'postgres') database = await createDatabase();
    const nodeArgs = (process.env['BENCH_COURIER_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
    child = await spawnCourier(
      {
        COURIER_AMQP_PREFIX: prefix,
        COURIER_DATA_DIR: dataDir,
        ...(database === undefined ? {} : { COURIER_DATABASE_URL: database.url }),
      },
      120_000,
      nodeArgs,
    );
    const { baseUrl, child: { pid } } = child;
    if (pid === undefined) throw new Error('Courier child has no pid');
    const output = keepTail(child.child);
    const died = child.exited.then((code) => Promise.reject(new Error(`Courier exited (${code}) during the run:\n${output.tail()}`)));
    died.catch(() => undefined); // only raced against while a run is on
    practice = await PracticeSimulator.start({ url: TEST_AMQP_URL, prefix, practices: PRACTICES, logger: quiet, prefetch: 200 });
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    await Promise.all(letters(WARM_UP).map((body) => post(agent, baseUrl, body)));
    agent.destroy();
    await Promise.race([waitAllFiled(baseUrl, WARM_UP, 120_000), died]);
    const simulator = practice;
    const result = await fn({ baseUrl, warmedUp: WARM_UP, received: () => simulator.distinct, meter: () => meter(pid), died });
    if (output.problems() > 0) console.log(`  (Courier logged ${output.problems()} warn/error lines; last output:\n${output.tail().slice(-2000)})`);
    return result;
  } finally {
    await practice?.stop().catch((error: unknown) => console.error('practice simulator stop failed', error));
    if (child !== undefined) {
      child.child.kill('SIGTERM');
      if ((await Promise.race([child.exited, sleep(20_000, 'timeout', { ref: false })])) === 'timeout') child.child.kill('SIGKILL');
      await child.exited;
    }
    await deleteBrokerEntities(prefix, { practices: PRACTICES }).catch((error: unknown) => console.error('broker cleanup failed', error));
    await rm(dataDir, { recursive: true, force: true });
    await database?.drop();
  }
}

/** Replaces spawnCourier's whole-output buffer (tens of MB over a long run) with the last 16 KiB and a count of warn/error lines. */
function keepTail(child: ChildProcess): { tail(): string; problems(): number } {
  let text = '';
  let problems = 0;
  for (const stream of [child.stdout, child.stderr]) {
    stream?.removeAllListeners('data');
    stream?.on('data', (chunk: Buffer) => {
      const s = chunk.toString('utf8');
      problems += s.split('"level":"error"').length + s.split('"level":"warn"').length - 2;
      text = (text + s).slice(-16_384);
    });
  }
  return { tail: () => text, problems: () => problems };
}

function meter(pid: number): () => ProcessFigures {
  const [startTicks, startServers, startWall, startDriver] = [processTicks(pid), serverTicks(), performance.now(), process.cpuUsage()];
  return () => {
    const seconds = (performance.now() - startWall) / 1000;
    const percent = (ticks: number) => (ticks / CLOCK_TICKS / seconds) * 100;
    const driver = process.cpuUsage(startDriver);
    const servers = serverTicks();
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return {
      peakRssMiB: Number(hwm?.[1] ?? Number.NaN) / 1024,
      cpuPercent: percent(processTicks(pid) - startTicks),
      driverCpuPercent: ((driver.user + driver.system) / 1e6 / seconds) * 100,
      rabbitmqCpuPercent: percent(servers.rabbitmq - startServers.rabbitmq),
      postgresCpuPercent: percent(servers.postgres - startServers.postgres),
    };
  };
}

/** utime + stime of one process, in clock ticks (0 once it is gone). */
function processTicks(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state): utime is 14, stime 15
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** The floor's CpuMeter: every `beam.smp` process's CPU and this process's own. */
function brokerAndDriverCpu(): () => { rabbitmqSeconds: number; driverSeconds: number } {
  const [startBroker, startDriver] = [serverTicks().rabbitmq, process.cpuUsage()];
  return () => {
    const driver = process.cpuUsage(startDriver);
    return { rabbitmqSeconds: (serverTicks().rabbitmq - startBroker) / CLOCK_TICKS, driverSeconds: (driver.user + driver.system) / 1e6 };
  };
}

/**
 * CPU ticks of the broker (`beam.smp`) and the database server (`postgres`)
 * processes alive now. A backend that exits between two readings takes its
 * ticks with it, so the PostgreSQL figure is a lower bound (Courier's pooled
 * backends live through the run).
 */
function serverTicks(): { rabbitmq: number; postgres: number } {
  const sums = { rabbitmq: 0, postgres: 0 };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let name: string;
    try {
      name = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue; // exited while listing
    }
    if (name === 'beam.smp') sums.rabbitmq += processTicks(entry);
    else if (name === 'postgres') sums.postgres += processTicks(entry);
  }
  return sums;
}

interface Answer {
  readonly status: number;
  readonly location: string | undefined;
}

/** POST to `$process-message` through `agent`; rejects with a `timeout` error when `timeoutMs` passes first. */
function post(agent: Agent, baseUrl: string, body: Buffer, timeoutMs = 600_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}/fhir/$process-message`, { method: 'POST', agent, headers: { 'content-type': 'application/fhir+json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })), Math.max(0, timeoutMs));
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(body);
  });
}

const letters = (n: number) => Array.from({ length: n }, (_, i) => paddedLetter(PRACTICES[i % PRACTICES.length] ?? 'A81001', LETTER_BYTES));

async function closedLoop(courier: RunningCourier, engine: Engine, options: BacklogOptions, rawPerSecond: number | undefined, floorPerSecond: number | undefined): Promise<BacklogResult> {
  const bodies = letters(options.letters);
  const agent = new Agent({ keepAlive: true, maxSockets: options.senders });
  const accepted: { location: string; at: number }[] = [];
  const ingestMs: number[] = [];
  const stop = courier.meter();
  const firstPostAt = Date.now();
  let next = 0;
  const sender = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const started = performance.now();
      const answer = await post(agent, courier.baseUrl, bodies[i] ?? Buffer.alloc(0));
      ingestMs.push(performance.now() - started);
      if (answer.status !== 202 || answer.location === undefined) throw new Error(`letter ${i}: status ${answer.status}`);
      accepted.push({ location: answer.location, at: Date.now() });
    }
  };
  await Promise.race([Promise.all(Array.from({ length: options.senders }, sender)), courier.died]);
  const lastAnswerAt = Date.now();
  if (process.env['BENCH_DEBUG'] !== undefined) {
    const text = await (await fetch(`${courier.baseUrl}/metrics`)).text();
    console.log(text.split('\n').filter((l) => /^courier_(outbox_depth|open_letters)/.test(l) && !l.endsWith(' 0')).join('\n'));
  }
  agent.destroy();
  // Courier's reconciliation counts a practice's letters in the database: asked only once the practices have them all, so polling does not load the run.
  const total = courier.warmedUp + options.letters;
  const timeoutMs = 120_000 + options.letters * 50;
  await Promise.race([waitFor(() => courier.received() >= total, timeoutMs), courier.died]);
  const allFiledAt = await Promise.race([waitAllFiled(courier.baseUrl, total, timeoutMs), courier.died]);
  const figures = stop();
  const seconds = (allFiledAt - firstPostAt) / 1000;
  const lettersPerSecond = options.letters / seconds;
  const sample = accepted.filter((_, i) => i % Math.ceil(accepted.length / HISTORY_SAMPLE) === 0);
  return {
    engine,
    letters: options.letters,
    senders: options.senders,
    seconds,
    lettersPerSecond,
    ratioToRaw: rawPerSecond === undefined ? null : lettersPerSecond / rawPerSecond,
    ratioToFloor: floorPerSecond === undefined ? null : lettersPerSecond / floorPerSecond,
    ingestPerSecond: options.letters / ((lastAnswerAt - firstPostAt) / 1000),
    ingestMs: percentiles(ingestMs),
    toFiledMs: percentiles(await toFiled(courier.baseUrl, sample)),
    toFiledSample: sample.length,
    process: figures,
  };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

/** Polls every practice's reconciliation until all `letters` are filed; returns when that poll started (epoch ms). */
async function waitAllFiled(baseUrl: string, letters: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const polledAt = Date.now();
    const counts = await Promise.all(PRACTICES.map(async (ods) => (await (await fetch(`${baseUrl}/api/practices/${ods}/reconciliation`)).json()) as { filed: number; rejected: number; escalated: number }));
    const sum = (key: 'filed' | 'rejected' | 'escalated') => counts.reduce((n, c) => n + c[key], 0);
    if (sum('rejected') + sum('escalated') > 0) throw new Error(`letters rejected (${sum('rejected')}) or escalated (${sum('escalated')})`);
    if (sum('filed') >= letters) return polledAt;
    if (Date.now() > deadline) throw new Error(`timed out: ${sum('filed')} of ${letters} filed`);
    await sleep(POLL_MS);
  }
}

/** 202 → `filed` history entry, per sampled letter, fetched by 8 concurrent readers. */
async function toFiled(baseUrl: string, sample: readonly { location: string; at: number }[]): Promise<number[]> {
  const result: number[] = [];
  let next = 0;
  const reader = async () => {
    for (let item = sample[next++]; item !== undefined; item = sample[next++]) {
      const detail = (await (await fetch(`${baseUrl}${item.location}`)).json()) as { history: { at: string; to: string }[] };
      const filed = detail.history.find((h) => h.to === 'filed');
      if (filed === undefined) throw new Error(`${item.location} has no filed entry`);
      result.push(Date.parse(filed.at) - item.at);
    }
  };
  await Promise.all(Array.from({ length: 8 }, reader));
  return result;
}

async function openLoop(courier: RunningCourier, engine: Engine, options: BacklogOptions): Promise<OpenLoopResult> {
  const bodies = letters(options.rate * options.seconds);
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 }); // beyond that, requests wait in the agent: still counted from their scheduled time
  const latencies: number[] = [];
  const failed: Record<string, number> = {};
  const fail = (why: string) => (failed[why] = (failed[why] ?? 0) + 1);
  const stop = courier.meter();
  const start = performance.now() + 50;
  const pending: Promise<void>[] = [];
  let sendLagMs = 0;
  for (const [i, body] of bodies.entries()) {
    const due = start + (i * 1000) / options.rate;
    if (due - performance.now() > 1) await sleep(due - performance.now());
    sendLagMs = Math.max(sendLagMs, performance.now() - due);
    pending.push(
      post(agent, courier.baseUrl, body, due + OPEN_LOOP_TIMEOUT_MS - performance.now()).then(
        (answer) => (answer.status === 202 ? void latencies.push(performance.now() - due) : void fail(String(answer.status))),
        // Named by the error's code (timeout, ECONNRESET, …) so a failure can be traced; 'error' when it has none.
        (error: unknown) => void fail(typeof (error as { code?: unknown }).code === 'string' ? String((error as { code: string }).code) : 'error'),
      ),
    );
  }
  await Promise.race([Promise.all(pending), courier.died]);
  agent.destroy();
  return { engine, offeredPerSecond: options.rate, seconds: options.seconds, offered: bodies.length, answered: latencies.length, failed, maxSendLagMs: sendLagMs, ingestMs: percentiles(latencies), process: stop() };
}

async function machineFacts(): Promise<BenchReport['machine']> {
  const connection = await connect(TEST_AMQP_URL);
  const loadAverage1m = loadavg()[0] ?? Number.NaN;
  const rabbitmq = String(connection.connection.serverProperties.version ?? 'unknown');
  await connection.close();
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
  await client.end();
  const cpu = cpus();
  return { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage1m, node: process.versions.node, rabbitmq, postgres: rows[0]?.server_version ?? 'unknown' };
}

/** The whole benchmark: runs the phases not skipped, writes bench/results/<date>.json, prints the table. */
export async function runBacklogBenchmarks(): Promise<BenchReport> {
  const options = backlogOptionsFromEnv();
  const machine = await machineFacts(); // before the run: the load average says what else was running
  const started = performance.now();
  const date = new Date().toISOString();
  const letterBytes = paddedLetter('A81001', LETTER_BYTES).length;
  const raw = options.skip.has('raw') ? null : await rawBaseline(options.letters, paddedLetter('A81001', LETTER_BYTES));
  if (raw !== null) console.log(`raw broker: ${raw.perSecond.toFixed(0)} msgs/s (${raw.messages} messages of ${raw.messageBytes} bytes, ${raw.seconds.toFixed(1)} s)`);
  const floorOptions = { letterBytes: LETTER_BYTES, practices: PRACTICES, rawPerSecond: raw?.perSecond, cpu: brokerAndDriverCpu };
  const floor = options.skip.has('floor') ? null : await protocolFloor({ ...floorOptions, letters: options.letters });
  if (floor !== null) console.log(`protocol floor: ${floor.lettersPerSecond.toFixed(0)} letters/s${floor.ratioToRaw === null ? '' : ` (${floor.ratioToRaw.toFixed(3)} × raw)`} (${floor.letters} letters of ${floor.letterBytes} bytes, ${floor.seconds.toFixed(1)} s)`);
  const backlog: BacklogResult[] = [];
  const openLoopResults: OpenLoopResult[] = [];
  for (const engine of options.engines) {
    if (!options.skip.has('backlog')) {
      backlog.push(await withCourier(engine, (c) => closedLoop(c, engine, options, raw?.perSecond, floor?.lettersPerSecond)));
      const ratio = backlog.at(-1)?.ratioToFloor;
      console.log(`backlog ${engine}: ${backlog.at(-1)?.lettersPerSecond.toFixed(1)} letters/s${ratio === undefined || ratio === null ? '' : ` (${ratio.toFixed(3)} × floor)`}`);
    }
    if (!options.skip.has('openloop')) {
      openLoopResults.push(await withCourier(engine, (c) => openLoop(c, engine, options)));
      console.log(`open loop ${engine}: ${openLoopResults.at(-1)?.answered} of ${options.rate * options.seconds} answered 202`);
    }
  }
  const postgres = backlog.find((b) => b.engine === 'postgres');
  let pacedFloor: FloorResult | null = null;
  if (floor !== null && postgres !== undefined) {
    const pace = postgres.lettersPerSecond;
    pacedFloor = await protocolFloor({ ...floorOptions, letters: Math.min(options.letters, Math.round(pace * PACED_FLOOR_SECONDS)), pacePerSecond: pace });
    console.log(`protocol floor paced at ${pace.toFixed(0)} letters/s: RabbitMQ ${pacedFloor.rabbitmqCpuMsPerLetter?.toFixed(2)} ms CPU per letter (${floor.rabbitmqCpuMsPerLetter?.toFixed(2)} at full speed)`);
  }
  const command = `${Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_')).map(([k, v]) => `${k}=${v}`).sort().join(' ')} npm run bench`.trim();
  const report: BenchReport = { date, command, machine, letterBytes, durationSeconds: (performance.now() - started) / 1000, raw, floor, pacedFloor, backlog, openLoop: openLoopResults };
  const path = await writeResults(report);
  console.log(`\n${markdownTable(report)}\n\n\`${command}\` (${report.durationSeconds.toFixed(0)} s); written to ${path}`);
  return report;
}
