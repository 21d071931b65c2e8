/**
 * Protocol floor (part of `npm run bench`, run by bench/backlog.ts right after
 * the raw baseline). Not a test: a number to compare Courier against.
 *
 * What it measures: exactly the broker work DESIGN §3–§4 require per letter,
 * done with plain amqplib and nothing else — no Courier, no HTTP, no
 * database, no validation, no parsing — in this one process, on two
 * connections as in real life:
 *  - "Courier side": one confirm channel (Courier's one outbox publisher)
 *    with at most `amqp.maxInFlight` (Courier's default, 256) unconfirmed
 *    publishes, slots taken in call order, shared by letters and events. Per
 *    letter: a `received` status event and the letter (persistent, mandatory,
 *    `<p>.outbound` → `<p>.gp.<ODS>`, round-robin over the practices, the same
 *    8 KiB bodies as the raw baseline) published back to back; `dispatched`
 *    once the letter is confirmed. It consumes `<p>.inbound` with Courier's
 *    `amqp.prefetch` (128) and, per acknowledgement, publishes `delivered`
 *    (20013) or `filed` (30001) and acks the message once that event is
 *    confirmed (the event standing in for Courier's durable record).
 *  - "practice side": like test/support/practice-simulator.ts, each practice
 *    queue consumed on its own channel with prefetch 200; per letter a 20013
 *    ack, once confirmed a 30001 ack (the simulator's ack Bundles, built once
 *    per practice; persistent, mandatory, to `<p>.inbound` with the practice's
 *    ODS code, 512 unconfirmed at most), then the letter is acked.
 * Status events are small JSON (DESIGN §3's body), persistent, not mandatory,
 * to the topic exchange `<p>.events`, with no queue bound (as in the Courier
 * runs). The acks carry the ITK code in `type` and the letter's id in
 * `correlationId`, the floor's stand-in for reading the Bundle. Per letter
 * that is three queue messages (letter, two acks) and four confirmed event
 * publishes, so the floor can be at most about a third of the raw baseline.
 * Timed from the first publish until all 4 × N events are confirmed (the
 * last of them is, in practice, the N-th `filed`).
 *
 * Why: it is the ceiling any implementation of DESIGN's message contract can
 * reach on this broker and machine, so Courier's letters/s ÷ the floor's is
 * the share of that ceiling Courier keeps; the rest is what Courier's own
 * work (HTTP, validation, database, retries' bookkeeping) costs. The topology
 * is declared by Courier's declareTopology (set-up only, not timed), so the
 * queues have the same arguments as in the Courier runs; all of it (fresh
 * `randomPrefix()`) is deleted afterwards, also when the run fails.
 */
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import { declareTopology } from '../src/adapters/amqp/topology.js';
import type { OdsCode } from '../src/domain/ids.js';
import { topologyNames, type TopologyNames } from '../src/domain/topology-names.js';
import { loadConfig } from '../src/platform/config.js';
import { ackMessage } from '../test/fixtures/letters.js';
import { CONFIG_DIR, deleteBrokerEntities } from '../test/support/courier-harness.js';
import { randomPrefix, TEST_AMQP_URL } from '../test/support/rabbit.js';
import { paddedLetter } from './delivery.js';
import type { FloorResult } from './results.js';

/** The practice simulator's prefetch and ack window (test/support/practice-simulator.ts). */
const PRACTICE_PREFETCH = 200;
const PRACTICE_WINDOW = 512;
const EVENT: Options.Publish = { persistent: true, mandatory: false, contentType: 'application/json' };
const ACK: Options.Publish = { persistent: true, mandatory: true, contentType: 'application/fhir+json' };

type Fail = (error: unknown) => void;
/** Called once per status event the broker confirmed. */
type OnEvent = (state: string) => void;
/** `received`, `dispatched`, `delivered`, `filed`. */
const EVENTS_PER_LETTER = 4;

/**
 * Confirmed publishing on one channel with at most `size` unconfirmed
 * messages; slots go out in call order, and nothing is written while
 * amqplib's buffer waits for `drain`. Any nack rejects that publish.
 */
class ConfirmWindow {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private drained: Promise<void> | undefined;

  constructor(
    private readonly channel: ConfirmChannel,
    private readonly size: number,
  ) {}

  /** Resolves once the message is written, with its confirm (wrapped, so awaiting this does not wait for the broker). */
  async send(exchange: string, routingKey: string, body: Buffer, options: Options.Publish): Promise<{ confirmed: Promise<void> }> {
    if (this.inFlight < this.size && this.waiting.length === 0) this.inFlight++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over by release()
    while (this.drained !== undefined) await this.drained;
    const confirmed = new Promise<void>((resolve, reject) => {
      const written = this.channel.publish(exchange, routingKey, body, options, (error: unknown) => {
        this.release();
        if (error === null || error === undefined) resolve();
        else reject(error instanceof Error ? error : new Error('protocol floor: publish not confirmed'));
      });
      if (!written) this.drained ??= once(this.channel, 'drain').then(() => void (this.drained = undefined));
    });
    return { confirmed };
  }

  async publish(exchange: string, routingKey: string, body: Buffer, options: Options.Publish): Promise<void> {
    await (await this.send(exchange, routingKey, body, options)).confirmed;
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.inFlight--;
    else next();
  }
}

/** Opens a connection whose errors, and its channels' errors and returned messages, fail the run. */
async function open(name: string, fail: Fail): Promise<ChannelModel> {
  const connection = await connect(TEST_AMQP_URL, { clientProperties: { connection_name: name } });
  connection.on('error', fail);
  return connection;
}

function watch<C extends Channel>(channel: C, fail: Fail): C {
  channel.on('error', fail);
  channel.on('return', () => fail(new Error('protocol floor: the broker returned an unroutable message')));
  return channel;
}

const statusEvent = (id: string, state: string, previousState: string | null) =>
  Buffer.from(JSON.stringify({ trackingId: id, messageHeaderId: id, state, previousState, at: new Date().toISOString(), reason: null }));

/** The practice side: takes letters, answers 20013 then 30001 to `<p>.inbound`, acks each letter once both are confirmed. */
async function answerAsPractices(connection: ChannelModel, names: TopologyNames, practices: readonly string[], fail: Fail): Promise<void> {
  const acks = new ConfirmWindow(watch(await connection.createConfirmChannel(), fail), PRACTICE_WINDOW);
  for (const ods of practices) {
    const bundle = (code: string) => Buffer.from(JSON.stringify(ackMessage({ respondsTo: randomUUID(), code: 'ok', itkCodes: [code], senderOds: ods })));
    const [infrastructure, business] = [bundle('20013'), bundle('30001')];
    const channel = watch(await connection.createChannel(), fail);
    await channel.prefetch(PRACTICE_PREFETCH);
    await channel.consume(names.practiceQueue(ods as OdsCode), (letter: ConsumeMessage | null) => {
      if (letter === null) return fail(new Error(`protocol floor: consumer of ${ods} cancelled`));
      const correlationId = String(letter.properties.messageId);
      void (async () => {
        await acks.publish(names.inboundExchange, ods, infrastructure, { ...ACK, type: '20013', correlationId });
        await acks.publish(names.inboundExchange, ods, business, { ...ACK, type: '30001', correlationId });
        channel.ack(letter);
      })().catch(fail);
    });
  }
}

/** Courier's inbound side: per ack a `delivered` or `filed` event, the ack acked once it is confirmed. */
async function recordAcks(connection: ChannelModel, names: TopologyNames, publisher: ConfirmWindow, prefetch: number, onEvent: OnEvent, fail: Fail): Promise<void> {
  const channel = watch(await connection.createChannel(), fail);
  await channel.prefetch(prefetch);
  await channel.consume(names.inboundQueue, (ack: ConsumeMessage | null) => {
    if (ack === null) return fail(new Error('protocol floor: inbound consumer cancelled'));
    const [state, previous] = ack.properties.type === '30001' ? ['filed', 'delivered'] : ['delivered', 'dispatched'];
    void publisher.publish(names.events, `${state}.${ack.fields.routingKey}`, statusEvent(String(ack.properties.correlationId), state, previous), EVENT).then(() => {
      channel.ack(ack);
      onEvent(state);
    }, fail);
  });
}

/** Courier's outbound side: `received` and the letter back to back, `dispatched` once the letter is confirmed; at most `pace` letters/s when given; stops early when `stopped()`. */
async function sendLetters(publisher: ConfirmWindow, names: TopologyNames, practices: readonly string[], bodies: readonly Buffer[], letters: number, pace: number | undefined, stopped: () => boolean, onEvent: OnEvent, fail: Fail): Promise<void> {
  const sequences = practices.map(() => 0);
  const start = performance.now();
  for (let i = 0; i < letters && !stopped(); i++) {
    const due = pace === undefined ? 0 : start + (i * 1000) / pace - performance.now();
    if (due > 1) await sleep(due); // one letter at its time: a trickle, as Courier's letters come at its rate
    const p = i % practices.length;
    const [ods, body] = [practices[p] ?? '', bodies[p] ?? Buffer.alloc(0)];
    const [messageId, trackingId] = [randomUUID(), randomUUID()];
    const received = await publisher.send(names.events, `received.${ods}`, statusEvent(messageId, 'received', null), EVENT);
    void received.confirmed.then(() => onEvent('received'), fail);
    const headers = { 'x-courier-tracking-id': trackingId, 'x-courier-attempt': 1, 'x-courier-sequence': (sequences[p] = (sequences[p] ?? 0) + 1) };
    const letter = await publisher.send(names.outbound, ods, body, { persistent: true, mandatory: true, messageId, type: 'ITK003D', contentType: 'application/fhir+json', headers });
    void letter.confirmed
      .then(() => publisher.publish(names.events, `dispatched.${ods}`, statusEvent(messageId, 'dispatched', 'received'), EVENT))
      .then(() => onEvent('dispatched'), fail);
  }
}

/** CPU seconds used since the meter was started: the broker's processes and this one. */
export type CpuMeter = () => () => { rabbitmqSeconds: number; driverSeconds: number };

export interface FloorOptions {
  readonly letters: number;
  /** Bodies of about this size (paddedLetter's target). */
  readonly letterBytes: number;
  readonly practices: readonly string[];
  /** Gives `ratioToRaw`. */
  readonly rawPerSecond: number | undefined;
  /** Letters per second to send at, one at a time (default: as fast as the window allows). */
  readonly pacePerSecond?: number;
  /** Started at the first publish, read when the last event is confirmed. */
  readonly cpu?: CpuMeter;
}

/** Runs the floor: `letters` letters to `practices`, timed (and CPU-metered) from the first publish to the last confirmed event. */
export async function protocolFloor(options: FloorOptions): Promise<FloorResult> {
  const prefix = randomPrefix();
  const { amqp } = loadConfig({ configDir: CONFIG_DIR, env: { COURIER_AMQP_PREFIX: prefix } });
  const names = topologyNames(prefix);
  let fail: Fail = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined); // only raced against while the run is on
  let stopped = false;
  const abort = new AbortController();
  const connections: ChannelModel[] = [];
  try {
    const [courierSide, practiceSide] = [await open('bench-floor-courier', fail), await open('bench-floor-practice', fail)];
    connections.push(courierSide, practiceSide);
    const setup = await courierSide.createChannel();
    await declareTopology(setup, prefix, options.practices as OdsCode[], { deliveryLimit: amqp.deliveryLimit });
    await setup.close();
    const publisher = new ConfirmWindow(watch(await courierSide.createConfirmChannel(), fail), amqp.maxInFlight);
    const confirmed = new Map<string, number>();
    let events = 0;
    let finish: (at: number) => void = () => undefined;
    const allConfirmed = new Promise<number>((resolve) => (finish = resolve));
    const onEvent: OnEvent = (state) => {
      confirmed.set(state, (confirmed.get(state) ?? 0) + 1);
      if (++events === EVENTS_PER_LETTER * options.letters) finish(performance.now());
    };
    await recordAcks(courierSide, names, publisher, amqp.prefetch, onEvent, fail);
    await answerAsPractices(practiceSide, names, options.practices, fail);
    const bodies = options.practices.map((ods) => paddedLetter(ods, options.letterBytes));
    const timeout = sleep(120_000 + options.letters * 20, undefined, { ref: false, signal: abort.signal }).then(() => Promise.reject(new Error(`protocol floor: timed out; events confirmed: ${JSON.stringify(Object.fromEntries(confirmed))} of ${options.letters} letters`)));
    const stopMeter = options.cpu?.();
    const start = performance.now();
    const sending = sendLetters(publisher, names, options.practices, bodies, options.letters, options.pacePerSecond, () => stopped, onEvent, fail);
    const end = await Promise.race([sending.then(() => allConfirmed), failed, timeout]);
    const cpu = stopMeter?.();
    const seconds = (end - start) / 1000;
    const lettersPerSecond = options.letters / seconds;
    return {
      letters: options.letters,
      letterBytes: bodies[0]?.length ?? 0,
      practices: options.practices.length,
      maxInFlight: amqp.maxInFlight,
      prefetch: amqp.prefetch,
      practicePrefetch: PRACTICE_PREFETCH,
      seconds,
      lettersPerSecond,
      ratioToRaw: options.rawPerSecond === undefined ? null : lettersPerSecond / options.rawPerSecond,
      pacePerSecond: options.pacePerSecond ?? null,
      ...(cpu === undefined ? {} : { rabbitmqCpuMsPerLetter: (cpu.rabbitmqSeconds * 1000) / options.letters, driverCpuMsPerLetter: (cpu.driverSeconds * 1000) / options.letters }),
    };
  } finally {
    stopped = true;
    abort.abort();
    await Promise.allSettled(connections.map((c) => c.close()));
    await deleteBrokerEntities(prefix, { practices: options.practices }).catch((error: unknown) => console.error('protocol floor: broker cleanup failed', error));
  }
}
