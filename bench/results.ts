/**
 * The backlog benchmark's report (bench/backlog.ts): written whole to
 * `bench/results/<date>.json` and printed as a markdown table, the same table
 * the README's "Development" section shows.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Plain amqplib, one quorum queue: confirmed publishing and acked consuming at once. */
export interface RawResult {
  readonly messages: number;
  readonly messageBytes: number;
  readonly window: number;
  readonly seconds: number;
  readonly perSecond: number;
}

/**
 * Plain amqplib doing per letter the broker work DESIGN §3–§4 require (letter,
 * two acks, four confirmed status events) without Courier (bench/protocol-floor.ts):
 * the ceiling any implementation of the message contract reaches here.
 */
export interface FloorResult {
  readonly letters: number;
  readonly letterBytes: number;
  readonly practices: number;
  /** Unconfirmed publishes allowed on the Courier side's one confirm channel (Courier's `amqp.maxInFlight`). */
  readonly maxInFlight: number;
  /** Prefetch of the Courier side's inbound consumer (Courier's `amqp.prefetch`). */
  readonly prefetch: number;
  /** Prefetch of each practice queue's consumer (the practice simulator's). */
  readonly practicePrefetch: number;
  readonly seconds: number;
  /** Letters per second from the first publish until the last `filed` event was confirmed. */
  readonly lettersPerSecond: number;
  /** lettersPerSecond ÷ the raw broker baseline's msgs/s (null when raw was skipped). */
  readonly ratioToRaw: number | null;
  /** The rate letters were sent at, one at a time; null: as fast as the window allows (absent in results written before pacing existed). */
  readonly pacePerSecond?: number | null;
  /** CPU of every `beam.smp` process, and of the benchmark's own, per letter over the timed span (absent in results written before they were measured). */
  readonly rabbitmqCpuMsPerLetter?: number;
  readonly driverCpuMsPerLetter?: number;
}

/** Courier's own process over the measured span (first POST to all filed, or the offered period). */
export interface ProcessFigures {
  /** VmHWM at the end of the run (includes start-up, e.g. the schema compile). */
  readonly peakRssMiB: number;
  /** utime + stime over the span, as % of one core (200 % = both cores of this machine). */
  readonly cpuPercent: number;
  /** The benchmark's own process (senders, simulated practices) over the same span, same unit. */
  readonly driverCpuPercent: number;
  /**
   * The broker's and the database server's processes (every `beam.smp`, every
   * `postgres`) over the same span, same unit; absent in results written
   * before they were measured. Backends that exit during the span are missed,
   * Courier's pooled ones are not.
   */
  readonly rabbitmqCpuPercent?: number;
  readonly postgresCpuPercent?: number;
}

export interface BacklogResult {
  readonly engine: string;
  readonly letters: number;
  readonly senders: number;
  readonly seconds: number;
  readonly lettersPerSecond: number;
  /** lettersPerSecond ÷ the raw broker baseline's msgs/s (null when raw was skipped). */
  readonly ratioToRaw: number | null;
  /** lettersPerSecond ÷ the protocol floor's letters/s (absent in results written before the floor existed; null when it was skipped). */
  readonly ratioToFloor?: number | null;
  /** 202 answers per second over the sending phase. */
  readonly ingestPerSecond: number;
  readonly ingestMs: Percentiles;
  readonly toFiledMs: Percentiles;
  /** Letters whose history was fetched for `toFiledMs` (an even sample when it is less than `letters`). */
  readonly toFiledSample: number;
  readonly process: ProcessFigures;
}

export interface OpenLoopResult {
  readonly engine: string;
  readonly offeredPerSecond: number;
  readonly seconds: number;
  readonly offered: number;
  readonly answered: number;
  /** Anything but a 202 (status code, or `error`/`timeout`) → count. */
  readonly failed: Readonly<Record<string, number>>;
  /** How far the sending loop fell behind its schedule at worst: large values mean the driver, not Courier, limited the rate. */
  readonly maxSendLagMs: number;
  /** From each request's scheduled send time to its 202 (answered ones only). */
  readonly ingestMs: Percentiles;
  readonly process: ProcessFigures;
}

export interface BenchReport {
  readonly date: string;
  readonly command: string;
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly memoryGiB: number; readonly loadAverage1m: number; readonly node: string; readonly rabbitmq: string; readonly postgres: string };
  readonly letterBytes: number;
  readonly durationSeconds: number;
  readonly raw: RawResult | null;
  /** Absent in results written before the floor existed; null when it was skipped. */
  readonly floor?: FloorResult | null;
  /**
   * The floor again, paced at Courier's letters/s on PostgreSQL, so the
   * broker's CPU per letter can be compared at the same rate: RabbitMQ
   * spends far more per message on a trickle than at full speed. Absent in
   * older results; null when the floor or the PostgreSQL run was skipped.
   */
  readonly pacedFloor?: FloorResult | null;
  readonly backlog: readonly BacklogResult[];
  readonly openLoop: readonly OpenLoopResult[];
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: sorted.at(-1) ?? Number.NaN };
}

/** Writes the report to bench/results/<YYYY-MM-DD>.json, or <YYYY-MM-DD>.N.json when that day already has one; returns the path. */
export async function writeResults(report: BenchReport): Promise<string> {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  // A day's first run is <date>.json, later ones <date>.2.json, <date>.3.json …: consecutive runs are all kept.
  const day = report.date.slice(0, 10);
  for (let n = 1; ; n++) {
    const path = `${dir}${day}${n === 1 ? '' : `.${n}`}.json`;
    try {
      await writeFile(path, `${JSON.stringify(report, null, 2)}\n`, { flag: 'wx' });
      return path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

const ms = (n: number) => (Number.isNaN(n) ? '–' : n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${n.toFixed(n < 10 ? 1 : 0)} ms`);
const rate = (n: number) => n.toFixed(n < 100 ? 1 : 0);
const proc = (p: ProcessFigures) => `${p.peakRssMiB.toFixed(0)} MiB | ${p.cpuPercent.toFixed(0)} % (driver ${p.driverCpuPercent.toFixed(0)} %)`;

/**
 * Where each letter's CPU went: every process's CPU over the run divided by
 * the letters — a figure that, unlike letters/s, does not depend on how the
 * processes wait for each other, so it compares changes in one part.
 */
function cpuPerLetter(b: BacklogResult): string | undefined {
  const p = b.process;
  if (p.postgresCpuPercent === undefined || p.rabbitmqCpuPercent === undefined) return undefined;
  const msPerLetter = (percent: number) => cpuMsPerLetter(b, percent);
  const parts: [string, number][] = [['Courier', p.cpuPercent], ['PostgreSQL', p.postgresCpuPercent], ['RabbitMQ', p.rabbitmqCpuPercent], ['driver', p.driverCpuPercent]];
  const total = parts.reduce((sum, [, percent]) => sum + msPerLetter(percent), 0);
  return `${parts.map(([name, percent]) => `${name} ${msPerLetter(percent).toFixed(2)}`).join(', ')}; all ${total.toFixed(2)}`;
}

/** A process's CPU over a closed-loop run (percent of one core) as milliseconds per letter filed. */
function cpuMsPerLetter(b: BacklogResult, percent: number): number {
  return ((percent / 100) * b.seconds * 1000) / b.letters;
}

/** RabbitMQ's CPU per letter in the floor at full speed, in the floor paced at Courier's rate, and in Courier's PostgreSQL run; undefined without the floor's figures. */
function rabbitmqCpuComparison(report: BenchReport): string | undefined {
  const [floor, paced] = [report.floor?.rabbitmqCpuMsPerLetter, report.pacedFloor?.rabbitmqCpuMsPerLetter];
  if (floor === undefined) return undefined;
  const parts = [`protocol floor ${floor.toFixed(2)} at full speed`];
  const pace = report.pacedFloor?.pacePerSecond;
  if (paced !== undefined && pace !== undefined && pace !== null) parts.push(`${paced.toFixed(2)} paced at ${pace.toFixed(0)} letters/s (Courier postgres's rate)`);
  const courier = report.backlog.find((b) => b.engine === 'postgres');
  if (courier?.process.rabbitmqCpuPercent !== undefined) parts.push(`Courier postgres ${cpuMsPerLetter(courier, courier.process.rabbitmqCpuPercent).toFixed(2)}`);
  return `RabbitMQ CPU per letter (ms): ${parts.join('; ')}.`;
}

/**
 * The report as markdown: a machine line, the closed-loop table (with the raw
 * baseline and the protocol floor) and, when both Courier rows and the floor
 * are there, a line with Courier's × floor; then the open-loop table.
 */
export function markdownTable(report: BenchReport): string {
  const m = report.machine;
  const lines = [
    `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB (load average ${m.loadAverage1m.toFixed(1)} before the run), Node ${m.node}, RabbitMQ ${m.rabbitmq}, PostgreSQL ${m.postgres}; letters of ${report.letterBytes} bytes.`,
    '',
    '| run | msgs or letters/s | × raw | ingest (202) p50 / p99 | 202 → filed p50 / p99 | Courier peak RSS | Courier CPU (1 core = 100 %) |',
    '|---|---:|---:|---|---|---:|---:|',
  ];
  const raw = report.raw;
  if (raw !== null) lines.push(`| raw broker: ${raw.messages} msgs, confirms (window ${raw.window}) + acked consume, quorum queue | ${rate(raw.perSecond)} | 1 | – | – | – | – |`);
  const floor = report.floor ?? null;
  if (floor !== null) {
    const ratio = floor.ratioToRaw === null ? '–' : floor.ratioToRaw.toFixed(3);
    lines.push(`| protocol floor: ${floor.letters} letters, plain amqplib, letter + 2 acks + 4 confirmed events each (window ${floor.maxInFlight}, prefetch ${floor.prefetch}) | ${rate(floor.lettersPerSecond)} | ${ratio} | – | – | – | – |`);
  }
  for (const b of report.backlog) {
    const ratio = b.ratioToRaw === null ? '–' : b.ratioToRaw.toFixed(3);
    const sample = b.toFiledSample < b.letters ? ` (${b.toFiledSample} sampled)` : '';
    lines.push(
      `| Courier ${b.engine}: ${b.letters} letters, ${b.senders} senders | ${rate(b.lettersPerSecond)} | ${ratio} | ${ms(b.ingestMs.p50)} / ${ms(b.ingestMs.p99)} | ${ms(b.toFiledMs.p50)} / ${ms(b.toFiledMs.p99)}${sample} | ${proc(b.process)} |`,
    );
  }
  const perLetter = report.backlog.flatMap((b) => (cpuPerLetter(b) === undefined ? [] : [`${b.engine}: ${cpuPerLetter(b)}`]));
  if (perLetter.length > 0) lines.push('', `CPU per letter filed (ms): ${perLetter.join('; ')}.`);
  const brokerCpu = rabbitmqCpuComparison(report);
  if (brokerCpu !== undefined) lines.push('', brokerCpu);
  const toFloor = report.backlog.flatMap((b) => (b.ratioToFloor === undefined || b.ratioToFloor === null ? [] : [`${b.engine} ${b.ratioToFloor.toFixed(3)}`]));
  if (toFloor.length > 0) lines.push('', `× protocol floor (Courier's letters/s ÷ the floor's): ${toFloor.join(', ')}.`);
  if (report.openLoop.length > 0) {
    lines.push('', '| open loop | offered | answered 202 | failed | max send lag | ingest p50 / p99 / p99.9 (from scheduled send) | Courier peak RSS | Courier CPU |', '|---|---:|---:|---|---:|---|---:|---:|');
    for (const o of report.openLoop) {
      const failed = Object.entries(o.failed).map(([why, n]) => `${n} × ${why}`).join(', ') || '0';
      lines.push(`| Courier ${o.engine}: ${o.offeredPerSecond}/s for ${o.seconds} s | ${o.offered} | ${o.answered} | ${failed} | ${ms(o.maxSendLagMs)} | ${ms(o.ingestMs.p50)} / ${ms(o.ingestMs.p99)} / ${ms(o.ingestMs.p999)} | ${proc(o.process)} |`);
    }
  }
  return lines.join('\n');
}
