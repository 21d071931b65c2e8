import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { startCourier, type FixedSettings, type RunningCourier } from '../../src/courier.js';
import { RabbitProbe, randomPrefix, TEST_AMQP_URL } from './rabbit.js';
import type { MessagePage, MessageStore } from '../../src/app/ports.js';

export const CONFIG_DIR = fileURLToPath(new URL('../../config', import.meta.url));

export { randomPrefix };

/**
 * Deletes the queues and exchanges a Courier declared under `prefix` on the
 * broker at `url` (default: the shared test broker), for `practices` (default:
 * the practices directory, as a Courier run as a child process declares them).
 */
export async function deleteBrokerEntities(prefix: string, options: { url?: string; practices?: readonly string[] } = {}): Promise<void> {
  const practices = options.practices ?? loadConfig({ configDir: CONFIG_DIR, env: { COURIER_AMQP_PREFIX: prefix } }).practices.map((p) => p.ods);
  const probe = await RabbitProbe.open(options.url ?? TEST_AMQP_URL);
  try {
    await probe.cleanup(prefix, practices);
  } finally {
    await probe.close();
  }
}

export interface TestCourier {
  readonly baseUrl: string;
  readonly courier: RunningCourier;
  readonly config: Config;
  /** Every log line written so far (JSON text). */
  readonly logs: string[];
  readonly prefix: string;
  stop(): Promise<void>;
}

/**
 * Starts a whole Courier in this process on a free port, with the embedded
 * store in a fresh temporary directory (or `databaseUrl`), a fresh AMQP
 * prefix, and every log line captured for assertions. `amqpUrl` points it at
 * another broker than the shared test node (a fault test's own node); `stop()`
 * removes its queues and exchanges from that same broker.
 */
export async function startTestCourier(options: { overrides?: unknown[]; databaseUrl?: string; amqpUrl?: string; fixed?: FixedSettings } = {}): Promise<TestCourier> {
  const dataDir = await mkdtemp(join(tmpdir(), 'courier-test-'));
  const prefix = randomPrefix();
  const config = loadConfig({
    configDir: CONFIG_DIR,
    env: {
      COURIER_HTTP_PORT: '0',
      COURIER_AMQP_PREFIX: prefix,
      COURIER_DATA_DIR: dataDir,
      ...(options.databaseUrl === undefined ? {} : { COURIER_DATABASE_URL: options.databaseUrl }),
      ...(options.amqpUrl === undefined ? {} : { COURIER_AMQP_URL: options.amqpUrl }),
    },
    overrides: [{ logging: { level: 'debug' } }, ...(options.overrides ?? [])],
  });
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const courier = await startCourier(config, createLogger({ level: 'debug', stream }), options.fixed);
  return {
    baseUrl: `http://127.0.0.1:${courier.port}`,
    courier,
    config,
    logs,
    prefix,
    stop: async () => {
      await courier.stop();
      await rm(dataDir, { recursive: true, force: true });
      await deleteBrokerEntities(prefix, { url: config.amqp.url, practices: config.practices.map((p) => p.ods) });
    },
  };
}

/** Every letter the store holds, read page by page (oldest first). */
export async function everyLetter(store: MessageStore): Promise<MessagePage['items']> {
  const letters: MessagePage['items'][number][] = [];
  let cursor: string | null = null;
  do {
    const page: MessagePage = await store.list({ limit: 500, ...(cursor === null ? {} : { cursor }) }, new Date());
    letters.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return letters;
}

/** How many letters are in each state, read page by page from the store. */
export async function stateCounts(store: MessageStore): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const item of await everyLetter(store)) counts.set(item.state, (counts.get(item.state) ?? 0) + 1);
  return counts;
}

/** POSTs a FHIR message; `body` may be an object (serialised) or exact bytes. */
export async function postMessage(
  baseUrl: string,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/fhir+json' },
): Promise<{ status: number; location: string | null; json: unknown; text: string }> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const res = await fetch(`${baseUrl}/fhir/$process-message`, { method: 'POST', headers, body: bytes });
  const text = await res.text();
  return { status: res.status, location: res.headers.get('location'), json: safeJson(text), text };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined; // not JSON: the caller's assertion on `json` will say so
  }
}
